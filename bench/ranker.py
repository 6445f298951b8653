"""The learned ranker held out: does `shopmatch train ranker` beat the hybrid pipeline and BM25F alone?

Usage::

    python bench/ranker.py [--only esci|homedepot] [--hd-train-queries N] [--json out.json]

For each data set, four systems in retrieval mode (the whole catalog, top 100; ESCI gains, Home
Depot gain = label − 1):

- ``hybrid``: the default pipeline (BM25F + bi-encoder, RRF) — the prebuilt index in ``/work/cache``
  (``--esci-index`` / ``--hd-index``);
- ``BM25F``: the same index, lexical retriever only;
- ``hybrid + ranker`` and ``BM25F + ranker``: each with the ranker `shopmatch train ranker` ships
  (:func:`shopmatch.rank.selection.fit_ranker`: the candidate models scored by 3-fold
  cross-validation inside the training queries, the best trained on all of them), trained on
  training queries only, on the features it extracts (the base features, and category intent
  when the index has an intent model).

esci-us-150: 5 folds by query (``Judgments.folds(5)``): each fold's ranker is chosen and trained on
the other four folds (nested CV), every query held out once. Home Depot: dev = every 10th query id,
train = the rest (chosen and trained on train only; ``--hd-train-queries`` subsamples it, seeded).

Per system NDCG@10 and MRR@10; paired comparisons (``compare_paired``: bootstrap CI, sign-flip p)
of each ranker system against the hybrid and against BM25F alone, with the queries better/worse.
Ranker latency: per query, features of the 100 candidates + the model's prediction (the stages
before the ranker excluded), p50/p99 over the held-out queries. Feature matrices are cached under
``bench/data/`` (delete them after changing the features).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO_ROOT,
    SIGNIFICANCE_HEADERS,
    cached_ranker_rows,
    data_dir,
    machine_header,
    markdown_table,
    percentiles,
    significance_columns,
    skip_if_missing,
    write_json,
)

from shopmatch.eval.evaluator import evaluate_retrieval  # noqa: E402
from shopmatch.judgments import GainMap, Judgments, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.rank.feature_groups import ranker_features  # noqa: E402
from shopmatch.rank.selection import fit_ranker  # noqa: E402
from shopmatch.rank.training import RankingData, per_query_ndcg  # noqa: E402
from shopmatch.search import retrieval_ranker_inputs  # noqa: E402

HOMEDEPOT_GAINS = "offset=1,relevant>=2.5"
CACHE = REPO_ROOT / "bench" / "data"
METRICS = ("ndcg@10", "mrr@10")


def log(message: str) -> None:
    print(f"> {message}", file=sys.stderr, flush=True)


def ranker_latency(pipeline: SearchPipeline, ranker_dir: Path, texts: list[str]) -> list[float]:
    """Seconds per query of the ranker stage alone: features of the first 100 candidates + predict."""
    ranked = pipeline.with_ranker(ranker_dir)
    snapshot, ranker = ranked.snapshot, ranked.ranker
    top_n = ranked.config.ranker.top_n
    samples = []
    for text in texts:
        inputs = retrieval_ranker_inputs(snapshot, text)
        n = min(int((inputs.hits.rows[0] >= 0).sum()), top_n)
        started = time.perf_counter()
        ranker.predict(ranker_features(ranker, snapshot, inputs.query, inputs.prepared, inputs.hits, n))
        samples.append(time.perf_counter() - started)
    return samples


def run_split(
    systems: dict[str, SearchPipeline],
    datas: dict[str, RankingData],
    train: Judgments,
    test: Judgments,
    gains: GainMap,
    tmp: Path,
    label: str,
    record: dict[str, Any],
) -> dict[str, dict[str, dict[str, float]]]:
    """Per-query metrics of the held-out ``test`` queries for the four systems; the choices made."""
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    for name, pipeline in systems.items():
        result = evaluate_retrieval(pipeline, test, gains)
        per_query[name] = {m: result.per_query[m] for m in METRICS}
        train_ids = set(train.query_ids)
        data = datas[name]
        started = time.perf_counter()
        selection = fit_ranker(data.subset([q for q in data.query_ids if q in train_ids]), progress=lambda x: x)
        took = time.perf_counter() - started
        directory = selection.ranker.save(tmp / f"{label}-{name}")
        ranked = evaluate_retrieval(pipeline.with_ranker(directory), test, gains)
        per_query[f"{name} + ranker"] = {m: ranked.per_query[m] for m in METRICS}
        texts = [test.queries[q] for q in test.query_ids]
        latency = ranker_latency(pipeline, directory, texts[:200])
        record.setdefault("choices", []).append(
            {
                "split": label,
                "system": name,
                "chosen": selection.chosen,
                "inner_ndcg@10": selection.scores,
                "fit_seconds": round(took, 1),
                "latency": percentiles(latency),
            }
        )
        log(
            f"{label} {name}: {result.metrics['ndcg@10']:.4f} → + ranker {ranked.metrics['ndcg@10']:.4f} "
            f"(chose {selection.chosen!r} in {took:.0f} s; p50 {percentiles(latency)['p50_ms']:.2f} ms)"
        )
    return per_query


def tables(name: str, per_query: dict[str, dict[str, dict[str, float]]], record: dict[str, Any]) -> list[str]:
    lines = [f"## {name}", ""]
    rows = []
    for system, metrics in per_query.items():
        rows.append([system, *(float(np.mean(list(metrics[m].values()))) for m in METRICS)])
        record.setdefault("systems", {})[system] = {m: float(np.mean(list(metrics[m].values()))) for m in METRICS}
    lines += [markdown_table(["system", *METRICS], rows), ""]
    sig_rows = []
    for system in ("hybrid + ranker", "BM25F + ranker"):
        for baseline in ("hybrid", "BM25F"):
            for m in METRICS:
                cells = significance_columns(per_query[baseline][m], per_query[system][m])
                sig_rows.append([system, f"vs {baseline}", m, *cells])
                record.setdefault("significance", []).append(
                    {"system": system, "baseline": baseline, "metric": m, "cells": cells}
                )
    lines += [markdown_table(["system", "baseline", "metric", *SIGNIFICANCE_HEADERS], sig_rows), ""]
    choice_rows = [
        [
            c["split"],
            c["system"],
            c["chosen"],
            ", ".join(f"{k} {v:.4f}" for k, v in list(c["inner_ndcg@10"].items())[:3]),
            c["latency"]["p50_ms"],
        ]
        for c in record.get("choices", [])
    ]
    headers = ["split", "candidates of", "chosen (inner CV)", "best inner NDCG@10 (candidates' own)", "p50 ms"]
    lines += [markdown_table(headers, choice_rows), ""]
    return lines


def systems_of(index: Path) -> dict[str, SearchPipeline]:
    hybrid = SearchPipeline.load(index)
    return {"hybrid": hybrid, "BM25F": hybrid.with_config(retrievers=("lexical",))}


def bench_esci(index: Path, folds: int, record: dict[str, Any]) -> list[str]:
    folder = data_dir() / "esci-us-150"
    gains = GainMap.esci()
    judgments = read_judgments(folder / "judgments.tsv", gains=gains)
    systems = systems_of(index)
    datas = {name: cached_ranker_rows(f"ranker-esci-{name}", p, judgments, gains) for name, p in systems.items()}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (train, test) in enumerate(judgments.folds(folds)):
            split = run_split(systems, datas, train, test, gains, Path(tmp), f"fold {k}", record)
            for system, metrics in split.items():
                for m, values in metrics.items():
                    per_query.setdefault(system, {}).setdefault(m, {}).update(values)
    return tables(
        f"esci-us-150, {folds} folds by query (nested: the ranker chosen inside each training part)", per_query, record
    )


def offline_metrics(data: RankingData, scores: np.ndarray, query_ids: list[str], relevant_gain: float) -> dict:
    """Per-query NDCG@10 and MRR@10 of ``data``'s candidates ordered by ``scores`` as the search
    shows them (:func:`per_query_ndcg`: excluded last, ideal over all judgments; it reproduces
    ``evaluate_retrieval`` exactly), 0 for the ``query_ids`` without candidates."""
    ndcg = dict(zip(data.query_ids, per_query_ndcg(data, scores).tolist(), strict=True))
    gain_of = np.asarray(data.gains)
    excluded = data.features[:, data.feature_names.index("excluded")]
    mrr, starts = {}, data.starts
    for i, q in enumerate(data.query_ids):
        rows = slice(starts[i], starts[i + 1])
        order = np.lexsort((np.arange(starts[i + 1] - starts[i]), -scores[rows], excluded[rows] > 0))
        hits = np.flatnonzero(gain_of[data.labels[rows][order]][:10] >= relevant_gain)
        mrr[q] = 1.0 / (hits[0] + 1) if len(hits) else 0.0
    return {
        "ndcg@10": {q: ndcg.get(q, 0.0) for q in query_ids},
        "mrr@10": {q: mrr.get(q, 0.0) for q in query_ids},
    }


def bench_homedepot(index: Path, train_queries: int, record: dict[str, Any]) -> list[str]:
    """Train → dev from cached features of every judged query (dev is scored, never trained on)."""
    folder = data_dir() / "homedepot"
    gains = GainMap.parse(HOMEDEPOT_GAINS)
    judgments = read_judgments(folder / "judgments.tsv", gains=gains)
    dev_ids = judgments.query_ids[::10]
    dev_set = set(dev_ids)
    train_ids = [q for q in judgments.query_ids if q not in dev_set]
    sampled = bool(train_queries) and train_queries < len(train_ids)
    if sampled:
        train_ids = sorted(random.Random(0).sample(train_ids, train_queries))
    record["homedepot_train_queries"] = len(train_ids)
    systems = systems_of(index)
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, pipeline in systems.items():
            if sampled:  # only the sample's and dev's features (cached per sample size)
                needed = judgments.subset(sorted(set(train_ids) | dev_set))
                data = cached_ranker_rows(f"ranker-homedepot-{name}-{len(train_ids)}", pipeline, needed, gains)
            else:
                data = cached_ranker_rows(f"ranker-homedepot-{name}", pipeline, judgments, gains)
            have = set(data.query_ids)
            train = data.subset([q for q in train_ids if q in have])
            dev = data.subset([q for q in dev_ids if q in have])
            fused = -dev.features[:, dev.feature_names.index("fused_rank")].astype(np.float64)
            per_query[name] = offline_metrics(dev, fused, dev_ids, 1.5)
            started = time.perf_counter()
            selection = fit_ranker(train)
            took = time.perf_counter() - started
            per_query[f"{name} + ranker"] = offline_metrics(dev, selection.ranker.predict(dev.features), dev_ids, 1.5)
            directory = selection.ranker.save(Path(tmp) / name)
            latency = ranker_latency(pipeline, directory, [judgments.queries[q] for q in dev_ids[:200]])
            record.setdefault("choices", []).append(
                {
                    "split": "train → dev",
                    "system": name,
                    "chosen": selection.chosen,
                    "inner_ndcg@10": selection.scores,
                    "fit_seconds": round(took, 1),
                    "latency": percentiles(latency),
                }
            )
            log(f"Home Depot {name}: chose {selection.chosen!r} in {took:.0f} s; {selection.scores}")
    sub = f" (a seeded sample of {len(train_ids)} train queries)" if train_queries else ""
    return tables(f"Home Depot, train{sub} → dev ({len(dev_ids)} queries)", per_query, record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("esci", "homedepot"), action="append")
    parser.add_argument("--esci-index", type=Path, default=Path("/work/cache/esci-us-150-default"))
    parser.add_argument("--hd-index", type=Path, default=Path("/work/cache/homedepot-default"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--hd-train-queries", type=int, default=0, help="subsample Home Depot train (0: all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    sections = args.only or ["esci", "homedepot"]
    lines = ["# Learned ranker, held out", "", *machine_header(), ""]
    record: dict[str, Any] = {}
    if "esci" in sections and skip_if_missing(args.esci_index, "esci-us-150"):
        record["esci"] = {}
        lines += bench_esci(args.esci_index, args.folds, record["esci"])
    if "homedepot" in sections and skip_if_missing(args.hd_index, "Home Depot"):
        record["homedepot"] = {}
        lines += bench_homedepot(args.hd_index, args.hd_train_queries, record["homedepot"])
    lines.append(f"took {time.perf_counter() - started:.0f} s; latency on a shared machine unless stated otherwise")
    print("\n".join(lines))
    write_json(args.json, record)


if __name__ == "__main__":
    main()
