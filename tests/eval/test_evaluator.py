"""Evaluators: retrieval and rerank modes on the fixture catalog, label-blind tie-breaking, ESCI recall."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from shopmatch.eval.evaluator import EVALUATORS, EvalResult, evaluate_rerank, evaluate_retrieval
from shopmatch.judgments import GainMap, Judgment, Judgments, read_judgments

ESCI = GainMap.esci()


def _reference(run: dict[str, list[str]], judgments: Judgments, gains: GainMap, recall_letters=("E", "S")):
    """Plain-Python NDCG@10 (linear gains), RR@10, Recall@100, AP@100, independent of ranx."""
    out = {"ndcg@10": {}, "mrr@10": {}, "recall@100": {}, "map@100": {}}
    for q, rows in judgments.by_query.items():
        gain = {r.product_id: gains.gain(r.label) for r in rows}
        rel = {r.product_id for r in rows if gains.is_relevant(r.label)}
        if recall_letters is None:
            rec = rel
        else:
            rec = {r.product_id for r in rows if r.label.upper() in recall_letters}
        ranked = run.get(q, [])
        dcg = sum(gain.get(p, 0.0) / math.log2(i + 2) for i, p in enumerate(ranked[:10]))
        ideal = sorted(gain.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        out["ndcg@10"][q] = dcg / idcg if idcg else 0.0
        out["mrr@10"][q] = next((1 / (i + 1) for i, p in enumerate(ranked[:10]) if p in rel), 0.0)
        out["recall@100"][q] = len(rec & set(ranked[:100])) / len(rec) if rec else 0.0
        hits, precisions = 0, []
        for i, p in enumerate(ranked[:100]):
            if p in rel:
                hits += 1
                precisions.append(hits / (i + 1))
        out["map@100"][q] = sum(precisions) / len(rel) if rel else 0.0
    return out


def _assert_matches_reference(result: EvalResult, judgments, gains, recall_letters=("E", "S")):
    ref = _reference(result.run, judgments, gains, recall_letters)
    for metric, values in result.per_query.items():
        assert values == pytest.approx(ref[metric], abs=1e-9), metric
        assert result.metrics[metric] == pytest.approx(np.mean(list(ref[metric].values())), abs=1e-9)


# --------------------------------------------------------------------------- retrieval


def test_retrieval_on_fixture_catalog(pipeline, judgments):
    result = evaluate_retrieval(pipeline, judgments, ESCI)
    assert result.mode == "retrieval" and result.queries == 8
    assert set(result.metrics) == {"ndcg@10", "mrr@10", "recall@100", "map@100"}
    assert result.run["en01"][0] == "p001"
    assert result.run["en02"][:2] == ["p004", "p023"]
    assert [p for p, _ in pipeline.search_ids([judgments.queries["en03"]], k=100)[0]] == result.run["en03"]
    _assert_matches_reference(result, judgments, ESCI)
    # the fixture catalog is easy: every query finds its E product first
    assert result.metrics["mrr@10"] == 1.0
    assert result.metrics["ndcg@10"] > 0.95
    assert result.gains == "E=1,S=0.1,C=0.01,I=0"


def test_retrieval_depth(pipeline, judgments):
    shallow = evaluate_retrieval(pipeline, judgments, ESCI, depth=1, batch_size=3)
    assert all(len(ranked) <= 1 for ranked in shallow.run.values())
    _assert_matches_reference(shallow, judgments, ESCI)
    full = evaluate_retrieval(pipeline, judgments, ESCI)
    assert shallow.metrics["recall@100"] < full.metrics["recall@100"]


def test_retrieval_numeric_labels(pipeline, fixtures):
    graded = read_judgments(fixtures / "catalog" / "judgments_graded.tsv")
    gains = GainMap.parse("offset=0,relevant>=2")
    result = evaluate_retrieval(pipeline, graded, gains)
    _assert_matches_reference(result, graded, gains, recall_letters=None)


def test_result_serialization(pipeline, judgments):
    result = evaluate_retrieval(pipeline, judgments, ESCI)
    data = json.loads(result.to_json())
    assert data.keys() == {"ndcg@10", "mrr@10", "recall@100", "map@100", "queries", "mode", "gains"}
    assert data["queries"] == 8 and data["mode"] == "retrieval"
    assert data["ndcg@10"] == round(result.metrics["ndcg@10"], 6)


class FixedRun:
    """A stand-in pipeline returning fixed rankings (and fixed candidate scores)."""

    def __init__(self, runs: dict[str, list[str]], scores: dict[str, float] | None = None):
        self.runs, self.scores = runs, scores or {}

    def search_ids(self, queries, k=100):
        return [[(p, 1.0) for p in self.runs.get(q, [])][:k] for q in queries]

    def score_candidates(self, query, product_ids):
        return np.array([self.scores.get(p, 0.0) for p in product_ids])


def test_esci_recall_counts_e_and_s_mrr_only_e():
    judged = Judgments(
        [Judgment("q1", "mug", "e1", "E"), Judgment("q1", "mug", "s1", "S"), Judgment("q1", "mug", "i1", "I")]
    )
    result = evaluate_retrieval(FixedRun({"mug": ["i1", "s1"]}), judged, ESCI)
    assert result.per_query["recall@100"]["q1"] == pytest.approx(0.5)  # s1 of {e1, s1}
    assert result.per_query["mrr@10"]["q1"] == 0.0  # e1 never retrieved
    # an explicit relevant= choice applies to recall too
    only_e = GainMap.parse("E=1,S=0.1,C=0.01,I=0,relevant=E")
    assert evaluate_retrieval(FixedRun({"mug": ["i1", "s1"]}), judged, only_e).per_query["recall@100"]["q1"] == 0.0
    both = GainMap.parse("E=1,S=0.1,C=0.01,I=0,relevant=E+S")
    assert evaluate_retrieval(FixedRun({"mug": ["s1"]}), judged, both).per_query["mrr@10"]["q1"] == 1.0


def test_unjudged_and_unknown_products_count_as_irrelevant():
    judged = Judgments([Judgment("q1", "mug", "a", "E")])
    result = evaluate_retrieval(FixedRun({"mug": ["zz", "yy", "a"]}), judged, ESCI)
    assert result.per_query["ndcg@10"]["q1"] == pytest.approx(1 / math.log2(4))
    assert result.per_query["mrr@10"]["q1"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- rerank


def test_rerank_on_fixture_catalog(pipeline, judgments):
    result = evaluate_rerank(pipeline, judgments, ESCI)
    assert result.mode == "rerank" and result.queries == 8
    assert set(result.metrics) == {"ndcg@10", "mrr@10", "map@100"}
    for q, rows in judgments.by_query.items():
        assert sorted(result.run[q]) == sorted(r.product_id for r in rows)  # exactly the judged products
        scores = pipeline.score_candidates(judgments.queries[q], result.run[q])
        assert list(scores) == sorted(scores, reverse=True)
    _assert_matches_reference(result, judgments, ESCI)


class Flat:
    """Scores every candidate the same: the ranking is whatever the tie-break is."""

    def score_candidates(self, query, product_ids):
        return np.zeros(len(product_ids))


def _judgments_file(tmp_path, rows, name):
    path = tmp_path / name
    path.write_text("query_id\tquery\tproduct_id\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows))
    return read_judgments(path)


def test_rerank_ties_are_label_blind(tmp_path, fixtures):
    lines = (fixtures / "catalog" / "judgments.tsv").read_text().splitlines()[1:]
    rows = [tuple(line.split("\t")) for line in lines]
    order = {"E": 0, "S": 1, "C": 2, "I": 3}
    best_first = sorted(rows, key=lambda r: (r[0], order[r[3]]))
    worst_first = sorted(rows, key=lambda r: (r[0], -order[r[3]]))
    results = [
        evaluate_rerank(Flat(), _judgments_file(tmp_path, variant, f"{i}.tsv"), ESCI)
        for i, variant in enumerate((rows, best_first, worst_first, rows[::-1]))
    ]
    first = results[0]
    for other in results[1:]:
        assert other.per_query == first.per_query
        assert other.run == first.run
    # the tie-break is the product id
    for ranked in first.run.values():
        assert ranked == sorted(ranked)
    # and so a flat scorer is not rewarded by a label-sorted file: en01 judged p001 E, p002 C, p003 S, p006 I
    # -> ranking p001 p002 p003 p006: DCG = 1 + 0.01/log2(3) + 0.1/log2(4); IDCG = 1 + 0.1/log2(3) + 0.01/log2(4)
    dcg = 1 + 0.01 / math.log2(3) + 0.1 / 2
    idcg = 1 + 0.1 / math.log2(3) + 0.01 / 2
    assert first.per_query["ndcg@10"]["en01"] == pytest.approx(dcg / idcg)


def test_rerank_unknown_candidates_last():
    judged = Judgments([Judgment("q", "mug", "a", "I"), Judgment("q", "mug", "b", "E"), Judgment("q", "mug", "c", "S")])

    class Partial:
        def score_candidates(self, query, product_ids):
            return np.array([{"a": 2.0, "b": -np.inf, "c": 1.0}[p] for p in product_ids])

    result = evaluate_rerank(Partial(), judged, ESCI)
    assert result.run["q"] == ["a", "c", "b"]
    assert result.per_query["mrr@10"]["q"] == pytest.approx(1 / 3)


def test_evaluators_registry():
    assert EVALUATORS == {"retrieval": evaluate_retrieval, "rerank": evaluate_rerank}


def test_averaged_pairs_count_by_their_mean(fixtures):
    """judgments_crowd.tsv merges en01/p003 (S, E, I), en02/p004 (E, S), en03/p009 (C, S)."""
    path = fixtures / "catalog" / "judgments_crowd.tsv"
    runs = {
        "galaxy buds P70D20TL-D4": ["p003", "p001", "p002"],
        "65w usb c charger": ["p007", "p004"],
        "12 inch cast iron skillet": ["p009", "p008"],
    }
    mean = evaluate_retrieval(FixedRun(runs), read_judgments(path), ESCI)
    # MRR counts E only: a mean gain of 0.367 (p003) or 0.55 (p004) is not E's 1
    assert mean.per_query["mrr@10"] == {"en01": 0.5, "en02": 0.0, "en03": 0.5}
    # Recall counts E and S (gain >= 0.1): p004 (0.55) counts, p005 (S) is not retrieved
    assert mean.per_query["recall@100"]["en02"] == pytest.approx(0.5)
    # NDCG: p007 (I, I) then p004 (0.55); ideal p004 then p005 (0.1)
    dcg, idcg = 0.55 / math.log2(3), 0.55 + 0.1 / math.log2(3)
    assert mean.per_query["ndcg@10"]["en02"] == pytest.approx(dcg / idcg)
    highest = evaluate_retrieval(FixedRun(runs), read_judgments(path, duplicates="max"), ESCI)
    assert highest.per_query["mrr@10"] == {"en01": 1.0, "en02": 0.5, "en03": 0.5}
