"""Learning to rank from simulated shopper events, with and without position-bias correction.

Protocol (``../shared/docs/benchmarks.md``, "Shopper behaviour", item 2):

- **Home Depot**: dev = every 10th sorted query id (held out, never simulated); the events come from
  the train queries (a seeded sample of ``--train-queries``, 1,500 by default, of the 8,492: the
  features of all would take an hour on the 2-core machine), shown their
  pipeline's actual top 10 (``bench/shopper_sim.py``: examination ``(1/i)^θ``, clicks
  ``0.05 + 0.9 · gain / max gain``, carts and purchases on the best label), 10 / 30 / 100 sessions per
  query. NDCG@10 in retrieval mode on dev: the pipeline's top 100 re-ordered by each ranker (as the
  ranker stage does), features recorded from the search path itself.
- **esci-us-150**: 5 folds by query; events simulated on the 4 training folds only, NDCG@10 of the
  held-out fold, all 150 pooled (``--skip-homedepot``: only these; ``--sim-seeds`` applies here too).

Training features come from the search path, as the ranker stage computes them
(``--train-features rerank``: the first record's rerank-mode features, which differ). Rows: the
untrained pipeline; with ``--previous-trainer``, the previous trainer (rank features read, 15 leaves)
on naive click-through and COEC labels; rankers from events with ``train_from_events``'s defaults
(each reads the event features too) — naive click-through labels (``--debias none --label-model
ctr``), click-model labels (``click-model``/``pbm``, ``click-model``/``coec``), unbiased LambdaMART
(``position``/``ctr``), inverse-propensity weights (``ipw``/``ctr``), COEC labels with unbiased
LambdaMART (``position``/``coec``), naive click-through and COEC labels without the event features
(what the labels alone bring); the ranker trained on the true judgments of the same training
queries (the ceiling). With several ``--sim-seeds``, one table per simulation seed and one over the
seeds (per-seed figures, their median, and the paired tests against the untrained pipeline and naive
click-through of the per-query NDCG@10 averaged over the seeds; Home Depot and esci alike). Each
row: NDCG@10, paired significance against the untrained pipeline and against naive click-through,
and the share of the ceiling's gain it recovers ``(row − untrained) / (ceiling − untrained)``.

**Choosing the default** correction (``shopmatch train ranker --events``) uses training data only:
``bench/experiments/events_debias.py --folds 5 --sim-seeds 0 1 2`` (5-fold cross-validation over
the Home Depot training sample × 3 simulation seeds; ``docs/experiments/2026-12-07-events-selection.md``);
``--skip-selection`` skips this script's older single 80/20 split. Dev never takes part.

Features of every query are computed once and cached under ``bench/data/events-learning/``.

Usage::

    python bench/events_learning.py [--train-queries 1500] [--sessions 10 30 100] [--theta 1]
        [--sim-seeds 0 1 2] [--previous-trainer] [--homedepot-index DIR] [--esci-index DIR] [--shuffle-share 0.2]
        [--json bench/results/events_learning.json] [--md bench/results/events_learning.md]
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO_ROOT,
    SIGNIFICANCE_HEADERS,
    data_dir,
    machine_header,
    markdown_table,
    significance_columns,
    write_json,
)
from shopper_sim import Shoppers, simulate  # noqa: E402

from shopmatch.eval.evaluator import score_run  # noqa: E402
from shopmatch.events import collect_events, parse_event  # noqa: E402
from shopmatch.judgments import GainMap, Judgments, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.progress import track  # noqa: E402
from shopmatch.rank.features import FEATURE_NAMES, FEATURE_VERSION, candidate_features  # noqa: E402
from shopmatch.rank.from_events import (  # noqa: E402
    DEFAULT_DEBIAS,
    event_ranking_data,
    resolved_label_model,
    train_from_events,
)
from shopmatch.rank.model import Ranker  # noqa: E402
from shopmatch.rank.training import RankingData, grades  # noqa: E402
from shopmatch.search import ranker_inputs  # noqa: E402

CACHE = REPO_ROOT / "bench" / "data" / "events-learning"
PREVIOUS = {"rank_features": True, "monotone": False, "num_leaves": 15, "min_data_in_leaf": 20, "lambda_l2": 0.0}
"""The trainer of the first record: rank features read, no constraints, LightGBM's leaves."""
NAIVE = "naive click-through"
_ROWS = {
    "naive click-through, previous trainer": ("none", "ctr", PREVIOUS),
    "click model (COEC labels), previous trainer (the previous default)": ("click-model", "coec", PREVIOUS),
    NAIVE: ("none", "ctr", {}),
    "click model (PBM labels)": ("click-model", "pbm", {}),
    "click model (COEC labels)": ("click-model", "coec", {}),
    "naive click-through, no event features": ("none", "ctr", {"event_features": False}),
    "click model (COEC labels), no event features": ("click-model", "coec", {"event_features": False}),
    "unbiased LambdaMART (position)": ("position", "ctr", {}),
    "inverse-propensity weights (PBM θ)": ("ipw", "ctr", {}),
    "COEC labels + unbiased LambdaMART (position)": ("position", "coec", {}),
}
VARIANTS = {
    f"{name} (the default)"
    if (debias, model) == (DEFAULT_DEBIAS, resolved_label_model(DEFAULT_DEBIAS, None)) and not options
    else name: (debias, model, options)
    for name, (debias, model, options) in _ROWS.items()
}
"""Rows: (debias, label model, trainer options over ``train_from_events``'s defaults: no rank features,
monotone, 7 leaves); the previous trainer's rows with ``--previous-trainer``. "(the default)" marks
what ``train ranker --events`` trains by default."""


