"""Query understanding: category intent on esci-us-150, synonyms on Home Depot dev (and esci).

Usage::

    python bench/query_understanding.py
        [--only intent|intent-clicks|intent-pseudo|synonyms-homedepot|synonyms-esci|latency|end-to-end]
        [--json bench/results/query_understanding.json]
        [--esci-index DIR] [--homedepot-index DIR]

Indexes: the default hybrid pipeline (BM25F + MiniLM), ``/work/cache/*-default`` when present
(``$SHOPMATCH_ESCI_INDEX`` / ``$SHOPMATCH_HOMEDEPOT_INDEX`` or the options override), else built
once into ``bench/data/query_understanding/`` (minutes for Home Depot).

1. **Intent accuracy** (esci-us-150): the intent model is trained from the catalog alone (the
   products' bi-encoder vectors and category paths), never from judgments. For each query with
   exact (``E``) matches, its category at level L is the most common level-L prefix among those
   products; top-1 / top-3 accuracy of the model's level-L predictions, per fold (the protocol's
   5 folds) and overall, against always predicting the catalog's most common category.
2. **Intent boost** (esci-us-150, retrieval mode): NDCG@10 / MRR@10 with ``[intent] weight`` in a
   grid (0 = no boost); *nested*: each fold's weight chosen by NDCG@10 on the four other folds and
   scored on that fold. The held-out figure is compared with no boost (paired, per query).
3. **Synonyms** (Home Depot dev = every 10th query id; esci-us-150 all 150): candidates mined from
   the catalog (``shopmatch synonyms mine``'s defaults, fixed before any evaluation) and accepted
   by a rule fixed in advance (every candidate the miner writes, i.e. its top 500); the weight
   chosen on Home Depot *train* queries (a fixed sample: every 8th train query id) from
   0.25 / 0.5 / 1.0, then dev measured once with it, against no synonyms. Home Depot has no
   categories: intent is skipped there (its rows with and without intent are the same search).
4. **Latency added**: each part's mean ms per query over the evaluated queries (sequential, after a
   warm-up), and the stages' own cost apart from the rest of the search (``latency``). Loaded
   machines give noisy figures: rerun on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SIGNIFICANCE_HEADERS,
    alternating_search_times,
    data_dir,
    machine_header,
    markdown_table,
    significance_columns,
    write_json,
)

from shopmatch.catalog import read_catalog  # noqa: E402
from shopmatch.eval.evaluator import evaluate_retrieval  # noqa: E402
from shopmatch.judgments import GainMap, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.query.intent import IntentConfig, IntentModel, candidate_intent_scores  # noqa: E402
from shopmatch.query.synonym_mining import mine_index, write_candidates  # noqa: E402
from shopmatch.query.synonyms import SynonymsConfig, expanded_terms  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE / "data" / "query_understanding"
HOMEDEPOT_GAINS = "offset=1,relevant>=2.5"
INTENT_WEIGHTS = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.04)
INTENT_TEMPERATURES = (0.05, 0.2)  # the default's, and softer probabilities (a smaller boost off the top category)
SYNONYM_WEIGHTS = (0.25, 0.5, 1.0)
ACCEPTED = 500  # the miner's default --limit: every candidate it writes is accepted
LEVELS = (1, 2, 3)
PARTS = ("intent", "intent-clicks", "intent-pseudo", "synonyms-homedepot", "synonyms-esci", "latency", "end-to-end")


def index_dir(name: str, option: str | None) -> Path:
    for candidate in (option, os.environ.get(f"SHOPMATCH_{name.upper().replace('-', '_')}_INDEX")):
        if candidate:
            return Path(candidate)
    cached = Path(f"/work/cache/{name}-default")
    return cached if (cached / "manifest.json").is_file() else WORK / f"{name}-index"


def loaded(directory: Path, products: Path) -> SearchPipeline:
    if not (directory / "manifest.json").is_file():
        print(f"building the default hybrid index of {products} into {directory} once", file=sys.stderr)
        SearchPipeline.build(read_catalog(products).products).save(directory)
    pipe = SearchPipeline.load(directory)
    pipe.search_ids(["warm up", "usb cable", "drill"], k=10)  # page the index in, start the encoder
    return pipe


def timed_eval(pipe: SearchPipeline, judged, gains) -> tuple[dict, float]:
    started = time.perf_counter()
    result = evaluate_retrieval(pipe, judged, gains)
    return result.per_query, (time.perf_counter() - started) * 1000 / max(len(judged.query_ids), 1)


def comparison_rows(base: dict, runs: dict[str, dict], metrics=("ndcg@10", "mrr@10")) -> list[list[str]]:
    rows = []
    for name, per_query in runs.items():
        for metric in metrics:
            a, b = base[metric], per_query[metric]
            keys = sorted(a)
            cells = significance_columns([a[k] for k in keys], [b[k] for k in keys])
            rows.append(
                [name, metric, f"{np.mean([a[k] for k in keys]):.4f}", f"{np.mean([b[k] for k in keys]):.4f}", *cells]
            )
    return rows


# ---- 1 + 2: intent on esci-us-150 -------------------------------------------------------------------


def bench_intent(directory: Path) -> dict:
    gains = GainMap.esci()
    judged = read_judgments(data_dir() / "esci-us-150" / "judgments.tsv", gains=gains)
    base = loaded(directory, data_dir() / "esci-us-150" / "products.jsonl")
    model = base.index.intent
    if model is None:
        print("\n> esci-us-150: the index has no intent model; skipped.\n")
        return {}
    folds = [[q for i, q in enumerate(judged.query_ids) if i % 5 == f] for f in range(5)]
    fold_of = {q: f for f, fold in enumerate(folds) for q in fold}
    dense = base.retrievers["dense"]
    snapshot = base.snapshot
    print(f"\n## Category intent, esci-us-150 ({len(model.paths)} categories over {model.depth} levels)\n")

    # accuracy
    hits = {level: {1: [], 3: []} for level in LEVELS}
    majority = {}
    all_paths = [tuple(snapshot.record(r).get("category") or ()) for r in range(len(base))]
    for level in LEVELS:
        counts = Counter(p[:level] for p in all_paths if len(p) >= level)
        majority[level] = counts.most_common(1)[0][0]
    per_level_queries = {level: [] for level in LEVELS}
    for q in judged.query_ids:
        exact = [r.product_id for r in judged.by_query[q] if r.label == "E"]
        rows = [row for row in base.snapshot.rows_of(exact) if row is not None]
        paths = [tuple(snapshot.record(row).get("category") or ()) for row in rows]
        vector = dense.prepare([judged.queries[q]])[0]
        if vector is None:
            continue
        for level in LEVELS:
            prefixes = Counter(p[:level] for p in paths if len(p) >= level)
            if not prefixes:
                continue
            truth = min(prefixes, key=lambda p: (-prefixes[p], p))
            predicted = [c.path for c in model.predict(vector, top=3, level=level)]
            hits[level][1].append((q, predicted[:1] == [truth]))
            hits[level][3].append((q, truth in predicted))
            per_level_queries[level].append((q, majority[level] == truth))
    accuracy_rows, accuracy = [], {}
    for level in LEVELS:
        overall = {k: float(np.mean([ok for _, ok in hits[level][k]])) for k in (1, 3)}
        by_fold = {
            k: [float(np.mean([ok for q, ok in hits[level][k] if fold_of[q] == f] or [0])) for f in range(5)]
            for k in (1, 3)
        }
        prior = float(np.mean([ok for _, ok in per_level_queries[level]]))
        accuracy[level] = {"top1": overall[1], "top3": overall[3], "folds": by_fold, "majority": prior,
                           "queries": len(hits[level][1])}  # fmt: skip
        accuracy_rows.append([
            str(level), str(len(hits[level][1])), f"{overall[1]:.3f}", f"{overall[3]:.3f}",
            ", ".join(f"{v:.2f}" for v in by_fold[1]), f"{prior:.3f}",
        ])  # fmt: skip
    print(markdown_table(
        ["level", "queries", "top-1", "top-3", "top-1 per fold", "most common category (top-1)"], accuracy_rows
    ))  # fmt: skip

    # boost: (weight, temperature) settings; weight 0 is no boost whatever the temperature
    settings = [(0.0, IntentConfig().temperature)]
    settings += [(w, t) for t in INTENT_TEMPERATURES for w in INTENT_WEIGHTS if w > 0]
    runs, ms = {}, {}
    for weight, temperature in settings:
        print(f"esci: intent weight {weight}, temperature {temperature}", file=sys.stderr)
        pipe = base.with_config(intent=IntentConfig(weight=weight, temperature=temperature))
        runs[weight, temperature], ms[weight, temperature] = timed_eval(pipe, judged, gains)
    none = settings[0]

    def fold_mean(setting, f, metric="ndcg@10"):
        return float(np.mean([runs[setting][metric][q] for q in folds[f]]))

    chosen, nested = [], {"ndcg@10": {}, "mrr@10": {}}
    for f in range(5):
        others = [g for g in range(5) if g != f]
        best = max(settings, key=lambda s: (np.mean([fold_mean(s, g) for g in others]), -s[0], -s[1]))
        chosen.append(best)
        for metric in nested:
            nested[metric].update({q: runs[best][metric][q] for q in folds[f]})
    grid_rows = [
        [f"{w:g}", f"{t:g}", f"{np.mean(list(runs[w, t]['ndcg@10'].values())):.4f}",
         f"{np.mean(list(runs[w, t]['mrr@10'].values())):.4f}", f"{ms[w, t]:.1f}"]
        for w, t in settings
    ]  # fmt: skip
    print("\nIntent boost grid, all 150 queries (in-sample: for reading, not for choosing):\n")
    print(markdown_table(["weight", "temperature", "NDCG@10", "MRR@10", "ms / query (loaded machine)"], grid_rows))
    print(f"\nNested choice per fold, (weight, temperature) by NDCG@10 on the other four folds: {chosen}\n")
    rows = comparison_rows(runs[none], {"boost, nested setting (held out)": nested})
    for weight in (0.01,):
        rows += comparison_rows(runs[none], {f"boost, weight {weight:g} (in-sample)": runs[weight, none[1]]})
    print(markdown_table(["system vs no boost", "metric", "no boost", "system", *SIGNIFICANCE_HEADERS], rows))
    grid = {
        f"{w:g}/{t:g}": {
            "ndcg@10": float(np.mean(list(runs[w, t]["ndcg@10"].values()))),
            "mrr@10": float(np.mean(list(runs[w, t]["mrr@10"].values()))),
            "ms_per_query": ms[w, t],
        }
        for w, t in settings
    }
    nested_means = {m: float(np.mean(list(v.values()))) for m, v in nested.items()}
    return {"accuracy": accuracy, "grid": grid, "nested": {"chosen": chosen, **nested_means}, "comparison": rows}


# ---- 3: synonyms -----------------------------------------------------------------------------------


def mined_file(name: str, base: SearchPipeline) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    candidates_path = WORK / f"{name}-candidates.txt"
    accepted_path = WORK / f"{name}-accepted.txt"
    if not accepted_path.is_file():
        print(f"{name}: mining synonym candidates from the catalog", file=sys.stderr)
        candidates = mine_index(base.index)[:ACCEPTED]
        write_candidates(candidates, candidates_path)
        # the acceptance rule fixed in advance: every candidate written is accepted (uncommented)
        accepted = [", ".join(c.phrases) for c in candidates]
        accepted_path.write_text("\n".join(accepted) + "\n", encoding="utf-8")
    return accepted_path


def bench_synonyms_homedepot(hd_directory: Path) -> dict:
    gains = GainMap.parse(HOMEDEPOT_GAINS)
    judged = read_judgments(data_dir() / "homedepot" / "judgments.tsv", gains=gains)
    dev_ids = judged.query_ids[::10]
    train_ids = [q for q in judged.query_ids if q not in set(dev_ids)][::8]
    dev, train = judged.subset(dev_ids), judged.subset(train_ids)
    base = loaded(hd_directory, data_dir() / "homedepot" / "products.jsonl")
    accepted = mined_file("homedepot", base)
    rules = sum(1 for line in accepted.read_text().splitlines() if line.strip())
    print(f"\n## Synonyms, Home Depot ({len(base):,} products; {rules} mined rules accepted by the fixed rule)\n")
    print(f"intent on Home Depot: {'none (no categories: skipped)' if base.index.intent is None else 'present'}\n")
    train_scores = {}
    print(f"homedepot train sample ({len(train_ids)} queries): no synonyms", file=sys.stderr)
    train_base, _ = timed_eval(base, train, gains)
    for weight in SYNONYM_WEIGHTS:
        print(f"homedepot train: synonyms weight {weight}", file=sys.stderr)
        pipe = base.with_config(synonyms=SynonymsConfig(file=str(accepted), weight=weight))
        per_query, _ = timed_eval(pipe, train, gains)
        train_scores[weight] = float(np.mean(list(per_query["ndcg@10"].values())))
    chosen = max(SYNONYM_WEIGHTS, key=lambda w: (train_scores[w], -w))
    baseline_train = float(np.mean(list(train_base["ndcg@10"].values())))
    print(markdown_table(
        ["synonym weight", "train-sample NDCG@10"],
        [["none", f"{baseline_train:.4f}"], *[[f"{w:g}", f"{s:.4f}"] for w, s in train_scores.items()]],
    ))  # fmt: skip
    print(f"\nChosen on train: weight {chosen:g}. Dev ({len(dev_ids)} queries), measured once:\n")
    dev_base, ms_base = timed_eval(base, dev, gains)
    pipe = base.with_config(synonyms=SynonymsConfig(file=str(accepted), weight=chosen))
    dev_syn, ms_syn = timed_eval(pipe, dev, gains)
    rows = comparison_rows(dev_base, {f"mined synonyms, weight {chosen:g}": dev_syn})
    print(markdown_table(["system vs default", "metric", "default", "system", *SIGNIFICANCE_HEADERS], rows))
    print(f"\nms / query (loaded machine): default {ms_base:.1f}, with synonyms {ms_syn:.1f}\n")
    train_table = {"none": baseline_train, **{str(w): s for w, s in train_scores.items()}}
    timing = {"default": ms_base, "synonyms": ms_syn}
    out = {"rules": rules, "train": train_table, "chosen": chosen, "dev": rows, "ms": timing}
    (WORK / "homedepot-synonyms.json").write_text(json.dumps(out, indent=2))
    return out


def chosen_synonym_weight() -> float:
    """The weight the Home Depot part chose on train (its cached result), else the default."""
    cached = WORK / "homedepot-synonyms.json"
    return json.loads(cached.read_text())["chosen"] if cached.is_file() else SynonymsConfig().weight


def bench_synonyms_esci(esci_directory: Path, chosen: float) -> dict:
    gains = GainMap.esci()
    judged = read_judgments(data_dir() / "esci-us-150" / "judgments.tsv", gains=gains)
    base = loaded(esci_directory, data_dir() / "esci-us-150" / "products.jsonl")
    accepted = mined_file("esci-us-150", base)
    rules = sum(1 for line in accepted.read_text().splitlines() if line.strip())
    print(
        f"\n## Synonyms, esci-us-150 (all 150 queries; {rules} mined rules; weight {chosen:g} from Home Depot train)\n"
    )
    plain, ms_base = timed_eval(base, judged, gains)
    pipe = base.with_config(synonyms=SynonymsConfig(file=str(accepted), weight=chosen))
    with_synonyms, ms_syn = timed_eval(pipe, judged, gains)
    no_intent = base.with_config(intent=IntentConfig(enabled=False))
    without_intent, ms_no_intent = timed_eval(no_intent, judged, gains)
    rows = comparison_rows(plain, {f"mined synonyms, weight {chosen:g}": with_synonyms})
    rows += comparison_rows(without_intent, {"default (intent predictions, no boost) vs intent off": plain})
    print(markdown_table(["system vs baseline", "metric", "baseline", "system", *SIGNIFICANCE_HEADERS], rows))
    print(f"\nms / query (loaded machine): default {ms_base:.1f}, + synonyms {ms_syn:.1f}, ", end="")
    print(f"without intent {ms_no_intent:.1f}\n")
    return {"rules": rules, "rows": rows, "ms": {"default": ms_base, "synonyms": ms_syn, "no_intent": ms_no_intent}}


# ---- 4: latency added ------------------------------------------------------------------------------


def bench_latency(esci_directory: Path, hd_directory: Path) -> dict:
    """The stages' own cost, apart from the rest of the search (less sensitive to a loaded machine
    than end-to-end times): synonym matching + intent prediction per query (``understand_prepared``
    on already prepared queries), the intent scores of 100 candidates, and the weighted BM25F
    search against the plain one for the queries a synonym expanded. Median of 5 runs."""
    out, rows = {}, []
    for name, directory in (("esci-us-150", esci_directory), ("homedepot", hd_directory)):
        accepted = WORK / f"{name}-accepted.txt"
        if not accepted.is_file() or not (directory / "manifest.json").is_file():
            print(f"\n> latency, {name}: skipped (run the synonyms part first)\n")
            continue
        base = loaded(directory, data_dir() / name / "products.jsonl")
        judged = read_judgments(data_dir() / name / "judgments.tsv")
        texts = [judged.queries[q] for q in judged.query_ids[:: max(1, len(judged.query_ids) // 300)]]
        row = latency_of(base, texts, accepted)
        out[name] = row
        rows.append([name, str(len(texts)), str(row["expanded"]), f"{row['understanding_off_ms']:.3f}",
                     f"{row['understanding_ms']:.3f}", f"{row.get('intent_scores_ms', 0):.3f}",
                     f"{row['bm25f_plain_ms']:.2f}", f"{row['bm25f_weighted_ms']:.2f}"])  # fmt: skip
    print("\n## Latency added (ms per query, median of 5 runs; loaded machine: rerun on an idle one)\n")
    print(markdown_table(
        ["catalog", "queries", "expanded by a synonym", "understanding, off", "understanding, synonyms + intent",
         "intent scores of 100 candidates", "BM25F plain (expanded queries)", "BM25F with synonyms"], rows
    ))  # fmt: skip
    return out


def latency_of(base: SearchPipeline, texts: list[str], accepted: Path, rounds: int = 5) -> dict:
    from shopmatch.query.understanding import understand_prepared

    pipe = base.with_config(synonyms=SynonymsConfig(file=str(accepted), weight=0.25))
    snap, plain_snap = pipe.snapshot, base.with_config(intent=IntentConfig(enabled=False)).snapshot
    prepared = [{n: r.prepare([t])[0] for n, r in snap.retrievers.items()} for t in texts]

    def timed(fn, per: int = len(texts)) -> float:
        runs = []
        for _ in range(rounds):
            started = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - started) * 1000 / max(per, 1))
        return float(np.median(runs))

    understood = [understand_prepared(snap, dict(p)) for p in prepared]
    expanded = [i for i, u in enumerate(understood) if u.expansions]
    lexical = snap.retrievers["lexical"]
    weighted = [expanded_terms(prepared[i]["lexical"], understood[i].expansions) for i in expanded]
    plain_terms = [prepared[i]["lexical"] for i in expanded]
    row = {
        "queries": len(texts),
        "expanded": len(expanded),
        "understanding_ms": timed(lambda: [understand_prepared(snap, dict(p)) for p in prepared]),
        "understanding_off_ms": timed(lambda: [understand_prepared(plain_snap, dict(p)) for p in prepared]),
        "bm25f_weighted_ms": timed(lambda: [lexical.search([w], 100) for w in weighted], len(expanded)),
        "bm25f_plain_ms": timed(lambda: [lexical.search([t], 100) for t in plain_terms], len(expanded)),
    }
    model = snap.intent
    if model is not None:
        vector = prepared[0]["dense"]
        found = snap.search("dense", [vector], 100, None).found(0)
        probabilities = model.probabilities(vector)
        row["intent_scores_ms"] = timed(
            lambda: [candidate_intent_scores(model, probabilities, found, snap.record) for _ in texts]
        )
    return row


# ---- 4b: intent taught by shoppers' queries --------------------------------------------------------


Hits = dict[tuple[int, int], dict[str, float]]  # (level, k) → query id → 1.0 if the truth is in the top k


def category_truths(snapshot, judged, query_id: str) -> dict[int, tuple[str, ...]]:
    """Per level, the most common category of the query's exact matches (the ``intent`` part's truth)."""
    exact = [r.product_id for r in judged.by_query[query_id] if r.label == "E"]
    paths = [tuple(snapshot.record(row).get("category") or ()) for row in snapshot.rows_of(exact) if row is not None]
    truths = {}
    for level in LEVELS:
        prefixes = Counter(p[:level] for p in paths if len(p) >= level)
        if prefixes:
            truths[level] = min(prefixes, key=lambda p: (-prefixes[p], p))
    return truths


def score_models(
    models: dict[str, IntentModel], base: SearchPipeline, judged, query_ids, hits: dict[str, Hits]
) -> None:
    """Add each model's top-1 / top-3 hit or miss on ``query_ids`` to ``hits``."""
    dense = base.retrievers["dense"]
    for q in query_ids:
        vector = dense.prepare([judged.queries[q]])[0]
        if vector is None:
            continue
        for level, truth in category_truths(base.snapshot, judged, q).items():
            for name, model in models.items():
                predicted = [c.path for c in model.predict(vector, top=3, level=level)]
                for k in (1, 3):
                    hits.setdefault(name, {}).setdefault((level, k), {})[q] = float(truth in predicted[:k])


