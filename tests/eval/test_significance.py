"""Paired significance: hand-computed bootstrap intervals and randomization p-values."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
from scipy.stats import permutation_test

from shopmatch.eval import significance
from shopmatch.eval.significance import PairedComparison, compare_metrics, compare_paired


def _scipy_exact_p(a, b) -> float:
    """scipy's exact paired permutation test of the mean difference (an independent implementation)."""

    def mean_diff(x, y, axis):
        return np.mean(y - x, axis=axis)

    return permutation_test((a, b), mean_diff, permutation_type="samples", n_resamples=np.inf, vectorized=True).pvalue


def test_identical_systems_have_p_one_and_a_zero_interval():
    values = np.linspace(0.0, 1.0, 20)
    c = compare_paired(values, values.copy())
    assert not c.exact  # 20 queries: random flips
    assert (c.delta, c.ci_low, c.ci_high, c.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert (c.improved, c.worsened, c.tied) == (0, 0, 20)
    assert not c.significant
    exact = compare_paired(values[:5], values[:5])
    assert exact.exact and exact.p_value == 1.0


def test_better_on_every_one_of_20_queries_is_significant():
    rng = np.random.default_rng(7)
    baseline = rng.uniform(0.0, 0.8, 20)
    system = baseline + rng.uniform(0.01, 0.2, 20)
    c = compare_paired(baseline, system)
    # only "no flip" and "flip all" reach the observed |sum|: exact p = 2 / 2**20 ~ 2e-6, so 10,000 random
    # flips almost surely find no other and p is the floor 1 / (10,000 + 1)
    assert c.p_value == pytest.approx(1 / 10_001)
    assert c.significant and (c.improved, c.worsened, c.tied) == (20, 0, 0)
    assert c.delta == pytest.approx(float(np.mean(system - baseline)))
    assert 0.01 <= c.ci_low < c.delta < c.ci_high <= 0.2  # every resampled mean lies within the differences' range


def test_exact_p_hand_computed():
    # differences (1, 1, 1): of the 8 sign flips only +++ and --- reach |sum| 3
    c = compare_paired([0, 0, 0], [1, 1, 1])
    assert c.exact and c.p_value == 0.25 and (c.ci_low, c.ci_high) == (1.0, 1.0)
    # strictly better on 10 queries: 2 of 1024 flips
    assert compare_paired(np.zeros(10), np.arange(1, 11) / 10).p_value == pytest.approx(2 / 1024)
    # differences (+1, -1): every flip has |sum| 0 -> p = 1, and no change on average
    c = compare_paired([0, 1], [1, 0])
    assert (c.delta, c.p_value, c.improved, c.worsened) == (0.0, 1.0, 1, 1)


def test_bootstrap_interval_hand_computed():
    # differences (0, 1): a resample's mean is 0, 0.5 or 1 with chances 1/4, 1/2, 1/4, so the
    # 2.5th percentile is 0 and the 97.5th is 1
    c = compare_paired([0.5, 0.0], [0.5, 1.0])
    assert (c.ci_low, c.ci_high) == (0.0, 1.0)
    assert c.delta == 0.5 and c.p_value == 1.0  # flips of (0, 1) all have |sum| 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exact_p_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a = rng.random(10)
    b = np.clip(a + rng.normal(0.1, 0.2, 10), 0, 1)
    assert compare_paired(a, b).p_value == pytest.approx(_scipy_exact_p(a, b))


def test_sampled_p_is_close_to_exact():
    rng = np.random.default_rng(6)
    a = rng.random(14)  # 2**14 > 10,000: sampled
    b = np.clip(a + rng.normal(0.08, 0.2, 14), 0, 1)
    c = compare_paired(a, b)
    exact = _scipy_exact_p(a, b)
    assert not c.exact and exact == pytest.approx(0.2006, abs=1e-4)
    assert c.p_value == pytest.approx(exact, abs=0.016)  # 4 standard errors of 10,000 draws at p = 0.2


def test_seeded_and_deterministic(monkeypatch):
    rng = np.random.default_rng(5)
    a, b = rng.random(300), rng.random(300)
    first = compare_paired(a, b, seed=3)
    assert compare_paired(a, b, seed=3) == first
    other = compare_paired(a, b, seed=4)
    assert (other.ci_low, other.ci_high, other.p_value) != (first.ci_low, first.ci_high, first.p_value)
    # the numbers do not depend on how the draws are chunked
    monkeypatch.setattr(significance, "_CHUNK_VALUES", 1000)
    assert compare_paired(a, b, seed=3) == first


def test_mappings_pair_by_query_id():
    baseline = {"q1": 0.2, "q2": 0.9, "q3": 0.4}
    system = {"q3": 0.4, "q1": 0.7, "q2": 0.8}  # another order: paired by id, not position
    c = compare_paired(baseline, system)
    assert (c.improved, c.worsened, c.tied) == (1, 1, 1)
    assert c.delta == pytest.approx(0.4 / 3)
    assert (c.baseline_mean, c.system_mean) == pytest.approx((0.5, 1.9 / 3))


def test_float_noise_is_a_tie():
    c = compare_paired([0.5 - 0.8 + 0.8, 0.3], [0.5, 0.3])
    assert (c.improved, c.worsened, c.tied) == (0, 0, 2)
    assert compare_paired([0.5], [0.5 + 1e-6], tolerance=1e-5).tied == 1


@pytest.mark.parametrize(
    ("baseline", "system", "kwargs", "fragment"),
    [
        ({"q1": 1.0}, {"q2": 1.0}, {}, "same queries; 2 query id"),
        ({"q1": 1.0}, [1.0], {}, "both as sequences"),
        ([1.0, 2.0], [1.0], {}, "got 2 and 1"),
        ([], [], {}, "no queries"),
        ([1.0, float("nan")], [1.0, 1.0], {}, "finite"),
        ([1.0], [1.0], {"resamples": 0}, "resamples"),
        ([1.0], [1.0], {"alpha": 1.0}, "alpha"),
    ],
)
def test_bad_input(baseline, system, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        compare_paired(baseline, system, **kwargs)


def test_to_dict_is_json_ready():
    c = compare_paired([0.1, 0.2, 0.3], [0.2, 0.3, 0.5], resamples=500, seed=9, alpha=0.1)
    data = json.loads(json.dumps(c.to_dict()))
    assert data["significant"] is c.significant and data["p_value"] == c.p_value
    assert (data["queries"], data["resamples"], data["seed"], data["alpha"], data["exact"]) == (3, 500, 9, 0.1, True)
    assert c.confidence == pytest.approx(0.9)
    assert PairedComparison(**{k: v for k, v in data.items() if k != "significant"}) == c


def test_compare_metrics_pairs_shared_queries_of_shared_metrics():
    base = {"ndcg@10": {"q1": 0.2, "q2": 0.4, "q9": 0.0}, "mrr@10": {"q1": 1.0}, "map@100": {"q5": 1.0}}
    new = {"ndcg@10": {"q1": 0.3, "q2": 0.6}, "mrr@10": {"q1": 0.5}, "map@100": {"q6": 1.0}, "recall@100": {}}
    tested = compare_metrics(base, new, resamples=100)
    assert list(tested) == ["ndcg@10", "mrr@10"]  # map@100 has no shared query, recall@100 is only in one
    assert tested["ndcg@10"] == compare_paired([0.2, 0.4], [0.3, 0.6], resamples=100)
    assert tested["mrr@10"].delta == -0.5 and tested["mrr@10"].queries == 1


def test_doctests():
    assert doctest.testmod(significance).failed == 0