@dataclass
class TrainQuery:
    """A training query's candidates (the pipeline's top 100, then the judged), features and grades."""

    text: str
    ids: list[str]
    found: int
    features: np.ndarray
    grades: np.ndarray


@dataclass
class EvalQuery:
    """A test query's top 100 as the ranker stage receives them, with the features it computes."""

    ids: list[str]
    features: np.ndarray


def _cached(name: str, key: str, build):
    path = CACHE / f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))
    return value


def default_index(directory: Path, dataset: str) -> SearchPipeline:
    """The default pipeline's index of a data set: loaded, or built (minutes for Home Depot) and saved."""
    if not (directory / "manifest.json").is_file():
        from shopmatch.catalog import read_catalog
        from shopmatch.config import PipelineConfig

        print(f"building the default index of {dataset} into {directory}", flush=True)
        products = read_catalog(data_dir() / dataset / "products.jsonl").products
        SearchPipeline.build(products, PipelineConfig()).save(directory)
    return SearchPipeline.load(directory)


def train_queries(pipeline: SearchPipeline, judged: Judgments, gains: GainMap) -> dict[str, TrainQuery]:
    """As :func:`shopmatch.rank.training.ranking_data`, keeping the product ids."""
    snapshot, qrels = pipeline.snapshot, judged.qrels(gains)
    grade_of = grades({f"{q}\t{p}": g for q, d in qrels.items() for p, g in d.items()})
    out = {}
    for q in track(judged.query_ids, total=len(judged.query_ids), description="Train features"):
        text, truth = judged.queries[q], qrels.get(q, {})
        found = [pid for pid, _ in pipeline.search_ids([text], k=100)[0]]
        inputs = ranker_inputs(snapshot, text, list(dict.fromkeys([*found, *sorted(truth)])))
        n = int((inputs.hits.rows[0] >= 0).sum())
        if not n:
            continue
        features = candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, n)
        ids = [snapshot.id_of(int(r)) for r in inputs.hits.rows[0, :n]]
        labels = np.array([grade_of.get(truth[p], 0) if p in truth else 0 for p in ids], dtype=np.int32)
        out[q] = TrainQuery(text, ids, len(found), features, labels)
    return out


def search_train_queries(pipeline: SearchPipeline, judged: Judgments, gains: GainMap) -> dict[str, TrainQuery]:
    """Each training query's top 100 with the features the ranker stage computes for them (the search
    path, as :func:`eval_queries`) and their grades: what ``shopmatch train ranker`` trains on (judged
    products the search does not find are left out, as the ranker never sees them)."""
    qrels = judged.qrels(gains)
    grade_of = grades({f"{q}\t{p}": g for q, d in qrels.items() for p, g in d.items()})
    out = {}
    for q, t in eval_queries(pipeline, judged).items():
        truth = qrels.get(q, {})
        labels = np.array([grade_of[truth[p]] if p in truth else 0 for p in t.ids], dtype=np.int32)
        out[q] = TrainQuery(judged.queries[q], t.ids, len(t.ids), t.features, labels)
    return out