def accuracy_comparison(hits: dict[str, Hits], base_name: str, other: str, title: str) -> dict:
    """Print and return ``other``'s accuracy against ``base_name``'s per level and k, paired by query."""
    rows, out = [], {}
    for level in LEVELS:
        for k in (1, 3):
            a, b = hits[base_name][level, k], hits[other][level, k]
            keys = sorted(a)
            cells = significance_columns([a[q] for q in keys], [b[q] for q in keys])
            means = (float(np.mean([a[q] for q in keys])), float(np.mean([b[q] for q in keys])))
            out[f"level {level} top-{k}"] = {base_name: means[0], other: means[1], "queries": len(keys)}
            rows.append([str(level), f"top-{k}", str(len(keys)), f"{means[0]:.3f}", f"{means[1]:.3f}", *cells])
    print(f"\n## {title}\n")
    print(markdown_table(["level", "accuracy", "queries", base_name, other, *SIGNIFICANCE_HEADERS], rows))
    return out


def esci_with_intent(directory: Path):
    """The esci judgments and the loaded default pipeline, or None when it has no intent model."""
    judged = read_judgments(data_dir() / "esci-us-150" / "judgments.tsv", gains=GainMap.esci())
    base = loaded(directory, data_dir() / "esci-us-150" / "products.jsonl")
    if base.index.intent is None:
        print("\n> esci-us-150: the index has no intent model; skipped.\n")
        return None
    return judged, base


