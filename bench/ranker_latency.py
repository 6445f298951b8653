"""The learned-ranker stage alone: features of the top 100 candidates + the model's prediction, per query.

Usage::

    python bench/ranker_latency.py [--only esci|homedepot] [--runs 3] [--rounds 300 | --select]
        [--train-queries 400] [--json out.json]

For each data set (the prebuilt default indexes in ``/work/cache``: BM25F + bi-encoder, RRF):

- a ranker is trained, on the features ``shopmatch train ranker --judgments`` extracts (the base
  features, and category intent where the index has an intent model), on training queries with
  ``--rounds`` trees and no early stopping (300: the
  most ``shopmatch train ranker`` ships; ``--select``: the model its selection ships instead, chosen
  by inner CV with early stopping; ``--ranker DIR`` measures a given one). esci-us-150:
  all 150 judged queries (latency, not quality: in-sample does not matter here); Home Depot: a seeded
  sample of ``--train-queries`` train queries (dev = every 10th query id is never trained on);
- the measured queries: esci-us-150's 150 queries (all it has), Home Depot's first 200 dev queries;
  each query's candidates come from a retrieval-mode search (not timed), exactly as the stage gets them;
- per query, the stage as shipped (``candidate_features``: the snapshot's product tables, BM25F of
  the unlisted candidates read from the query terms' columns; LightGBM on one thread) and, in the same
  run and interleaved query by query, the reference path it replaced
  (:func:`shopmatch.rank.reference_features.reference_features`: each candidate's record read and
  analyzed (cached per product), exclusions checked on the record, unlisted candidates' BM25F by a
  restricted search; LightGBM with its default threads);
- p50 / p90 / p99 of features, predict and both (the "stage"), median over ``--runs`` runs, after one
  warm-up pass of each path (the reference's per-product analysis cache is warm too); the speed-up
  is the ratio of the two paths' medians; and the shipped stage as the search path calls it
  (``rank_hits``: features, predict and the re-ordering of the hits, the ``rank_hits`` columns),
  timed in a pass of its own after the interleaved one (right after the reference path, LightGBM's
  OpenMP threads keep spinning for a while and slow whatever runs next);
- the one-off product table build (seconds, array memory, process RSS growth), and a check that both
  paths give identical features and scores.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO_ROOT,
    cached_ranker_rows,
    current_rss_mib,
    data_dir,
    machine_header,
    markdown_table,
    skip_if_missing,
    write_json,
)

from shopmatch.judgments import GainMap, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.progress import track  # noqa: E402
from shopmatch.rank.feature_groups import default_groups, group_features  # noqa: E402
from shopmatch.rank.features import candidate_features  # noqa: E402
from shopmatch.rank.model import Ranker  # noqa: E402
from shopmatch.rank.reference_features import reference_features  # noqa: E402
from shopmatch.rank.stage import rank_hits  # noqa: E402
from shopmatch.search import retrieval_ranker_inputs  # noqa: E402

CACHE = REPO_ROOT / "bench" / "data"
HOMEDEPOT_GAINS = "offset=1,relevant>=2.5"
PARTS = ("features", "predict", "stage")
PERCENTILES = (50, 90, 99)


def log(message: str) -> None:
    print(f"> {message}", file=sys.stderr, flush=True)


def trained_ranker(
    name: str, pipeline: SearchPipeline, judgments, gains: GainMap, rounds: int, select: bool = False
) -> Path:
    """A ranker with ``rounds`` trees trained on ``judgments`` or, with ``select``, the one ``shopmatch
    train ranker``'s selection ships (features cached under bench/data, per training-set size)."""
    queries = len(judgments.query_ids)
    groups = default_groups(pipeline.snapshot)  # what train ranker --judgments adds (intent on esci)
    suffix = "".join("-" + g.name for g in groups)
    directory = CACHE / f"ranker-latency-{name}-{queries}{suffix}-{'selected' if select else rounds}"
    if (directory / "ranker.json").exists():
        return directory
    data = cached_ranker_rows(f"ranker-latency-{name}-{queries}", pipeline, judgments, gains)
    if select:
        from shopmatch.rank.selection import fit_ranker

        selection = fit_ranker(data)
        log(f"{name}: the selection chose {selection.chosen!r} on {len(data.query_ids)} queries")
        return selection.ranker.save(directory)
    log(f"{name}: training a {rounds}-tree ranker on {len(data.query_ids)} queries …")
    ranker = Ranker.train(
        data.features, data.labels, data.groups, data.feature_names, rounds=rounds, label_gain=data.gains
    )
    ranker.groups = tuple(data.feature_groups)
    return ranker.save(directory)


def old_predict(ranker: Ranker, features: np.ndarray) -> np.ndarray:
    """What ``Ranker.predict`` did before: LightGBM with its default (all) threads."""
    return ranker.base_scores(features) + ranker.booster.predict(features, num_iteration=ranker._iterations())