class _Recorder:
    """Stands in for a ranker in the search path: records the features, keeps the order."""

    groups = ()

    def __init__(self) -> None:
        self.last: np.ndarray | None = None

    def predict(self, features: np.ndarray) -> np.ndarray:
        self.last = features.copy()
        return -np.arange(len(features), dtype=np.float64)


def eval_queries(pipeline: SearchPipeline, judged: Judgments) -> dict[str, EvalQuery]:
    """Each query's top 100 and the features the ranker stage computes for them (retrieval mode)."""
    recorder = _Recorder()
    pipeline.index.ranker = recorder
    out = {}
    try:
        for q in track(judged.query_ids, total=len(judged.query_ids), description="Test features"):
            recorder.last = None
            ids = [pid for pid, _ in pipeline.search_ids([judged.queries[q]], k=100)[0]]
            features = recorder.last if recorder.last is not None else np.zeros((0, len(FEATURE_NAMES)), np.float32)
            out[q] = EvalQuery(ids, features)
    finally:
        pipeline.index.ranker = None
    return out


TOP_N = 100
"""How many of the found candidates an events-trained ranker re-orders (``[ranker] top_n``; ``--event-top-n``)."""


def ranked_ndcg(ranker, tests: Mapping[str, EvalQuery], judged: Judgments, gains: GainMap) -> dict[str, float]:
    """Per-query NDCG@10 of each test query's top 100 re-ordered by ``ranker`` (None: as found); an
    events-trained ranker re-orders the first :data:`TOP_N` only (the rest stay after them)."""
    run = {}
    for q, t in tests.items():
        order = np.arange(len(t.ids))
        if ranker is not None and len(t.ids):
            n = min(TOP_N, len(t.ids)) if ranker.groups else len(t.ids)
            features = t.features[:n]
            if ranker.groups:
                features = np.hstack([features, *(g.values(t.ids[:n]) for g in ranker.groups)])
            order = np.concatenate([np.argsort(-ranker.predict(features), kind="stable"), np.arange(n, len(t.ids))])
        run[q] = [(t.ids[i], float(len(order) - r)) for r, i in enumerate(order)]
    return dict(score_run(run, judged.subset(tests), gains, "retrieval").per_query["ndcg@10"])


def found_lists(pipeline: SearchPipeline, judged: Judgments) -> dict[str, list[str]]:
    """Each query's top 100 as the pipeline returns it (what the simulated shoppers see the top 10 of)."""
    return {
        q: [p for p, _ in pipeline.search_ids([judged.queries[q]], k=100)[0]]
        for q in track(judged.query_ids, total=len(judged.query_ids), description="Searching")
    }


def as_eval(train: Mapping[str, TrainQuery], found: Mapping[str, list[str]]) -> dict[str, EvalQuery]:
    """Training queries scored like test queries (their found top 100, training features): the
    selection split's stand-in for the search path."""
    out = {}
    for q, t in train.items():
        where = {p: i for i, p in enumerate(t.ids)}
        ids = [p for p in found[q] if p in where]
        out[q] = EvalQuery(ids, t.features[[where[p] for p in ids]])
    return out


def ceiling(train: Mapping[str, TrainQuery]):
    qs = sorted(train)
    data = RankingData(
        qs,
        np.concatenate([train[q].features for q in qs]),
        np.concatenate([train[q].grades for q in qs]),
        [len(train[q].ids) for q in qs],
    )
    return lambdamart(data)


TRAINER_CEILING = "ceiling with the events trainer's settings (true judgments, no rank features, monotone, cautious)"


def trainer_ceiling(train: Mapping[str, TrainQuery]) -> Ranker:
    """The ranker trained on the true judgments of the training queries' top 100 with the events
    trainer's settings (``train_from_events``'s defaults: rank features held constant, monotone,
    :data:`~shopmatch.rank.from_events.EVENT_PARAMS`, 100 rounds): a yardstick that differs from the
    events rankers only in the labels (``--trainer-ceiling``)."""
    from shopmatch.rank.from_events import EVENT_PARAMS, RANK_FEATURES
    from shopmatch.rank.selection import MONOTONE

    qs = sorted(train)
    features = np.concatenate([train[q].features for q in qs]).copy()
    features[:, [FEATURE_NAMES.index(n) for n in RANK_FEATURES]] = 0.0
    return Ranker.train(
        features,
        np.concatenate([train[q].grades for q in qs]),
        [len(train[q].ids) for q in qs],
        FEATURE_NAMES,
        rounds=100,
        seed=0,
        feature_version=FEATURE_VERSION,
        monotone=MONOTONE,
        **EVENT_PARAMS,
    )