def bench_intent_clicks(directory: Path) -> dict:
    """Category accuracy on each held-out esci fold with the intent model trained on the catalog
    alone against the same model also taught the other four folds' queries, each paired with its
    exact-match products (what clicks and purchases would give; ``StaticIndex.with_clicked_queries``).
    The truth is the held-out query's most common exact-match category, as in the ``intent`` part;
    paired significance over the queries' hit / miss."""
    loaded_esci = esci_with_intent(directory)
    if loaded_esci is None:
        return {}
    judged, base = loaded_esci
    folds = [[q for i, q in enumerate(judged.query_ids) if i % 5 == f] for f in range(5)]
    exact = {q: [r.product_id for r in judged.by_query[q] if r.label == "E"] for q in judged.query_ids}
    hits: dict[str, Hits] = {}
    for f, fold in enumerate(folds):
        pairs = [(judged.queries[q], p) for g, other in enumerate(folds) if g != f for q in other for p in exact[q]]
        taught = base.index.with_clicked_queries(pairs).intent
        score_models({"catalog only": base.index.intent, "+ other folds' queries": taught}, base, judged, fold, hits)
    title = "Category intent taught by the other folds' queries (esci-us-150, 5 folds, held out)"
    return accuracy_comparison(hits, "catalog only", "+ other folds' queries", title)


