"""Spelling correction (``[spelling]``): typo'd and real queries, with and without correction.

Usage::

    python bench/spelling.py [--only esci|homedepot] [--tune] [--tune-guard] [--latency]
        [--json bench/results/spelling.json]

The protocol of docs/benchmarks.md, "Query understanding" 1, 2 and 4, on the default hybrid
indexes (``--esci-index`` / ``--homedepot-index``, e.g. ``/work/cache/*-default``; built once
under ``bench/data/spelling/`` when absent). The spelling model is counted from the catalog file
and attached to the loaded index (nothing is encoded again).

- **Typos**: in each query one word of ≥ 4 letters a–z (no digits, identifiers untouched) gets
  one edit — deletion, insertion of a keyboard neighbour, substitution with a keyboard neighbour,
  or transposition — chosen by a generator seeded with ``--seed`` and the query id. NDCG@10 of the
  clean queries, the typo'd queries, and the typo'd queries corrected; the share of the loss the
  correction recovers; what correction costs on the clean queries (paired significance).
- **Real misspellings**: Home Depot dev (every 10th sorted query id) as is, with and without
  correction: NDCG@10 and MRR@10 with significance, the corrected queries listed (the record
  judges 30 of them by reading).
- **Real-word guard**: the default (``dictionary = "english"``) against ``dictionary = "none"`` on
  both sets, as typed and typo'd: NDCG@10 and MRR@10 with significance, the loss recovered by each,
  and every query the guard searches differently (the record reads them).
- **Guard tuning** (``--tune-guard``): ``dictionary_min_count`` and ``dictionary_min_pairs`` are
  chosen on every Home Depot train query, as typed and typo'd (seed + 1000), by the rule in
  :func:`tune_guard`.
- **Tuning** (``--tune``): the thresholds are chosen on Home Depot *train* queries (every 4th
  query id that is not dev), typo'd with another seed, searched by ``--tune-retrievers`` (BM25F
  alone by default: the grid searches thousands of corrected texts), by a grid over
  ``max_rare_count``, ``min_ratio``, ``context_weight``, ``distance_penalty`` and
  ``min_length_distance_2``: the setting with the best mean of the clean and typo'd NDCG@10
  (corrected). Neither reported set is looked at.
- **Latency** (``--latency``): each esci query (clean and typo'd) searched with spelling on and
  off, interleaved, 3 rounds: p50/p99 of the whole search, and of the correction alone. Run it on
  an idle machine for figures to quote.

Searches are cached by the text searched (``bench/data/spelling/runs-*.jsonl``; ``--fresh``
empties it): a query the correction leaves alone is searched once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SIGNIFICANCE_HEADERS,
    alternating_search_times,
    data_dir,
    machine_header,
    markdown_table,
    percentiles,
    significance_columns,
    write_json,
)

from shopmatch.backends.inprocess.static import StaticIndex  # noqa: E402
from shopmatch.catalog import read_catalog  # noqa: E402
from shopmatch.eval.evaluator import score_run  # noqa: E402
from shopmatch.eval.significance import compare_paired, format_p  # noqa: E402
from shopmatch.judgments import GainMap, Judgments, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.progress import track  # noqa: E402
from shopmatch.query.query import Query, understand  # noqa: E402
from shopmatch.query.spelling import Speller, SpellingConfig, SpellingModel  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = HERE / "data" / "spelling"
HOMEDEPOT_GAINS = "offset=1,relevant>=2.5"
TUNED = ("max_rare_count", "min_ratio", "context_weight", "distance_penalty", "min_length_distance_2")
DEPTH = 100

KEYBOARD = {
    row[i]: "".join(c for c in (row[i - 1 : i] + row[i + 1 : i + 2]) + below[max(i - 1, 0) : i + 2] + above[i : i + 2])
    for above, row, below in [
        ("", "qwertyuiop", "asdfghjkl"),
        ("qwertyuiop", "asdfghjkl", "zxcvbnm"),
        ("asdfghjkl", "zxcvbnm", ""),
    ]  # fmt: skip
    for i in range(len(row))
}


def typo(text: str, rng: random.Random) -> str:
    """``text`` with one edit in one of its words of ≥ 4 letters a–z (unchanged when it has none)."""
    words = text.split(" ")
    eligible = [i for i, w in enumerate(words) if len(w) >= 4 and w.isascii() and w.isalpha()]
    if not eligible:
        return text
    i = rng.choice(eligible)
    word = words[i].lower()
    for _ in range(20):
        kind = rng.choice(("deletion", "insertion", "substitution", "transposition"))
        at = rng.randrange(len(word))
        if kind == "deletion":
            new = word[:at] + word[at + 1 :]
        elif kind == "insertion":
            new = word[:at] + rng.choice(KEYBOARD.get(word[at], word[at])) + word[at:]
        elif kind == "substitution":
            new = word[:at] + rng.choice(KEYBOARD.get(word[at], word[at])) + word[at + 1 :]
        else:
            at = min(at, len(word) - 2)
            new = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        if new != word:
            words[i] = new
            return " ".join(words)
    return text


def typod(judged: Judgments, seed: int) -> dict[str, str]:
    return {q: typo(judged.queries[q], random.Random(f"{seed}:{q}")) for q in judged.query_ids}


class Bench:
    """One index with its spelling model, and a cache of searches by the text searched."""

    def __init__(
        self, name: str, index: Path, products: Path, fresh: bool = False, retrievers: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        CACHE.mkdir(parents=True, exist_ok=True)
        if not (index / "manifest.json").is_file():
            index = CACHE / f"{name}-index"
            if not (index / "manifest.json").is_file():
                print(f"building the default hybrid index of {products} once", file=sys.stderr)
                SearchPipeline.build(read_catalog(products).products).save(index)
        model_dir = CACHE / f"{name}-model"
        if not (model_dir / "manifest.json").is_file():
            SpellingModel.build(read_catalog(products).products).save(model_dir)
        self.model = SpellingModel.load(model_dir)
        base = SearchPipeline.load(index)
        assert isinstance(base.index, StaticIndex)
        self.pipe = SearchPipeline.of(base.index.with_spelling(self.model))
        if retrievers:
            self.pipe = self.pipe.with_config(retrievers=retrievers)
        self.cache_path = CACHE / f"runs-{name}{'-' + '+'.join(retrievers) if retrievers else ''}.jsonl"
        if fresh:
            self.cache_path.unlink(missing_ok=True)
        self.runs: dict[str, list[tuple[str, float]]] = {}
        if self.cache_path.is_file():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self.runs[row["text"]] = [tuple(x) for x in row["run"]]

    def remember(self, text: str, ranked: list[tuple[str, float]], out=None) -> None:
        self.runs[text] = ranked
        if out is None:
            with self.cache_path.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"text": text, "run": ranked}) + "\n")
        else:
            out.write(json.dumps({"text": text, "run": ranked}) + "\n")

    def run(self, texts: dict[str, str], config: SpellingConfig) -> tuple[dict[str, list], dict[str, str]]:
        """query id → ranked (id, score), and query id → the text searched, under ``config``."""
        pipe = self.pipe.with_config(spelling=config)
        speller = pipe.snapshot.speller
        searched = {q: understand(Query(t), pipe.config.negation, speller).searched for q, t in texts.items()}
        typed = {}  # each text to search once, as a query that is searched as it (the real path corrects it)
        for q, text in texts.items():
            if searched[q] not in self.runs:
                typed.setdefault(searched[q], text)
        todo = sorted(typed.items())
        if todo:
            with self.cache_path.open("a", encoding="utf-8") as out:
                batches = [todo[i : i + 32] for i in range(0, len(todo), 32)]
                for batch in track(batches, total=len(batches), description=f"{self.name}: searching"):
                    pages = pipe.search_pages([Query(text, k=DEPTH) for _, text in batch])
                    for (expected, _), page in zip(batch, pages, strict=True):
                        assert page.query.searched == expected, (page.query.searched, expected)
                        self.remember(expected, [(r.product_id, float(r.score)) for r in page.results], out)
        return {q: self.runs[s] for q, s in searched.items()}, searched


def evaluate(bench: Bench, judged: Judgments, gains: GainMap, texts: dict[str, str], config: SpellingConfig):
    run, searched = bench.run(texts, config)
    return score_run(run, judged, gains, "retrieval").per_query, searched


def mean(per_query: dict[str, float]) -> float:
    return float(np.mean(list(per_query.values())))


def typo_table(bench: Bench, judged: Judgments, gains: GainMap, seed: int, config: SpellingConfig) -> dict[str, Any]:
    clean = {q: judged.queries[q] for q in judged.query_ids}
    typos = typod(judged, seed)
    off = replace(config, enabled=False)
    results, searched = {}, {}
    for label, texts, cfg in [
        ("clean", clean, off),
        ("clean + correction", clean, config),
        ("typo", typos, off),
        ("typo + correction", typos, config),
    ]:
        results[label], searched[label] = evaluate(bench, judged, gains, texts, cfg)
    ndcg = {label: r["ndcg@10"] for label, r in results.items()}
    loss = mean(ndcg["clean"]) - mean(ndcg["typo"])
    recovered = (mean(ndcg["typo + correction"]) - mean(ndcg["typo"])) / loss if loss > 0 else float("nan")
    typod_queries = sum(typos[q] != clean[q] for q in judged.query_ids)
    restored = sum(searched["typo + correction"][q].lower() == clean[q].lower() for q in judged.query_ids
                   if typos[q] != clean[q])  # fmt: skip
    changed_clean = sum(searched["clean + correction"][q] != clean[q] for q in judged.query_ids)
    rows = []
    for label in ndcg:
        baseline = "typo" if label == "typo + correction" else "clean"
        cells = significance_columns(ndcg[baseline], ndcg[label]) if label != baseline else [""] * 5
        rows.append([label, f"{mean(ndcg[label]):.4f}", f"{mean(results[label]['mrr@10']):.4f}",
                     baseline if label != baseline else "", *cells])  # fmt: skip
    table = markdown_table(["queries", "NDCG@10", "MRR@10", "against", *SIGNIFICANCE_HEADERS], rows)
    as_typed = markdown_table(
        ["as typed, correction against none", "off", "on", *SIGNIFICANCE_HEADERS],
        [
            [metric, f"{mean(results['clean'][metric]):.4f}", f"{mean(results['clean + correction'][metric]):.4f}",
             *significance_columns(results["clean"][metric], results["clean + correction"][metric])]
            for metric in ("ndcg@10", "mrr@10")
        ],
    )  # fmt: skip
    return {
        "table": table,
        "as typed": as_typed,
        "ndcg@10": {label: mean(v) for label, v in ndcg.items()},
        "mrr@10": {label: mean(r["mrr@10"]) for label, r in results.items()},
        "loss": loss,
        "recovered": recovered,
        "clean cost": mean(ndcg["clean"]) - mean(ndcg["clean + correction"]),
        "queries": len(judged.query_ids),
        "typo queries": typod_queries,
        "restored exactly": restored,
        "clean queries changed": changed_clean,
        "changed": {
            q: {
                "typed": clean[q],
                "searched": searched["clean + correction"][q],
                "ndcg@10": [ndcg["clean"][q], ndcg["clean + correction"][q]],
            }
            for q in judged.query_ids
            if searched["clean + correction"][q] != clean[q]
        },  # fmt: skip
        "typos": {q: [clean[q], typos[q], searched["typo + correction"][q]] for q in judged.query_ids},
    }


def guard_table(bench: Bench, judged: Judgments, gains: GainMap, seed: int, config: SpellingConfig) -> dict[str, Any]:
    """``config`` (with its real-word guard) against the same without a dictionary, on the queries
    as typed and typo'd: NDCG@10 and MRR@10 with significance, the share of the typos' loss each
    recovers, and every query whose searched text the guard changes."""
    unguarded = replace(config, dictionary="none")
    clean = {q: judged.queries[q] for q in judged.query_ids}
    typos = typod(judged, seed)
    off = evaluate(bench, judged, gains, typos, replace(config, enabled=False))[0]["ndcg@10"]
    base = evaluate(bench, judged, gains, clean, replace(config, enabled=False))[0]["ndcg@10"]
    loss = mean(base) - mean(off)
    rows, differs, out = [], {}, {}
    for name, texts in (("as typed", clean), ("typo", typos)):
        (a, sa), (b, sb) = (evaluate(bench, judged, gains, texts, c) for c in (unguarded, config))
        for metric in ("ndcg@10", "mrr@10"):
            rows.append([f"{name} + correction, {metric}", f"{mean(a[metric]):.4f}", f"{mean(b[metric]):.4f}",
                         *significance_columns(a[metric], b[metric])])  # fmt: skip
        out[name] = {
            "corrected": [sum(sa[q] != texts[q] for q in texts), sum(sb[q] != texts[q] for q in texts)],
            "ndcg@10": [mean(a["ndcg@10"]), mean(b["ndcg@10"])],
            "mrr@10": [mean(a["mrr@10"]), mean(b["mrr@10"])],
        }
        if name == "typo" and loss > 0:
            out[name]["recovered"] = [(mean(a["ndcg@10"]) - mean(off)) / loss, (mean(b["ndcg@10"]) - mean(off)) / loss]
        differs[name] = {
            q: {"typed": texts[q], "without": sa[q], "with": sb[q], "ndcg@10": [a["ndcg@10"][q], b["ndcg@10"][q]]}
            for q in judged.query_ids
            if sa[q] != sb[q]
        }
    out["clean cost"] = [mean(base) - out["as typed"]["ndcg@10"][0], mean(base) - out["as typed"]["ndcg@10"][1]]
    out["table"] = markdown_table(["queries, metric", "no dictionary", "guard", *SIGNIFICANCE_HEADERS], rows)
    out["differs"] = differs
    return out


def guard_report(name: str, out: dict[str, Any]) -> None:
    print(f"\n### {name}: the real-word guard against no dictionary\n")
    print(out["table"])
    typo = out["typo"]
    print(
        f"\nCorrected as typed: {out['as typed']['corrected'][0]} without the guard, {out['as typed']['corrected'][1]} "
        f"with it; cost on clean queries {out['clean cost'][0]:+.4f} → {out['clean cost'][1]:+.4f}; typo'd queries "
        f"corrected {typo['corrected'][0]} → {typo['corrected'][1]}, loss recovered "
        f"{typo.get('recovered', [math.nan] * 2)[0]:.1%} → {typo.get('recovered', [math.nan] * 2)[1]:.1%}."
    )
    for kind, differs in out["differs"].items():
        print(f"\n{len(differs)} queries ({kind}) searched differently with the guard:\n")
        for q, d in differs.items():
            print(f"- {q}: {d['typed']!r}: without {d['without']!r}, with {d['with']!r} "
                  f"(NDCG@10 {d['ndcg@10'][0]:.3f} → {d['ndcg@10'][1]:.3f})")  # fmt: skip


def report(name: str, out: dict[str, Any]) -> None:
    print(f"\n## {name}: {out['queries']} queries ({out['typo queries']} with a typo)\n")
    print(out["table"])
    print(
        f"\nLoss from typos {out['loss']:.4f} NDCG@10; correction recovers {out['recovered']:.1%} of it; "
        f"{out['restored exactly']} of {out['typo queries']} typo'd queries restored exactly. "
        f"On clean queries it changes {out['clean queries changed']} queries and costs {out['clean cost']:+.4f}."
    )


def ndcg10(ranked: list[tuple[str, float]], gains: dict[str, float]) -> float:
    """NDCG@10 with linear gains (ranx's ``ndcg``), for the grid's many evaluations."""
    dcg = sum(gains.get(p, 0.0) / math.log2(i + 2) for i, (p, _) in enumerate(ranked[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(gains.values(), reverse=True)[:10]))
    return dcg / ideal if ideal > 0 else 0.0


def tune(seed: int, homedepot_index: Path, fresh: bool, retrievers: tuple[str, ...]) -> dict[str, Any]:
    gains = GainMap.parse(HOMEDEPOT_GAINS)
    judged = read_judgments(data_dir() / "homedepot" / "judgments.tsv", gains=gains)
    dev = set(judged.query_ids[::10])
    train = judged.subset([q for q in judged.query_ids if q not in dev][::4])
    bench = Bench("homedepot", homedepot_index, data_dir() / "homedepot" / "products.jsonl", fresh, retrievers)
    qrels = train.qrels(gains)
    sets = {"clean": {q: train.queries[q] for q in train.query_ids}, "typo": typod(train, seed + 1000)}
    off = SpellingConfig(enabled=False)
    base = {name: evaluate(bench, train, gains, texts, off)[0]["ndcg@10"] for name, texts in sets.items()}
    check = {name: float(np.mean([ndcg10(bench.runs[t], qrels[q]) for q, t in texts.items()]))
             for name, texts in sets.items()}  # fmt: skip
    grid = [
        SpellingConfig(max_rare_count=r, min_ratio=m, context_weight=c, distance_penalty=d, min_length_distance_2=l2)
        for r, m, c, d, l2 in itertools.product(
            (0, 1), (1.0, 1.5, 2.0, 3.0, 5.0), (0.0, 1.0, 2.0), (2.0, 4.0, 8.0), (6, 7, 9)
        )
    ]
    tables = Speller(bench.model, SpellingConfig())
    tables._symspell, tables._stems  # noqa: B018 - built once: the grid varies no setting they depend on
    scored = []
    for config in track(grid, total=len(grid), description="tuning on Home Depot train"):
        speller = Speller(bench.model, config)
        speller.__dict__.update(_symspell=tables._symspell, _stems=tables._stems)
        row = {"setting": {k: v for k, v in config.to_dict().items() if k in TUNED}}
        for name, texts in sets.items():
            searched = {q: speller.correct(t).text for q, t in texts.items()}
            todo = sorted({s for s in searched.values() if s not in bench.runs})
            for page in bench.pipe.search_pages([Query(t, k=DEPTH, spelling=False) for t in todo]):
                bench.remember(page.query.text, [(r.product_id, float(r.score)) for r in page.results])
            row[name] = float(np.mean([ndcg10(bench.runs[searched[q]], qrels[q]) for q in texts]))
            row[name + " changed"] = sum(searched[q] != texts[q] for q in texts)
        scored.append(row)
    scored.sort(key=lambda s: -(s["clean"] + s["typo"]))
    system = "+".join(bench.pipe.config.retrievers)
    print(f"\n## tuning: Home Depot train, {len(train.query_ids)} queries (never reported), retrievers {system}\n")
    print(f"Off: clean {mean(base['clean']):.4f}, typo'd {mean(base['typo']):.4f} (ranx); "
          f"{check['clean']:.4f}, {check['typo']:.4f} (the grid's NDCG@10).\n")  # fmt: skip
    rows = [[json.dumps(s["setting"]), f"{s['clean']:.4f}", s["clean changed"], f"{s['typo']:.4f}", s["typo changed"]]
            for s in scored[:12]]  # fmt: skip
    print(markdown_table(["setting (best 12 of the grid)", "clean + correction", "changed", "typo + correction",
                          "changed"], rows))  # fmt: skip
    return {
        "queries": len(train.query_ids),
        "off": {"clean": check["clean"], "typo": check["typo"]},
        "grid": scored,
        "chosen": scored[0]["setting"],
    }


GUARD = ("dictionary", "dictionary_min_count", "dictionary_min_pairs")


def tune_guard(seed: int, homedepot_index: Path, fresh: bool, retrievers: tuple[str, ...]) -> dict[str, Any]:
    """Choose the real-word guard (``dictionary*``) on every Home Depot train query (not dev): the
    queries as typed (real misspellings) and typo'd with another seed, the other settings at their
    defaults, searched by ``retrievers``. Each setting is compared with no dictionary on both sets
    (NDCG@10, paired randomization test). The rule: of the settings not significantly worse on
    either set (p ≥ 0.05 or not lower), the one that protects the most words (fewest queries
    corrected as typed; ties: the best mean NDCG@10); none qualifies: no dictionary."""
    gains = GainMap.parse(HOMEDEPOT_GAINS)
    judged = read_judgments(data_dir() / "homedepot" / "judgments.tsv", gains=gains)
    dev = set(judged.query_ids[::10])
    train = judged.subset([q for q in judged.query_ids if q not in dev])
    bench = Bench("homedepot", homedepot_index, data_dir() / "homedepot" / "products.jsonl", fresh, retrievers)
    qrels = train.qrels(gains)
    sets = {"clean": {q: train.queries[q] for q in train.query_ids}, "typo": typod(train, seed + 1000)}
    grid = [replace(SpellingConfig(), dictionary="none")] + [
        replace(SpellingConfig(), dictionary="english", dictionary_min_count=c, dictionary_min_pairs=m)
        for c, m in itertools.product((1, 100_000, 1_000_000, 10_000_000), (0, 1, 3, 10, 30))
    ]
    tables = Speller(bench.model, SpellingConfig())
    tables._symspell, tables._stems  # noqa: B018 - built once: the grid varies no setting they depend on
    scored, searched_by, per_query = [], {}, {}
    for config in track(grid, total=len(grid), description="guard on Home Depot train"):
        speller = Speller(bench.model, config)
        speller.__dict__.update(_symspell=tables._symspell, _stems=tables._stems)
        setting = json.dumps({k: v for k, v in config.to_dict().items() if k in GUARD})
        row: dict[str, Any] = {"setting": json.loads(setting)}
        for name, texts in sets.items():
            searched = {q: speller.correct(t).text for q, t in texts.items()}
            todo = sorted({t for t in searched.values() if t not in bench.runs})
            for i in range(0, len(todo), 64):
                batch = [Query(t, k=DEPTH, spelling=False) for t in todo[i : i + 64]]
                for page in bench.pipe.search_pages(batch):
                    bench.remember(page.query.text, [(r.product_id, float(r.score)) for r in page.results])
            searched_by[setting, name] = searched
            per_query[setting, name] = [ndcg10(bench.runs[searched[q]], qrels[q]) for q in train.query_ids]
            row[name] = float(np.mean(per_query[setting, name]))
            row[name + " changed"] = sum(searched[q] != texts[q] for q in texts)
        scored.append(row)
        print(json.dumps(row), file=sys.stderr)
    unguarded = json.dumps(scored[0]["setting"])
    for row in scored:
        for name in sets:
            c = compare_paired(per_query[unguarded, name], per_query[json.dumps(row["setting"]), name])
            row[name + " delta"], row[name + " p"] = c.delta, c.p_value
        row["qualifies"] = all(row[n + " delta"] >= 0 or row[n + " p"] >= 0.05 for n in sets)
    scored.sort(key=lambda s: (not s["qualifies"], s["clean changed"], -(s["clean"] + s["typo"])))
    chosen = json.dumps(scored[0]["setting"])
    system = "+".join(bench.pipe.config.retrievers)
    print(f"\n## guard tuning: Home Depot train, {len(train.query_ids)} queries (never reported), {system}\n")
    rows = [[json.dumps(s["setting"]), f"{s['clean']:.4f}", f"{s['clean delta']:+.4f}", format_p(s["clean p"]),
             s["clean changed"], f"{s['typo']:.4f}", f"{s['typo delta']:+.4f}", format_p(s["typo p"]),
             s["typo changed"], "yes" if s["qualifies"] else "no"] for s in scored]  # fmt: skip
    print(markdown_table(["setting (chosen first)", "as typed + correction NDCG@10", "Δ none", "p", "corrected",
                          "typo + correction NDCG@10", "Δ none", "p", "corrected", "qualifies"], rows))  # fmt: skip
    versus = []
    for name in sets:
        a, b = ({q: bench.runs[searched_by[s, name][q]] for q in train.query_ids} for s in (unguarded, chosen))
        a, b = (score_run(run, train, gains, "retrieval").per_query for run in (a, b))
        versus += [[f"{name} {metric}", f"{mean(a[metric]):.4f}", f"{mean(b[metric]):.4f}",
                    *significance_columns(a[metric], b[metric])] for metric in ("ndcg@10", "mrr@10")]  # fmt: skip
    print(f"\nChosen {chosen} against no dictionary, on the train queries (in-sample):\n")
    print(markdown_table(["queries metric", "no dictionary", "chosen", *SIGNIFICANCE_HEADERS], versus))
    return {"queries": len(train.query_ids), "grid": scored, "chosen": scored[0]["setting"], "versus none": versus}


def latency(bench: Bench, judged: Judgments, seed: int, rounds: int = 3) -> dict[str, Any]:
    texts = [judged.queries[q] for q in judged.query_ids] + list(typod(judged, seed).values())
    on, off = bench.pipe, bench.pipe.with_config(spelling=replace(bench.pipe.config.spelling, enabled=False))
    on.search_pages([texts[0]]), off.search_pages([texts[0]])  # warm up
    on.snapshot.speller._symspell  # noqa: B018 - the lookup tables are built on the first correction
    times = alternating_search_times({"on": on, "off": off}, texts, rounds)
    speller = on.snapshot.speller
    correcting = []
    for text in texts * rounds:
        started = time.perf_counter()
        speller.correct(text)
        correcting.append(time.perf_counter() - started)
    out = {label: percentiles(t) for label, t in times.items()}
    out["correction alone"] = percentiles(correcting)
    rows = [[label, f"{p['p50_ms']:.2f}", f"{p['p99_ms']:.2f}"] for label, p in out.items()]
    print(f"\n## latency: {bench.name}, {len(texts)} queries × {rounds} rounds (machine load: see header)\n")
    print(markdown_table(["search", "p50 ms", "p99 ms"], rows))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=("esci", "homedepot"))
    parser.add_argument("--tune", action="store_true", help="choose the thresholds on Home Depot train queries")
    parser.add_argument("--tune-guard", action="store_true", help="choose the real-word guard on Home Depot train")
    parser.add_argument("--tune-only", action="store_true", help="with --tune/--tune-guard: no reports")
    parser.add_argument(
        "--tune-retrievers", default="lexical", help="the system tuned on, e.g. lexical (fast) or lexical+dense"
    )
    parser.add_argument("--latency", action="store_true", help="time search with spelling on and off (esci)")
    parser.add_argument("--rounds", type=int, default=3, help="latency: rounds over the queries")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--esci-index", type=Path, default=Path("/work/cache/esci-us-150-default"))
    parser.add_argument("--homedepot-index", type=Path, default=Path("/work/cache/homedepot-default"))
    parser.add_argument("--fresh", action="store_true", help="forget the cached searches")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    print("\n".join(machine_header()))
    out: dict[str, Any] = {"seed": args.seed, "config": SpellingConfig().to_dict()}
    if args.tune:  # the thresholds this chose are SpellingConfig's defaults, which the reports below use
        out["tuning"] = tune(args.seed, args.homedepot_index, args.fresh, tuple(args.tune_retrievers.split("+")))
    if args.tune_guard:  # the guard this chose is SpellingConfig's default too
        retrievers = tuple(args.tune_retrievers.split("+"))
        out["guard tuning"] = tune_guard(args.seed, args.homedepot_index, args.fresh, retrievers)
    wanted = [] if args.tune_only else args.only or ["esci", "homedepot"]
    if "esci" in wanted:
        gains = GainMap.esci()
        judged = read_judgments(data_dir() / "esci-us-150" / "judgments.tsv", gains=gains)
        bench = Bench("esci-us-150", args.esci_index, data_dir() / "esci-us-150" / "products.jsonl", args.fresh)
        out["esci"] = typo_table(bench, judged, gains, args.seed, SpellingConfig())
        report("esci-us-150", out["esci"])
        out["esci guard"] = guard_table(bench, judged, gains, args.seed, SpellingConfig())
        guard_report("esci-us-150", out["esci guard"])
        if args.latency:
            out["latency"] = latency(bench, judged, args.seed, args.rounds)
    if "homedepot" in wanted:
        gains = GainMap.parse(HOMEDEPOT_GAINS)
        judged = read_judgments(data_dir() / "homedepot" / "judgments.tsv", gains=gains)
        dev = judged.subset(judged.query_ids[::10])
        bench = Bench("homedepot", args.homedepot_index, data_dir() / "homedepot" / "products.jsonl", args.fresh)
        out["homedepot"] = typo_table(bench, dev, gains, args.seed, SpellingConfig())
        report("Home Depot dev", out["homedepot"])
        out["homedepot guard"] = guard_table(bench, dev, gains, args.seed, SpellingConfig())
        guard_report("Home Depot dev", out["homedepot guard"])
        changed = out["homedepot"]["changed"]
        print("\nThe dev queries as typed (real misspellings), correction on and off:\n")
        print(out["homedepot"]["as typed"])
        print(f"\nReal misspellings: {len(changed)} of {len(dev.query_ids)} dev queries corrected:\n")
        for q, c in changed.items():
            print(f"- {q}: {c['typed']!r} → {c['searched']!r} (NDCG@10 {c['ndcg@10'][0]:.3f} → {c['ndcg@10'][1]:.3f})")
    write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