def lambdamart(data: RankingData, valid_share: float = 0.2, seed: int = 0) -> Ranker:
    """The ceiling as the record measured it: LambdaMART with its defaults, early-stopped on a seeded
    fifth of the queries (``shopmatch train ranker`` now chooses among models instead)."""
    train, valid = data.held_out(valid_share, seed)
    held = len(valid.query_ids)
    return Ranker.train(
        train.features,
        train.labels,
        train.groups,
        FEATURE_NAMES,
        valid=(valid.features, valid.labels, valid.groups) if held else None,
        seed=seed,
        feature_version=FEATURE_VERSION,
    )


def simulated_log(
    train, found, judged: Judgments, gains: GainMap, sessions: int, theta: float, shuffle: float = 0.0, seed: int = 0
):
    """Events of ``sessions`` simulated shoppers per training query, shown its found top 10 (``seed``:
    the simulation's, ``bench/shopper_sim.py``)."""
    qrels = judged.qrels(gains)
    queries = {q: train[q].text for q in train}
    shown = {train[q].text: found[q][:10] for q in train}
    records = simulate(
        queries,
        {q: qrels.get(q, {}) for q in train},
        lambda t: shown[t],
        sessions,
        Shoppers(theta=theta, shuffle_share=shuffle),
        seed=seed,
    )
    return collect_events(parse_event(r) for r in records)


def features_lookup(train: Mapping[str, TrainQuery], found: Mapping[str, list[str]]):
    """As :func:`shopmatch.rank.from_events.pipeline_features`, from the cached candidates."""
    by_text = {}
    for q, t in train.items():
        by_text.setdefault(" ".join(t.text.casefold().split()), (t, found[q]))

    def features_of(text: str, wanted: Sequence[str]):
        t, top = by_text[" ".join(text.casefold().split())]
        where = {p: i for i, p in enumerate(t.ids)}
        known = [p for p in wanted if p in where]
        ids = known + [p for p in top if p in where and p not in set(known)]
        return ids, t.features[[where[p] for p in ids]]

    return features_of


UNSHOWN = 90
"""Candidates not shown added to each group at grade 0 (``--unshown``)."""


def event_rankers(log, train, found, variants=VARIANTS, unshown=None):
    lookup = features_lookup(train, found)
    out = {}
    built = {}
    for name, (debias, model, options) in variants.items():
        if (debias, model) not in built:
            built[(debias, model)] = event_ranking_data(
                log, lookup, debias=debias, label_model=model, unshown=UNSHOWN if unshown is None else unshown
            )
        out[name] = train_from_events(built[(debias, model)], **options)
    return out


def table(rows: Mapping[str, dict[str, float]], base: str, naive: str | None, top: str) -> tuple[str, list[dict]]:
    mean = {name: float(np.mean(list(v.values()))) for name, v in rows.items()}
    gain = mean[top] - mean[base]
    headers = ["system", "NDCG@10", "share of ceiling's gain", *(f"vs untrained {h}" for h in SIGNIFICANCE_HEADERS)]
    if naive:
        headers += [f"vs naive {h}" for h in ("Δ", "p", "better/worse")]
    lines, records = [], []
    for name, per_query in rows.items():
        share = (mean[name] - mean[base]) / gain if gain else float("nan")
        vs_base = significance_columns(rows[base], per_query) if name != base else [""] * 5
        cells = [name, f"{mean[name]:.4f}", "" if name == base else f"{share:.0%}", *vs_base]
        record = {"system": name, "ndcg@10": mean[name], "share": share, "vs_untrained": vs_base}
        if naive:
            vs_naive = significance_columns(rows[naive], per_query) if name not in (base, naive) else [""] * 5
            cells += [vs_naive[0], vs_naive[2], vs_naive[4]]
            record["vs_naive"] = vs_naive
        lines.append(cells)
        records.append(record)
    return markdown_table(headers, lines), records