PSEUDO_WORDS = 3  # fixed before the run: about the length of a shopper's query; not tuned


def pseudo_query(title: str, brand: str | None) -> str:
    """A query-like text for a product: the first ``PSEUDO_WORDS`` words of its title, its brand left out."""
    skip = set((brand or "").lower().split())
    words = [w for w in title.split() if w.lower() not in skip]
    return " ".join(words[:PSEUDO_WORDS])


def bench_intent_pseudo(directory: Path) -> dict:
    """Category accuracy on all esci queries (never trained on) with the catalog-only centroids
    against centroids that also hold one pseudo-query per product (:func:`pseudo_query`, encoded by
    the query encoder); truth as in the ``intent`` part; paired significance over hit / miss."""
    loaded_esci = esci_with_intent(directory)
    if loaded_esci is None:
        return {}
    judged, base = loaded_esci
    snapshot, dense = base.snapshot, base.retrievers["dense"]
    records = [snapshot.record(r) for r in range(len(base))]
    texts = [pseudo_query(r.get("title") or "", r.get("brand")) for r in records]
    started = time.perf_counter()
    vectors = dense.prepare(texts)
    print(f"esci: {len(texts):,} pseudo-queries encoded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    readable = [(v, row) for row, v in enumerate(vectors) if v is not None]
    queries = (np.stack([v for v, _ in readable]), np.array([row for _, row in readable]))
    categories = [r.get("category") for r in records]
    taught = IntentModel.train(
        categories, dense.vectors_of(np.arange(len(records))), base.config.intent, queries=queries
    )
    hits: dict[str, Hits] = {}
    score_models({"catalog only": base.index.intent, "+ pseudo-queries": taught}, base, judged, judged.query_ids, hits)
    title = f"Category intent with one pseudo-query per product (first {PSEUDO_WORDS} title words, esci-us-150)"
    return accuracy_comparison(hits, "catalog only", "+ pseudo-queries", title)


# ---- 5: end to end, on and off --------------------------------------------------------------------


def bench_end_to_end(esci_directory: Path, hd_directory: Path, rounds: int = 3) -> dict:
    """Whole searches (``search_pages``, first page) with query understanding as shipped (spelling
    correction, pinyin reading, category intent) and with all three off, the two alternating query
    by query so that both see the same machine load; p50 / p99 of each and the median of the
    per-search difference. Home Depot: the first 300 dev queries (every 10th query id)."""
    from dataclasses import replace

    from shopmatch.backends.inprocess.static import StaticIndex
    from shopmatch.query.query import Query

    out, rows = {}, []
    for name, directory in (("esci-us-150", esci_directory), ("homedepot", hd_directory)):
        products = data_dir() / name / "products.jsonl"
        if not (directory / "manifest.json").is_file() and not products.is_file():
            print(f"\n> end to end, {name}: skipped (no index, no data)\n")
            continue
        base = loaded(directory, products)
        assert isinstance(base.index, StaticIndex)
        if base.snapshot.speller is None:  # an index written before spelling models: built now (seconds)
            base = SearchPipeline.of(base.index.with_spelling())
        config = base.config
        off = base.with_config(
            spelling=replace(config.spelling, enabled=False),
            pinyin=replace(config.pinyin, enabled=False),
            intent=IntentConfig(enabled=False),
        )
        judged = read_judgments(data_dir() / name / "judgments.tsv")
        ids = judged.query_ids if name != "homedepot" else judged.query_ids[::10][:300]
        texts = [judged.queries[q] for q in ids]
        for pipe in (base, off):  # warm up: encoder, spelling tables, the intent model
            pipe.search_pages([Query(t) for t in texts[:3]])
        times = alternating_search_times({"on": base, "off": off}, texts, rounds)
        on, plain = np.array(times["on"]) * 1e3, np.array(times["off"]) * 1e3
        row = {
            "queries": len(texts),
            "rounds": rounds,
            "on": {"p50_ms": float(np.percentile(on, 50)), "p99_ms": float(np.percentile(on, 99))},
            "off": {"p50_ms": float(np.percentile(plain, 50)), "p99_ms": float(np.percentile(plain, 99))},
            "added_median_ms": float(np.median(on - plain)),
        }
        out[name] = row
        cells = [f"{row[side][p]:.2f}" for p in ("p50_ms", "p99_ms") for side in ("off", "on")]
        rows.append([name, str(len(texts)), *cells, f"{row['added_median_ms']:+.2f}"])
    print(f"\n## End to end: query understanding on vs off (ms per search, {rounds} rounds, alternating)\n")
    print(markdown_table(
        ["catalog", "queries", "p50 off", "p50 on", "p99 off", "p99 on", "median added per search"], rows
    ))  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=PARTS)
    parser.add_argument("--esci-index")
    parser.add_argument("--homedepot-index")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    print("\n".join(machine_header()))
    esci, homedepot = index_dir("esci-us-150", args.esci_index), index_dir("homedepot", args.homedepot_index)
    out = {}
    parts = args.only or PARTS
    if "intent" in parts:
        out["intent"] = bench_intent(esci)
    if "intent-pseudo" in parts:
        out["intent-pseudo"] = bench_intent_pseudo(esci)
    if "intent-clicks" in parts:
        out["intent-clicks"] = bench_intent_clicks(esci)
    if "synonyms-homedepot" in parts:
        out["synonyms-homedepot"] = bench_synonyms_homedepot(homedepot)
    if "synonyms-esci" in parts:
        out["synonyms-esci"] = bench_synonyms_esci(esci, chosen_synonym_weight())
    if "latency" in parts:
        out["latency"] = bench_latency(esci, homedepot)
    if "end-to-end" in parts:
        out["end-to-end"] = bench_end_to_end(esci, homedepot)
    write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