def measure(index: Path, ranker_dir: Path, texts: list[str], runs: int) -> dict[str, Any]:
    ranked = SearchPipeline.load(index).with_ranker(ranker_dir)  # loaded afresh: its product table is not built yet
    snapshot, ranker = ranked.snapshot, ranked.ranker
    top_n = ranked.config.ranker.top_n
    inputs = []
    for text in track(texts, description="candidates"):
        found = retrieval_ranker_inputs(snapshot, text)
        inputs.append((found, min(int((found.hits.rows[0] >= 0).sum()), top_n)))
    rss = current_rss_mib()
    started = time.perf_counter()
    tables = snapshot.ranker_tables()
    build = {
        "seconds": time.perf_counter() - started,
        "array_mib": tables.nbytes / 2**20,
        "rss_growth_mib": current_rss_mib() - rss,
        "products": len(tables),
        "terms": sum(len(t.vocabulary) for _, t in tables.parts),
        "identifiers": sum(len(t.identifier_vocabulary) for _, t in tables.parts),
    }

    def with_groups(base_features):
        """A path's base features, then the ranker's groups (the same code on both paths)."""
        if not ranker.groups:
            return base_features

        def features_of(*args):
            base = base_features(*args)
            return np.hstack([base, group_features(ranker.groups, *args[:4], len(base))])

        return features_of

    paths = {
        "table": (with_groups(candidate_features), ranker.predict),
        "reference": (with_groups(reference_features), lambda x: old_predict(ranker, x)),
    }
    differ, max_score_diff = 0, 0.0
    for found, n in inputs:  # warm-up, and both paths must agree
        args = (snapshot, found.query, found.prepared, found.hits, n)
        new, old = paths["table"][0](*args), paths["reference"][0](*args)
        differ += int(not np.array_equal(new, old))
        if n:
            max_score_diff = max(max_score_diff, float(np.abs(ranker.predict(new) - old_predict(ranker, old)).max()))
    per_run: list[dict[str, dict[str, float]]] = []
    ratios: list[float] = []
    for run in range(runs):
        samples = {path: {part: [] for part in PARTS} for path in paths}
        whole: list[float] = []
        gc.collect()
        for found, n in inputs:
            for path in paths if run % 2 == 0 else reversed(list(paths)):  # alternate which goes first
                features_of, predict = paths[path]
                started = time.perf_counter()
                features = features_of(snapshot, found.query, found.prepared, found.hits, n)
                middle = time.perf_counter()
                if n:
                    predict(features)
                ended = time.perf_counter()
                samples[path]["features"].append(middle - started)
                samples[path]["predict"].append(ended - middle)
                samples[path]["stage"].append(ended - started)
        # the shipped stage as the search path calls it (features, predict, re-ordering), in a pass of
        # its own: right after the reference path, LightGBM's OpenMP threads still spin on both cores
        for found, _ in inputs:
            started = time.perf_counter()
            rank_hits(ranker, snapshot, found.query, found.prepared, found.hits, top_n=top_n)
            whole.append(time.perf_counter() - started)
        per_run.append(
            {
                path: {
                    f"{part}_p{p}_ms": float(np.percentile(np.asarray(s[part]) * 1e3, p))
                    for part in PARTS
                    for p in PERCENTILES
                }
                for path, s in samples.items()
            }
        )
        whole_ms = np.asarray(whole) * 1e3
        per_run[-1]["table"].update({f"whole_p{p}_ms": float(np.percentile(whole_ms, p)) for p in PERCENTILES})
        ratios.append(
            float(np.median(np.asarray(samples["reference"]["stage"]) / np.asarray(samples["table"]["stage"])))
        )
        log(
            f"run {run + 1}/{runs}: stage p50 {per_run[-1]['table']['stage_p50_ms']:.3f} ms "
            f"(reference {per_run[-1]['reference']['stage_p50_ms']:.3f} ms)"
        )
    medians = {
        path: {key: statistics.median(run[path][key] for run in per_run) for key in per_run[0][path]} for path in paths
    }
    return {
        "queries": len(inputs),
        "candidates_mean": float(np.mean([n for _, n in inputs])),
        "trees": int(ranker.booster.num_trees()),
        "build": build,
        "differing_feature_rows": differ,
        "max_score_difference": max_score_diff,
        "median": medians,
        "per_query_speedup_median": statistics.median(ratios),
        "runs": per_run,
    }