def seeds_table(
    by_seed: Mapping[int, Mapping[str, dict[str, float]]], base: str, naive: str, top: str
) -> tuple[str, list[dict]]:
    """One row per system over simulation seeds: NDCG@10 and share of the ceiling's gain per seed and
    their median, the p of the paired tests against the untrained pipeline and naive click-through
    per seed, and the paired tests against both of the per-query NDCG@10 averaged over the seeds."""
    seeds = sorted(by_seed)
    first = by_seed[seeds[0]]
    mean = {s: {n: float(np.mean(list(v.values()))) for n, v in by_seed[s].items()} for s in seeds}
    headers = [
        "system",
        "NDCG@10 by seed",
        "median NDCG@10",
        "share of ceiling's gain by seed",
        "median share",
        "vs untrained p by seed",
        "vs naive p by seed",
        "vs untrained, mean of seeds: Δ",
        "p",
        "better/worse",
        "vs naive, mean of seeds: Δ",
        "p",
        "better/worse",
    ]
    lines, records = [], []
    for name in first:
        ndcg = [mean[s][name] for s in seeds]
        shares = [(mean[s][name] - mean[s][base]) / (mean[s][top] - mean[s][base]) for s in seeds]
        vs_base = [significance_columns(by_seed[s][base], by_seed[s][name])[2] for s in seeds] if name != base else []
        skip = name in (base, naive)
        vs_naive = [significance_columns(by_seed[s][naive], by_seed[s][name])[2] for s in seeds] if not skip else []
        averaged = {
            n: {q: float(np.mean([by_seed[s][n][q] for s in seeds])) for q in first[n]} for n in (base, naive, name)
        }
        pooled_base = significance_columns(averaged[base], averaged[name]) if name != base else [""] * 5
        pooled = significance_columns(averaged[naive], averaged[name]) if not skip else [""] * 5
        lines.append(
            [
                name,
                " / ".join(f"{v:.4f}" for v in ndcg),
                f"{np.median(ndcg):.4f}",
                " / ".join(f"{v:.0%}" for v in shares) if name != base else "",
                f"{np.median(shares):.0%}" if name != base else "",
                " / ".join(vs_base),
                " / ".join(vs_naive),
                pooled_base[0],
                pooled_base[2],
                pooled_base[4],
                pooled[0],
                pooled[2],
                pooled[4],
            ]
        )
        records.append(
            {
                "system": name,
                "seeds": seeds,
                "ndcg@10": ndcg,
                "share": shares,
                "vs_untrained_p": vs_base,
                "vs_naive_p": vs_naive,
                "vs_untrained_mean_of_seeds": pooled_base,
                "vs_naive_mean_of_seeds": pooled,
            }
        )
    return markdown_table(headers, lines), records


ROWS = ("untrained pipeline", NAIVE, "ceiling: true judgments")  # a table's base, naive and ceiling rows


def reported(
    made: tuple[str, list[dict]], results: dict, key: str, title: str, started: float | None = None
) -> list[str]:
    """Keep a ``(markdown, records)`` table under ``results[key]``, print it under ``title``
    (with the time so far), and return its markdown lines."""
    text, results[key] = made
    took = f"\n({time.perf_counter() - started:.0f} s)" if started is not None else ""
    print(f"\n{title}\n\n{text}{took}", flush=True)
    return [title, "", text, ""]


def hd_train(pipeline, judged, gains, train_ids, key, mode="search") -> dict[str, TrainQuery]:
    """The Home Depot training queries' candidates and features (cached): ``search``, the search path's
    top 100 as the ranker stage receives them (what ``train ranker`` learns from); ``rerank``, the
    first record's rerank-mode features of the top 100 plus the judged products."""
    if mode == "rerank":
        return _cached(
            "hd-train", key + ",".join(train_ids), lambda: train_queries(pipeline, judged.subset(train_ids), gains)
        )
    return _cached(
        "hd-train-search",
        key + ",".join(train_ids),
        lambda: search_train_queries(pipeline, judged.subset(train_ids), gains),
    )


