"""Ranking metrics (through ranx) and pair metrics (through scikit-learn) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopmatch.eval.metrics import pair_metrics, ranking_metrics

# ESCI gains: E=1, S=0.1, C=0.01, I=0. Only E is relevant for MRR/MAP; E and S for Recall.
QRELS = {
    "q1": {"a": 1.0, "b": 0.1, "c": 0.01, "d": 0.0, "e": 1.0},
    "q2": {"f": 1.0},  # the system returns nothing
    "q3": {"g": 0.0},  # nothing relevant exists
    "q4": {"h": 1.0, "i": 0.1},  # relevant only below rank 10
}
RELEVANT = {"q1": {"a", "e"}, "q2": {"f"}, "q3": set(), "q4": {"h"}}
RECALL_RELEVANT = {"q1": {"a", "b", "e"}, "q2": {"f"}, "q3": set(), "q4": {"h", "i"}}
RUN = {
    # equal scores: the order of the list is the ranking
    "q1": [("b", 1.0), ("a", 1.0), ("d", 1.0), ("x", 1.0), ("c", 1.0)],
    "q3": [("g", 5.0)],
    "q4": [(f"junk{i}", 10.0 - i) for i in range(10)] + [("h", 0.5), ("i", 0.4)],
}


@pytest.fixture(scope="module")
def metrics():
    return ranking_metrics(QRELS, RELEVANT, RUN, recall_relevant=RECALL_RELEVANT)


def test_ndcg_fractional_gains(metrics):
    # q1 ranking: b(S=0.1) a(E=1) d(I=0) x(unjudged) c(C=0.01); e (E) not retrieved.
    # DCG@10  = 0.1/log2(2) + 1/log2(3) + 0/log2(4) + 0/log2(5) + 0.01/log2(6)
    #         = 0.1 + 0.630930 + 0 + 0 + 0.003869 = 0.734798
    # IDCG@10 = 1/log2(2) + 1/log2(3) + 0.1/log2(4) + 0.01/log2(5)      (ideal: a e b c d)
    #         = 1 + 0.630930 + 0.05 + 0.004307 = 1.685237
    # NDCG@10 = 0.734798 / 1.685237 = 0.436021
    dcg = 0.1 / math.log2(2) + 1 / math.log2(3) + 0.01 / math.log2(6)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 0.1 / math.log2(4) + 0.01 / math.log2(5)
    assert dcg / idcg == pytest.approx(0.436021, abs=1e-6)
    assert metrics.per_query["ndcg@10"]["q1"] == pytest.approx(dcg / idcg, abs=1e-9)
    assert metrics.per_query["ndcg@10"]["q2"] == 0.0  # no results
    assert metrics.per_query["ndcg@10"]["q3"] == 0.0  # IDCG = 0
    assert metrics.per_query["ndcg@10"]["q4"] == 0.0  # first gain at rank 11
    assert metrics.mean["ndcg@10"] == pytest.approx(0.436021 / 4, abs=1e-6)


def test_mrr(metrics):
    # q1: first E at rank 2 -> 1/2; q4: first E at rank 11 -> 0 at cutoff 10
    assert metrics.per_query["mrr@10"] == {"q1": 0.5, "q2": 0.0, "q3": 0.0, "q4": 0.0}
    assert metrics.mean["mrr@10"] == pytest.approx(0.125)


def test_recall_esci_e_and_s(metrics):
    # q1: {a, b} of {a, b, e}; q4: {h, i} of {h, i} (ranks 11, 12 are within 100)
    assert metrics.per_query["recall@100"] == pytest.approx({"q1": 2 / 3, "q2": 0.0, "q3": 0.0, "q4": 1.0})
    assert metrics.mean["recall@100"] == pytest.approx((2 / 3 + 1) / 4)


def test_recall_without_override_uses_relevant():
    m = ranking_metrics(QRELS, RELEVANT, RUN, ["recall@100"])
    assert m.per_query["recall@100"]["q1"] == pytest.approx(0.5)  # a of {a, e}


def test_map(metrics):
    # q1: relevant {a, e}; hit a at rank 2 -> P@2 = 1/2; AP = (1/2) / 2 = 0.25
    # q4: relevant {h}; hit at rank 11 -> P@11 = 1/11; AP = 1/11
    assert metrics.per_query["map@100"] == pytest.approx({"q1": 0.25, "q2": 0.0, "q3": 0.0, "q4": 1 / 11})
    assert metrics.mean["map@100"] == pytest.approx((0.25 + 1 / 11) / 4)


def test_cutoffs_matter():
    m = ranking_metrics(QRELS, RELEVANT, RUN, ["ndcg@1", "mrr@1", "recall@11", "map@5"], RECALL_RELEVANT)
    assert m.per_query["ndcg@1"]["q1"] == pytest.approx(0.1)  # 0.1 / 1
    assert m.per_query["mrr@1"]["q1"] == 0.0
    assert m.per_query["recall@11"]["q4"] == pytest.approx(0.5)
    assert m.per_query["map@5"]["q4"] == 0.0


def test_queries_outside_qrels_are_ignored():
    m = ranking_metrics({"q": {"a": 1.0}}, {"q": {"a"}}, {"q": [("a", 1)], "other": [("z", 1)]}, ["mrr@10"])
    assert m.per_query == {"mrr@10": {"q": 1.0}} and m.mean["mrr@10"] == 1.0


def test_query_id_order_does_not_mix_up_values():
    # ids whose sorted order differs from insertion order and from numeric order
    qrels = {"q2": {"a": 1.0}, "q10": {"b": 1.0}, "Q1": {"c": 1.0}}
    run = {"q2": [("a", 1)], "q10": [("x", 2), ("b", 1)], "Q1": [("y", 3), ("z", 2), ("c", 1)]}
    m = ranking_metrics(qrels, {q: set(d) for q, d in qrels.items()}, run, ["mrr@10"])
    assert m.per_query["mrr@10"] == pytest.approx({"q2": 1.0, "q10": 0.5, "Q1": 1 / 3})


def test_docstring_example():
    m = ranking_metrics({"q": {"a": 1.0, "b": 0.1}}, {"q": {"a"}}, {"q": [("b", 2.0), ("a", 1.0)]})
    assert round(m.mean["ndcg@10"], 4) == 0.6876 and m.mean["mrr@10"] == 0.5


def test_no_queries():
    m = ranking_metrics({}, {}, {})
    assert m.mean == {"ndcg@10": 0.0, "mrr@10": 0.0, "recall@100": 0.0, "map@100": 0.0}


# --------------------------------------------------------------------------- pair metrics

Y = [1, 0, 1, 1, 0, 0, 1, 0]
P = [1, 0, 0, 1, 1, 1, 1, 0]  # TP 3 (0, 3, 6), FN 1 (2), FP 2 (4, 5), TN 2 (1, 7)
PROB = [0.9, 0.1, 0.4, 0.8, 0.6, 0.3, 0.7, 0.2]


def test_pair_metrics_binary():
    m = pair_metrics(Y, P)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))  # 0.666667
    assert m["n"] == 8
    assert "auc" not in m and "mse" not in m


def test_pair_metrics_binary_auc_and_mse():
    m = pair_metrics(Y, P, np.array(PROB))
    # positives 0.9 0.4 0.8 0.7 vs negatives 0.1 0.6 0.3 0.2: 15 of 16 pairs ordered right
    assert m["auc"] == pytest.approx(15 / 16)
    # squared errors .01 .01 .36 .04 .36 .09 .09 .04 -> 1.0 / 8
    assert m["mse"] == pytest.approx(0.125)


def test_pair_metrics_binary_auc_needs_both_classes():
    m = pair_metrics([1, 1, 1], [1, 0, 1], np.array([0.9, 0.2, 0.8]))
    assert "auc" not in m
    assert m["mse"] == pytest.approx((0.01 + 0.64 + 0.04) / 3)


def test_pair_metrics_binary_two_column_probabilities():
    prob = np.column_stack([1 - np.array(PROB), PROB])
    m = pair_metrics(Y, P, prob)
    assert m["auc"] == pytest.approx(15 / 16)


def test_pair_metrics_macro_three_classes():
    y = [0, 1, 2, 2, 1, 0, 2]
    p = [0, 2, 2, 1, 1, 0, 2]
    # class 0: P 2/2 R 2/2 F 1;  class 1: P 1/2 R 1/2 F 1/2;  class 2: P 2/3 R 2/3 F 2/3
    m = pair_metrics(y, p)
    macro = (1 + 0.5 + 2 / 3) / 3  # 0.722222
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["precision"] == pytest.approx(macro)
    assert m["recall"] == pytest.approx(macro)
    assert m["f1"] == pytest.approx(macro)


def test_pair_metrics_three_class_probabilities():
    prob = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    m = pair_metrics([0, 1, 2, 2], [0, 1, 2, 2], prob)
    assert m["auc"] == pytest.approx(1.0)  # every class separated perfectly
    # expected class = prob @ [0, 1, 2] = 0.3, 1.0, 1.7, 1.4 -> errors .09 0 .09 .36
    assert m["mse"] == pytest.approx((0.09 + 0 + 0.09 + 0.36) / 4)


def test_pair_metrics_docstring_example():
    assert pair_metrics([1, 0, 1, 1], [1, 0, 0, 1])["f1"] == pytest.approx(0.8)
