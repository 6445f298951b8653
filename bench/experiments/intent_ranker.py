"""Does the learned ranker do better with the category-intent features? With vs without the ``intent`` group.

Usage::

    python bench/experiments/intent_ranker.py [--only esci|homedepot] [--seeds 0,1,2] [--json out.json]

The same ranker selection ``shopmatch train ranker --judgments`` runs (:func:`fit_ranker`: the
candidate models scored by 3-fold CV inside the training queries, the best trained on all of them),
once on the base features and once on the base features plus the ``intent`` group
(:mod:`shopmatch.rank.intent_features`), the training queries and seeds the same; both held out on
the same queries, NDCG@10 from the cached candidates (:func:`per_query_ndcg`, equal to
``evaluate_retrieval`` query by query; see docs/experiments/2026-12-06-ranker-selection.md).

- esci-us-150: 5 folds by query (``Judgments.folds(5)``, as ``bench/ranker.py``), nested;
- Home Depot: train = a seeded sample of 2,000 of the training queries (every query id but every
  10th), dev = every 10th (944), as docs/experiments/2026-12-06-ranker-selection.md. Its catalog
  has no categories, so its index has no intent model and the group does not exist there: the
  script says so and skips it (nothing to compare).

The hybrid index of each data set is the prebuilt default in ``/work/cache``; an index written
before intent models trains its intent model when first used (seconds). Feature matrices (base +
intent columns) are cached under ``bench/data/intent-*.npz``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (  # noqa: E402
    REPO_ROOT,
    SIGNIFICANCE_HEADERS,
    cached_ranker_rows,
    data_dir,
    machine_header,
    markdown_table,
    significance_columns,
    skip_if_missing,
    write_json,
)

from shopmatch.judgments import GainMap, Judgments, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.rank.feature_groups import default_groups  # noqa: E402
from shopmatch.rank.selection import fit_ranker  # noqa: E402
from shopmatch.rank.training import RankingData, per_query_ndcg  # noqa: E402

CACHE = REPO_ROOT / "bench" / "data"
HOMEDEPOT_GAINS = "offset=1,relevant>=2.5"


def log(message: str) -> None:
    print(f"> {message}", file=sys.stderr, flush=True)


def cached_data(name: str, pipeline: SearchPipeline, judgments: Judgments, gains: GainMap) -> RankingData | None:
    """Base + intent features of every judged query (None: the index has no intent model)."""
    if not default_groups(pipeline.snapshot):
        return None
    return cached_ranker_rows(f"intent-{name}", pipeline, judgments, gains)


def held_out(
    data: RankingData, train_ids: list[str], test_ids: list[str], record: dict, label: str, seed: int = 0
) -> dict:
    """Per-query NDCG@10 of ``test_ids`` for the fused order and the ranker without / with intent."""
    have = set(data.query_ids)
    train = data.subset([q for q in train_ids if q in have])
    test = data.subset([q for q in test_ids if q in have])
    fused = -test.features[:, test.feature_names.index("fused_rank")].astype(np.float64)
    out = {"fused order": dict(zip(test.query_ids, per_query_ndcg(test, fused).tolist(), strict=True))}
    for system, train_data, test_data in (
        ("ranker", train.without_groups(), test.without_groups()),
        ("ranker + intent", train, test),
    ):
        started = time.perf_counter()
        selection = fit_ranker(train_data, seed=seed, progress=lambda items: items)
        scores = selection.ranker.predict(test_data.features)
        out[system] = dict(zip(test.query_ids, per_query_ndcg(test_data, scores).tolist(), strict=True))
        importance = selection.ranker.importances()
        intent_gain = sum(v for k, v in importance.items() if k.startswith("intent_"))
        record.setdefault("choices", []).append(
            {
                "split": label,
                "system": system,
                "chosen": selection.chosen,
                "inner_ndcg@10": selection.scores,
                "intent_share_of_gain": intent_gain / max(sum(importance.values()), 1e-12),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        log(f"{label} {system}: chose {selection.chosen!r}; held out {np.mean(list(out[system].values())):.4f}")
    for system, values in out.items():  # queries without a candidate count 0, as the evaluation does
        out[system] = {q: values.get(q, 0.0) for q in test_ids}
    return out


def tables(title: str, per_query: dict[str, dict[str, float]], record: dict[str, Any]) -> list[str]:
    lines = [f"## {title}", ""]
    means = {s: float(np.mean(list(v.values()))) for s, v in per_query.items()}
    record["ndcg@10"] = means
    lines += [markdown_table(["system", "NDCG@10"], [[s, m] for s, m in means.items()]), ""]
    rows = []
    pairs = (("ranker + intent", "ranker"), ("ranker + intent", "fused order"), ("ranker", "fused order"))
    for system, baseline in pairs:
        cells = significance_columns(per_query[baseline], per_query[system])
        rows.append([system, f"vs {baseline}", *cells])
        record.setdefault("significance", []).append({"system": system, "baseline": baseline, "cells": cells})
    lines += [markdown_table(["system", "baseline", *SIGNIFICANCE_HEADERS], rows), ""]
    choice_rows = [
        [c["split"], c["system"], c["chosen"], f"{c['intent_share_of_gain']:.3f}"] for c in record.get("choices", [])
    ]
    if choice_rows:
        lines += [markdown_table(["split", "features", "chosen (inner CV)", "intent share of gain"], choice_rows), ""]
    return lines


def diagnosis(data: RankingData, record: dict[str, Any]) -> list[str]:
    """How the intent columns differ by grade among the candidates, and the candidates ordered by
    ``intent_score`` (the fused order breaking ties) against the fused order: nothing trained."""
    names = data.feature_names
    score = data.features[:, names.index("intent_score")].astype(np.float64)
    rank = data.features[:, names.index("intent_rank")]
    rows = []
    for grade, gain in enumerate(data.gains):
        has = (data.labels == grade) & (score > -1)
        ranked = (data.labels == grade) & (rank < 10_000)
        rows.append([f"{grade} (gain {gain:g})", int((data.labels == grade).sum()), score[has].mean(),
                     float(np.median(rank[ranked])), float((rank[ranked] == 1).mean())])  # fmt: skip
    record["by_grade"] = rows
    fused = -data.features[:, names.index("fused_rank")].astype(np.float64)
    base = per_query_ndcg(data, fused)
    first = per_query_ndcg(data, np.where(score > -1, score, -1.0) * 1e3 + fused * 1e-3)
    record["intent_first"] = {"fused": float(base.mean()), "intent first": float(first.mean())}
    return [
        "Diagnosis (all candidates, nothing trained; grade 0 includes the unjudged candidates):",
        "",
        markdown_table(["grade", "candidates", "mean intent_score", "median intent_rank", "share rank 1"], rows),
        "",
        f"Ordered by intent_score (fused order breaking ties): NDCG@10 {first.mean():.4f} against the fused "
        f"order's {base.mean():.4f} ({int((first > base).sum())} better / {int((first < base).sum())} worse).",
        "",
    ]


def over_seeds(title: str, seeds: list[int], run, record: dict[str, Any]) -> list[str]:
    """``run(seed, record) -> per-query NDCG@10 by system`` for each seed, a table each, then the
    table of each query's mean over the seeds (the selection's seed-to-seed noise averaged out)."""
    lines, runs = [], []
    for seed in seeds:
        part = record.setdefault(f"seed {seed}", {})
        runs.append(run(seed, part))
        lines += tables(f"{title}, seed {seed}", runs[-1], part)
    if len(runs) > 1:
        mean = {
            system: {q: float(np.mean([r[system][q] for r in runs])) for q in runs[0][system]} for system in runs[0]
        }
        seeds_text = ", ".join(map(str, seeds))
        lines += tables(f"{title}: each query's mean over seeds {seeds_text}", mean, record.setdefault("mean", {}))
    return lines


def bench_esci(index: Path, folds: int, record: dict[str, Any], seeds: list[int]) -> list[str]:
    gains = GainMap.esci()
    judgments = read_judgments(data_dir() / "esci-us-150" / "judgments.tsv", gains=gains)
    data = cached_data("esci", SearchPipeline.load(index), judgments, gains)
    if data is None:
        return ["## esci-us-150", "", "The index has no intent model: nothing to compare.", ""]

    def run(seed: int, part: dict[str, Any]) -> dict[str, dict[str, float]]:
        per_query: dict[str, dict[str, float]] = {}
        for k, (train, test) in enumerate(judgments.folds(folds)):
            split = held_out(data, train.query_ids, test.query_ids, part, f"fold {k}", seed)
            for system, values in split.items():
                per_query.setdefault(system, {}).update(values)
        return per_query

    lines = over_seeds(f"esci-us-150, {folds} folds by query (nested)", seeds, run, record)
    return lines + diagnosis(data, record)


def bench_homedepot(index: Path, train_queries: int, record: dict[str, Any], seeds: list[int]) -> list[str]:
    gains = GainMap.parse(HOMEDEPOT_GAINS)
    judgments = read_judgments(data_dir() / "homedepot" / "judgments.tsv", gains=gains)
    dev_ids = judgments.query_ids[::10]
    dev_set = set(dev_ids)
    train_ids = [q for q in judgments.query_ids if q not in dev_set]
    if train_queries and train_queries < len(train_ids):
        train_ids = sorted(random.Random(0).sample(train_ids, train_queries))
    pipeline = SearchPipeline.load(index)
    if not default_groups(pipeline.snapshot):
        record["skipped"] = "no intent model (the catalog has no categories)"
        return ["## Home Depot", "", "The index has no intent model (its catalog has no categories): skipped.", ""]
    wanted = judgments.subset([*train_ids, *dev_ids])
    data = cached_data(f"homedepot-{len(train_ids)}", pipeline, wanted, gains)
    title = f"Home Depot, {len(train_ids)} train queries → dev ({len(dev_ids)} queries)"
    return over_seeds(
        title, seeds, lambda seed, part: held_out(data, train_ids, dev_ids, part, "train → dev", seed), record
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("esci", "homedepot"), action="append")
    parser.add_argument("--esci-index", type=Path, default=Path("/work/cache/esci-us-150-default"))
    parser.add_argument("--hd-index", type=Path, default=Path("/work/cache/homedepot-default"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--hd-train-queries", type=int, default=2000)
    parser.add_argument(
        "--seeds", default="0", help="seeds of the selection's inner folds and LightGBM, comma-separated (0,1,2)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    sections = args.only or ["esci", "homedepot"]
    lines = ["# Learned ranker with vs without the category-intent features", "", *machine_header(), ""]
    record: dict[str, Any] = {}
    if "esci" in sections and skip_if_missing(args.esci_index, "esci-us-150"):
        record["esci"] = {}
        lines += bench_esci(args.esci_index, args.folds, record["esci"], seeds)
    if "homedepot" in sections and skip_if_missing(args.hd_index, "Home Depot"):
        record["homedepot"] = {}
        lines += bench_homedepot(args.hd_index, args.hd_train_queries, record["homedepot"], seeds)
    lines.append(f"took {time.perf_counter() - started:.0f} s (loaded machine)")
    print("\n".join(lines))
    write_json(args.json, record)


if __name__ == "__main__":
    main()