def chosen_variants(args) -> dict[str, tuple]:
    """The events rows asked for: the previous trainer's with ``--previous-trainer``, those matching
    ``--rows`` (naive click-through always)."""
    return {
        n: v
        for n, v in VARIANTS.items()
        if (args.previous_trainer or v[2] is not PREVIOUS)
        and (not args.rows or n == NAIVE or any(r in n for r in args.rows))
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--homedepot-index", type=Path, default=CACHE / "homedepot-default", help="built if missing")
    parser.add_argument("--esci-index", type=Path, default=CACHE / "esci-us-150-default", help="built if missing")
    parser.add_argument("--train-queries", type=int, default=1500, help="seeded sample of HD train (0: all)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--theta", type=float, nargs="+", default=[1.0])
    parser.add_argument("--dev-queries", type=int, default=0, help="only the first N dev queries (smoke tests)")
    parser.add_argument("--shuffle-share", type=float, default=0.0, help="share of sessions shown shuffled")
    parser.add_argument("--skip-esci", action="store_true")
    parser.add_argument("--skip-homedepot", action="store_true")
    parser.add_argument("--skip-selection", action="store_true")
    parser.add_argument("--only-selection", action="store_true")
    parser.add_argument("--unshown", type=int, default=90, help="not-shown candidates per group at grade 0")
    parser.add_argument("--selection-unshown", type=int, nargs="+", default=[0, 90])
    parser.add_argument(
        "--train-features",
        choices=("search", "rerank"),
        default="search",
        help="training features: the search path's (as the ranker stage reads them) or rerank mode's (first record)",
    )
    parser.add_argument(
        "--previous-ceiling", action="store_true", help="also the first record's ceiling (rerank-mode features)"
    )
    parser.add_argument("--sim-seeds", type=int, nargs="+", default=[0], help="simulation seeds")
    parser.add_argument("--rows", nargs="+", default=None, help="only these events rows (substring; naive always)")
    parser.add_argument(
        "--previous-trainer", action="store_true", help="also the first record's trainer (rank features, 15 leaves)"
    )
    parser.add_argument(
        "--trainer-ceiling", action="store_true", help="also the true judgments with the events trainer's settings"
    )
    parser.add_argument("--event-top-n", type=int, default=100, help="candidates an events ranker re-orders")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "bench" / "results" / "events_learning.json")
    parser.add_argument("--md", type=Path, default=REPO_ROOT / "bench" / "results" / "events_learning.md")
    args = parser.parse_args(argv)
    global TOP_N, UNSHOWN
    TOP_N, UNSHOWN = args.event_top_n, args.unshown
    started = time.perf_counter()
    md = ["# Learning to rank from simulated shopper events", "", *machine_header(), ""]
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}}

    if args.skip_homedepot:
        md += esci(args, results, started)
        md += [f"Took {time.perf_counter() - started:.0f} s on the loaded 2-core machine."]
        write_json(args.json, results)
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text("\n".join(md) + "\n", encoding="utf-8")
        return 0

    # ---- Home Depot -----------------------------------------------------------------------------
    hd_gains = GainMap.parse("offset=1")
    hd = read_judgments(data_dir() / "homedepot" / "judgments.tsv", gains=hd_gains)
    ids = sorted(hd.query_ids)
    dev_ids, train_ids = ids[::10], [q for i, q in enumerate(ids) if i % 10]
    dev_ids = dev_ids[: args.dev_queries] if args.dev_queries else dev_ids
    if args.train_queries and args.train_queries < len(train_ids):
        train_ids = sorted(random.Random(0).sample(train_ids, args.train_queries))
    pipeline = default_index(args.homedepot_index, "homedepot")
    key = f"{args.homedepot_index}|{FEATURE_VERSION}|{FEATURE_NAMES}|"
    train = hd_train(pipeline, hd, hd_gains, train_ids, key, args.train_features)
    dev = _cached("hd-dev", key + ",".join(dev_ids), lambda: eval_queries(pipeline, hd.subset(dev_ids)))
    found = _cached("hd-found", key + ",".join(train_ids), lambda: found_lists(pipeline, hd.subset(train_ids)))
    print(f"features: {len(train)} train, {len(dev)} dev queries ({time.perf_counter() - started:.0f} s)", flush=True)
    md += [
        f"Home Depot: {len(train):,} train queries (seeded sample of {len(ids) - len(dev_ids):,}), "
        f"{len(dev):,} dev queries, index `{args.homedepot_index}`.",
        "",
    ]

    if not args.skip_selection:
        md += selection(train, found, hd, hd_gains, results, args.selection_unshown)
    if args.only_selection:
        write_json(args.json, results)
        return 0

    top = ceiling(train)
    md += [f"Events rankers: {UNSHOWN} not-shown candidates per group at grade 0 (`unshown`).", ""]
    base_rows = {"untrained pipeline": ranked_ndcg(None, dev, hd, hd_gains)}
    ceiling_row = ranked_ndcg(top, dev, hd, hd_gains)
    trainer_row = ranked_ndcg(trainer_ceiling(train), dev, hd, hd_gains) if args.trainer_ceiling else None
    previous_ceiling = None
    if args.previous_ceiling:
        previous = hd_train(pipeline, hd, hd_gains, train_ids, key, "rerank")
        previous_ceiling = ranked_ndcg(ceiling(previous), dev, hd, hd_gains)
    variants = chosen_variants(args)
    for theta in args.theta:
        for sessions in args.sessions:
            by_seed = {}
            for seed in args.sim_seeds:
                log = simulated_log(train, found, hd, hd_gains, sessions, theta, args.shuffle_share, seed=seed)
                rows = dict(base_rows)
                for name, ranker in event_rankers(log, train, found, variants).items():
                    rows[name] = ranked_ndcg(ranker, dev, hd, hd_gains)
                    if name.startswith("unbiased"):
                        results.setdefault("propensities", {})[f"{sessions}-{theta:g}-{seed}"] = ranker.summary[
                            "propensities"
                        ]
                if previous_ceiling is not None:
                    rows["ceiling of the first record (rerank-mode features, judged products added)"] = previous_ceiling
                if trainer_row is not None:
                    rows[TRAINER_CEILING] = trainer_row
                rows["ceiling: true judgments"] = ceiling_row
                by_seed[seed] = rows
                seeded = f"-seed{seed}" if args.sim_seeds != [0] else ""
                shuffled = f", {args.shuffle_share:.0%} of sessions shuffled" if args.shuffle_share else ""
                title = (
                    f"## Home Depot dev, {sessions} sessions per query, θ = {theta:g}{shuffled}"
                    f"{f', simulation seed {seed}' if seeded else ''} ({log.summary()})"
                )
                setting = f"homedepot-{sessions}-{theta:g}-{args.shuffle_share:g}"
                md += reported(table(rows, *ROWS), results, setting + seeded, title, started)
            if len(by_seed) > 1:
                title = f"## Home Depot dev, {sessions} sessions per query, θ = {theta:g}: over simulation seeds"
                md += reported(seeds_table(by_seed, *ROWS), results, setting + "-seeds", title)

    # ---- esci-us-150, 5 folds -------------------------------------------------------------------
    if not args.skip_esci:
        md += esci(args, results, started)
    md += [f"Took {time.perf_counter() - started:.0f} s on the loaded 2-core machine."]
    write_json(args.json, results)
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text("\n".join(md) + "\n", encoding="utf-8")
    print(f"written {args.md}, {args.json}")
    return 0


