"""bench/experiments/events_debias.py's selection mode and bench/events_learning.py's table over
simulation seeds: the folds, the selection rule and the per-seed summary (synthetic figures)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path[:0] = [str(BENCH), str(BENCH / "experiments")]
import events_debias  # noqa: E402
import events_learning  # noqa: E402

BASE, TOP = "untrained pipeline", "ceiling: true judgments"


def test_folds_partition_the_queries_and_fold_zero_is_the_old_split():
    queries = [f"q{i:04d}" for i in range(1500)]
    folds = events_debias.fold_sets(queries, 5)
    assert [len(f) for f in folds] == [300] * 5
    assert set().union(*folds) == set(queries) and sum(map(len, folds)) == len(queries)
    shuffled = sorted(queries)
    random.Random(1).shuffle(shuffled)
    assert folds[0] == set(shuffled[:300])  # the 80/20 split of the earlier record


def cv_result(lift: dict[str, float], noise: float, queries: int = 200, seed: int = 0) -> dict:
    """Pooled per-query NDCG@10 for 3 seeds x 3 levels and 5 fold cells each: every candidate at
    ``base + lift[name]`` plus per-query noise; the ceiling at +0.02."""
    rng = np.random.default_rng(seed)
    qids = [f"q{i}" for i in range(queries)]
    base = rng.random(queries) * 0.5
    pooled, cells = {}, []
    for s in (0, 1, 2):
        for n in (10, 30, 100):
            rows = {BASE: base, TOP: base + 0.02}
            for name in events_debias.CV_CANDIDATES:
                rows[name] = base + lift.get(name, 0.005) + rng.normal(0, noise, queries)
            pooled[(s, n)] = {k: dict(zip(qids, v.tolist(), strict=True)) for k, v in rows.items()}
            for f in range(5):
                part = slice(f * queries // 5, (f + 1) * queries // 5)
                cells.append(
                    {
                        "fold": f,
                        "seed": s,
                        "sessions": n,
                        "queries": queries // 5,
                        "ndcg@10": {k: float(np.mean(v[part])) for k, v in rows.items()},
                    }
                )
    return {"pooled": pooled, "cells": cells}


def test_a_clearly_better_candidate_replaces_the_default():
    best = "position-debiased LambdaMART"
    md, out = events_debias.selection_report(cv_result({best: 0.02}, noise=0.001), [0, 1, 2], [10, 30, 100])
    assert out["best"] == out["chosen"] == best
    assert out["mean_share"][best] == pytest.approx(1.0, abs=0.01)
    assert out["mean_share"][events_debias.INCUMBENT] == pytest.approx(0.25, abs=0.01)
    assert f"chosen: {best}" in "\n".join(md)


def test_a_best_mean_within_noise_keeps_the_default():
    best = "COEC labels + position-debiased LambdaMART"
    lift = {best: 0.0055, events_debias.INCUMBENT: 0.005}
    md, out = events_debias.selection_report(cv_result(lift, noise=0.05), [0, 1, 2], [10, 30, 100])
    assert out["best"] != events_debias.INCUMBENT  # the highest mean is another candidate ...
    assert out["chosen"] == events_debias.INCUMBENT  # ... but not significantly above COEC
    table = out["levels"][10]
    assert [r["system"] for r in table] == [BASE, *events_debias.CV_CANDIDATES, TOP]
    assert len(table[1]["delta_by_fold_seed"]) == 15  # 5 folds x 3 seeds


def test_seeds_table_reports_each_seed_and_the_median():
    q = {f"q{i}": 0.1 * (i % 3) for i in range(30)}
    by_seed = {
        s: {
            BASE: q,
            "naive click-through": {k: v + 0.01 for k, v in q.items()},
            "x": {k: v + 0.01 * (s + 1) for k, v in q.items()},
            TOP: {k: v + 0.04 for k, v in q.items()},
        }
        for s in (0, 1, 2)
    }
    text, records = events_learning.seeds_table(by_seed, BASE, "naive click-through", TOP)
    x = next(r for r in records if r["system"] == "x")
    assert x["share"] == pytest.approx([0.25, 0.5, 0.75])
    assert len(x["vs_naive_p"]) == 3 and x["vs_naive_mean_of_seeds"][0] == "+0.0100"
    assert x["vs_untrained_mean_of_seeds"][0] == "+0.0200"  # seeds +0.01/+0.02/+0.03 averaged
    assert x["vs_untrained_mean_of_seeds"][4] == "30/0"
    naive = next(r for r in records if r["system"] == "naive click-through")
    assert naive["vs_untrained_mean_of_seeds"][0] == "+0.0100" and naive["vs_naive_mean_of_seeds"][0] == ""
    assert "| x | " in text and "| 50% |" in text


def test_esci_folds_pool_every_held_out_query_once_per_simulation_seed(monkeypatch):
    from shopmatch.judgments import GainMap, Judgment, Judgments

    rng = np.random.default_rng(0)
    gains, labels = GainMap.esci(), ["E"] * 3 + ["S"] * 2 + ["I"] * 15
    rows, train, tests, found = [], {}, {}, {}
    for k in range(10):
        q, ids = f"q{k:02d}", [f"p{k}-{j}" for j in range(20)]
        rows += [Judgment(q, f"query {k}", p, label) for p, label in zip(ids, labels, strict=True)]
        features = rng.normal(size=(20, len(events_learning.FEATURE_NAMES))).astype(np.float32)
        grade = np.array([2 if label == "E" else int(label == "S") for label in labels], dtype=np.int32)
        train[q] = events_learning.TrainQuery(f"query {k}", ids, 20, features, grade)
        tests[q], found[q] = events_learning.EvalQuery(ids, features), ids
    judged = Judgments(rows)
    seen = []
    simulate = events_learning.simulated_log

    def recording(*args, seed=0, **kwargs):
        seen.append((len(args[0]), seed))
        return simulate(*args, seed=seed, **kwargs)

    monkeypatch.setattr(events_learning, "simulated_log", recording)
    folds = events_learning.esci_folds(train, tests, judged, gains)
    naive = {events_learning.NAIVE: events_learning.VARIANTS[events_learning.NAIVE]}
    by_seed = {s: events_learning.pooled_folds(folds, found, judged, gains, 5, s, naive) for s in (0, 1)}
    assert seen == [(8, 0)] * 5 + [(8, 1)] * 5  # each fold's events come from its 4 training folds
    for pooled in by_seed.values():
        assert list(pooled) == [BASE, events_learning.NAIVE, TOP]
        assert all(sorted(v) == sorted(train) for v in pooled.values())
    assert by_seed[0][BASE] == by_seed[1][BASE] and by_seed[0][TOP] == by_seed[1][TOP]
    coverage = events_learning.shown_coverage(folds, found, judged, gains)
    assert coverage == {"candidates": 200, "shown": 0, "relevant": 30, "relevant_shown": 0}
    shared = {**found, "q01": ["p0-0", *found["q01"]]}  # q00's exact match, shown for q01 (another fold)
    coverage = events_learning.shown_coverage(folds, shared, judged, gains)
    assert coverage == {"candidates": 201, "shown": 2, "relevant": 30, "relevant_shown": 1}
    _, records = events_learning.seeds_table(by_seed, BASE, events_learning.NAIVE, TOP)
    assert [len(r["ndcg@10"]) for r in records] == [2, 2, 2]
    assert records[1]["vs_untrained_mean_of_seeds"][4].count("/") == 1