def tables(title: str, result: dict[str, Any]) -> list[str]:
    median = result["median"]
    rows = []
    for path, label in (("table", "product tables (shipped)"), ("reference", "per-record reference (before)")):
        rows.append(
            [
                label,
                *(median[path][f"{part}_p{p}_ms"] for part in ("features", "predict") for p in (50, 99)),
                *(median[path][f"stage_p{p}_ms"] for p in PERCENTILES),
            ]
        )
    rows[0].append(median["table"]["whole_p50_ms"])
    rows[0].append(median["table"]["whole_p99_ms"])
    rows[1] += ["", ""]
    ratio = [
        "speed-up (reference / shipped)",
        *(median["reference"][k] / median["table"][k] for k in ("features_p50_ms", "features_p99_ms")),
        *(median["reference"][k] / median["table"][k] for k in ("predict_p50_ms", "predict_p99_ms")),
        *(median["reference"][f"stage_p{p}_ms"] / median["table"][f"stage_p{p}_ms"] for p in PERCENTILES),
        "",
        "",
    ]
    headers = [
        "path",
        "features p50 ms",
        "features p99 ms",
        "predict p50 ms",
        "predict p99 ms",
        "stage p50 ms",
        "stage p90 ms",
        "stage p99 ms",
        "rank_hits p50 ms",
        "rank_hits p99 ms",
    ]
    build = result["build"]
    return [
        f"## {title}",
        "",
        f"{result['queries']} queries, {result['candidates_mean']:.1f} candidates each on average, a "
        f"{result['trees']}-tree ranker; medians of {len(result['runs'])} runs (loaded machine).",
        "",
        markdown_table(headers, [*rows, ratio]),
        "",
        f"- per-query speed-up of the stage (median over queries, median of runs): "
        f"{result['per_query_speedup_median']:.1f}×",
        f"- identical features on every query: {'yes' if not result['differing_feature_rows'] else 'NO'} "
        f"({result['differing_feature_rows']} differ); largest score difference {result['max_score_difference']:.2g}",
        f"- product table, built once per index (lazily, at the ranker's first query): {build['seconds']:.1f} s for "
        f"{build['products']:,} products ({build['terms']:,} terms, {build['identifiers']:,} identifiers), "
        f"{build['array_mib']:.1f} MiB of arrays, process RSS +{build['rss_growth_mib']:.0f} MiB",
        "",
    ]


def bench(name: str, index: Path, args: argparse.Namespace, record: dict[str, Any]) -> list[str]:
    if name == "esci":
        folder, gains = data_dir() / "esci-us-150", GainMap.esci()
    else:
        folder, gains = data_dir() / "homedepot", GainMap.parse(HOMEDEPOT_GAINS)
    judgments = read_judgments(folder / "judgments.tsv", gains=gains)
    pipeline = SearchPipeline.load(index)
    if name == "esci":
        train_ids, measured = judgments.query_ids, judgments.query_ids
    else:
        dev = judgments.query_ids[::10]
        held = set(dev)
        train_ids = sorted(
            random.Random(0).sample([q for q in judgments.query_ids if q not in held], args.train_queries)
        )
        measured = dev[: args.queries]
    ranker_dir = args.ranker or trained_ranker(
        name, pipeline, judgments.subset(train_ids), gains, args.rounds, select=args.select
    )
    result = measure(index, ranker_dir, [judgments.queries[q] for q in measured], args.runs)
    record[name] = result
    title = "esci-us-150 (all 150 queries)" if name == "esci" else f"Home Depot dev (first {len(measured)} dev queries)"
    return tables(title, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("esci", "homedepot"), action="append")
    parser.add_argument("--esci-index", type=Path, default=Path("/work/cache/esci-us-150-default"))
    parser.add_argument("--hd-index", type=Path, default=Path("/work/cache/homedepot-default"))
    parser.add_argument("--ranker", type=Path, help="measure this ranker directory instead of training one")
    parser.add_argument("--rounds", type=int, default=300, help="trees of the trained ranker")
    parser.add_argument("--select", action="store_true", help="measure the ranker train ranker's selection ships")
    parser.add_argument("--train-queries", type=int, default=400, help="Home Depot train queries sampled (seeded)")
    parser.add_argument("--queries", type=int, default=200, help="Home Depot dev queries measured")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    lines = ["# Learned-ranker stage latency (features of the top 100 + predict)", "", *machine_header(), ""]
    record: dict[str, Any] = {"runs": args.runs, "rounds": args.rounds}
    sections = args.only or ["esci", "homedepot"]
    if "esci" in sections and skip_if_missing(args.esci_index, "esci-us-150"):
        lines += bench("esci", args.esci_index, args, record)
    if "homedepot" in sections and skip_if_missing(args.hd_index, "Home Depot"):
        lines += bench("homedepot", args.hd_index, args, record)
    lines.append(f"took {time.perf_counter() - started:.0f} s; latency on a shared machine unless stated otherwise")
    print("\n".join(lines))
    write_json(args.json, record)


if __name__ == "__main__":
    main()