def selection(train, found, judged, gains, results, unshown_values) -> list[str]:
    """Which correction to default to: events of 80 % of the training queries, judged on the other 20 %."""
    qs = sorted(train)
    random.Random(1).shuffle(qs)
    held = set(qs[: len(qs) // 5])
    fit = {q: t for q, t in train.items() if q not in held}
    tests = as_eval({q: t for q, t in train.items() if q in held}, found)
    md = ["## Choosing the default correction (training data only: HD train split 80/20)", ""]
    for sessions in (10, 30):
        log = simulated_log(fit, found, judged, gains, sessions, 1.0)
        rows = {"untrained pipeline": ranked_ndcg(None, tests, judged, gains)}
        for unshown in unshown_values:
            for name, ranker in event_rankers(log, fit, found, unshown=unshown).items():
                rows[f"{name}, unshown {unshown}"] = ranked_ndcg(ranker, tests, judged, gains)
        rows["ceiling: true judgments"] = ranked_ndcg(ceiling(fit), tests, judged, gains)
        naive = f"naive click-through, unshown {unshown_values[0]}"
        text, records = table(rows, "untrained pipeline", naive, "ceiling: true judgments")
        results[f"selection-{sessions}"] = records
        md += [
            f"### {sessions} sessions per query, θ = 1; {len(fit)} queries' events, {len(tests)} judged",
            "",
            text,
            "",
        ]
        print(f"\nselection, {sessions} sessions\n{text}", flush=True)
    return md


@dataclass
class Fold:
    """One fold of a cross-validation: the training queries' candidates (their events train the
    rankers), the held-out queries, and the per-query NDCG@10 of the systems that do not depend on
    the events (the same for every seed and session level)."""

    fit: dict[str, TrainQuery]
    held: dict[str, EvalQuery]
    untrained: dict[str, float]
    ceiling: dict[str, float]


def esci_folds(train, tests, judged: Judgments, gains: GainMap, k: int = 5) -> list[Fold]:
    """``judged.folds(k)`` with each fold's untrained and ceiling figures."""
    out = []
    for fold_train, fold_test in judged.folds(k):
        fit = {q: train[q] for q in fold_train.query_ids if q in train}
        held = {q: tests[q] for q in fold_test.query_ids}
        top = ceiling(fit)
        out.append(Fold(fit, held, ranked_ndcg(None, held, judged, gains), ranked_ndcg(top, held, judged, gains)))
    return out


def pooled_folds(
    folds: Sequence[Fold], found, judged: Judgments, gains: GainMap, sessions: int, seed: int, variants, shuffle=0.0
) -> dict[str, dict[str, float]]:
    """Per system, the per-query NDCG@10 of every held-out query: each fold's events rankers trained on
    ``sessions`` simulated sessions (simulation ``seed``) of its training queries."""
    rows: dict[str, dict[str, float]] = {}
    for fold in folds:
        log = simulated_log(fold.fit, found, judged, gains, sessions, 1.0, shuffle, seed=seed)
        scored = {"untrained pipeline": fold.untrained}
        for name, ranker in event_rankers(log, fold.fit, found, variants).items():
            scored[name] = ranked_ndcg(ranker, fold.held, judged, gains)
        scored["ceiling: true judgments"] = fold.ceiling
        for name, per_query in scored.items():
            rows.setdefault(name, {}).update(per_query)
    return rows


def shown_coverage(folds: Sequence[Fold], found, judged: Judgments, gains: GainMap) -> dict[str, int]:
    """How many of the held-out queries' top-100 candidates (all, and those judged relevant) some
    training query of the same fold showed in its top 10: what the event features (each product's
    rates over the training events) can carry to the held-out queries."""
    relevant = judged.relevant(gains)
    out = dict.fromkeys(("candidates", "shown", "relevant", "relevant_shown"), 0)
    for fold in folds:
        shown = {p for q in fold.fit for p in found[q][:10]}
        for q in fold.held:
            for p in found[q][:100]:
                hit, good = p in shown, p in relevant.get(q, ())
                out["candidates"] += 1
                out["shown"] += hit
                out["relevant"] += good
                out["relevant_shown"] += hit and good
    return out


def esci(args, results, started) -> list[str]:
    """esci-us-150, 5 folds: each fold's events rankers trained on the events of the other 4 folds and
    scored on it, all 150 pooled; per simulation seed, and over the seeds as Home Depot's."""
    gains = GainMap.esci()
    judged = read_judgments(data_dir() / "esci-us-150" / "judgments.tsv", gains=gains)
    pipeline = default_index(args.esci_index, "esci-us-150")
    key = f"{args.esci_index}|{FEATURE_VERSION}|{FEATURE_NAMES}"
    if args.train_features == "rerank":
        train = _cached("esci-train", key, lambda: train_queries(pipeline, judged, gains))
    else:
        train = _cached("esci-train-search", key, lambda: search_train_queries(pipeline, judged, gains))
    tests = _cached("esci-test", key, lambda: eval_queries(pipeline, judged))
    found = _cached("esci-found", key, lambda: found_lists(pipeline, judged))
    folds = esci_folds(train, tests, judged, gains)
    variants = chosen_variants(args)
    seen = results["esci-shown"] = shown_coverage(folds, found, judged, gains)
    md = [
        f"esci-us-150: index `{args.esci_index}`. Of the held-out queries' top-100 candidates, "
        f"{seen['shown'] / max(seen['candidates'], 1):.1%} were shown for some training query of their fold "
        f"({seen['relevant_shown']:,} of the {seen['relevant']:,} judged relevant): all the event features "
        "can carry to them.",
        "",
    ]
    for sessions in args.sessions:
        by_seed = {}
        for seed in args.sim_seeds:
            rows = pooled_folds(folds, found, judged, gains, sessions, seed, variants, args.shuffle_share)
            by_seed[seed] = rows
            seeded = f"-seed{seed}" if args.sim_seeds != [0] else ""
            title = (
                f"## esci-us-150, 5 folds (events of the training folds), {sessions} sessions per query, θ = 1"
                f"{f', simulation seed {seed}' if seeded else ''}"
            )
            md += reported(table(rows, *ROWS), results, f"esci-{sessions}{seeded}", title, started)
        if len(by_seed) > 1:
            title = f"## esci-us-150, 5 folds, {sessions} sessions per query, θ = 1: over simulation seeds"
            md += reported(seeds_table(by_seed, *ROWS), results, f"esci-{sessions}-seeds", title)
    return md


if __name__ == "__main__":
    sys.exit(main())
