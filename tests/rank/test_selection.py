"""Choosing the ranker by inner cross-validation: an order when nothing beats it, trees when they do;
orders and tree corrections of an order save, load and explain; training data is what the stage sees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shopmatch.config import PipelineConfig
from shopmatch.judgments import GainMap, read_judgments
from shopmatch.pipeline import SearchPipeline
from shopmatch.rank.features import FEATURE_NAMES, MISSING_RANK
from shopmatch.rank.model import Ranker, RankerError
from shopmatch.rank.selection import CANDIDATES, cross_validated, fit_ranker
from shopmatch.rank.training import RankingData, per_query_ndcg, ranking_data

GAINS = (0.0, 0.01, 0.1, 1.0)
COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def synthetic(queries: int, *, fused_decides: bool, seed: int = 0, size: int = 20) -> RankingData:
    """Candidates in fused order; grades follow that order (``fused_decides``) or the ``title_bm25`` column."""
    rng = np.random.default_rng(seed)
    blocks, labels = [], []
    for _ in range(queries):
        x = rng.normal(size=(size, len(FEATURE_NAMES))).astype(np.float32)
        x[:, COL["fused_rank"]] = np.arange(1, size + 1)
        x[:, COL["lexical_rank"]] = rng.permutation(size) + 1
        x[:, COL["dense_rank"]] = MISSING_RANK
        x[:, COL["excluded"]] = 0
        grade = np.zeros(size, dtype=np.int32)
        if fused_decides:
            grade[:3] = [3, 2, 1]
        else:
            best = np.argsort(-x[:, COL["title_bm25"]])[:3]
            grade[best] = [3, 2, 1]
        blocks.append(x)
        labels.append(grade)
    ids = [f"q{i}" for i in range(queries)]
    return RankingData(ids, np.concatenate(blocks), np.concatenate(labels), [size] * queries, GAINS, FEATURE_NAMES)


def test_ships_the_fused_order_when_it_cannot_be_beaten():
    selection = fit_ranker(synthetic(30, fused_decides=True), inner_folds=3, progress=lambda items: items)
    assert selection.chosen == "fused order"
    assert selection.ranker.booster is None and selection.ranker.base == "fused_rank"
    assert "dense order" not in selection.scores  # no candidate was ranked by the dense retriever


def test_ships_trees_when_a_feature_decides():
    data = synthetic(60, fused_decides=False)
    selection = fit_ranker(data, inner_folds=3, progress=lambda items: items)
    assert selection.chosen.startswith("LambdaMART")
    assert selection.scores[selection.chosen] > selection.scores["fused order"] + 0.2
    assert selection.ranker.summary["selection"]["chosen"] == selection.chosen
    held = synthetic(10, fused_decides=False, seed=7)
    assert per_query_ndcg(held, selection.ranker.predict(held.features)).mean() > 0.8


def test_nested_cross_validation_reports_each_folds_choice():
    cv = cross_validated(synthetic(30, fused_decides=True), 3, inner_folds=2, candidates=CANDIDATES[:2])
    assert cv["folds"] == 3 and cv["chosen"] == ["fused order"] * 3
    assert cv["ndcg@10_ranker"] == pytest.approx(cv["ndcg@10_before"])


def test_per_query_ndcg_puts_excluded_candidates_last_and_uses_the_ideal():
    data = synthetic(1, fused_decides=True, size=4)
    scores = -data.features[:, COL["fused_rank"]].astype(np.float64)
    assert per_query_ndcg(data, scores)[0] == pytest.approx(1.0)
    data.features[0, COL["excluded"]] = 1  # the best one is demoted below the rest
    assert per_query_ndcg(data, scores)[0] < 1.0
    data.ideal = np.array([10.0])  # a judged product the candidates miss
    assert per_query_ndcg(data, scores)[0] < 0.2


def test_an_order_and_a_correction_of_it_round_trip(tmp_path):
    data = synthetic(40, fused_decides=False)
    order = Ranker.order("lexical_rank", FEATURE_NAMES)
    x = data.features[:20]
    assert np.array_equal(np.argsort(-order.predict(x)), np.argsort(x[:, COL["lexical_rank"]]))
    loaded = Ranker.load(order.save(tmp_path / "order"), feature_names=FEATURE_NAMES)
    assert loaded.booster is None and np.array_equal(loaded.predict(x), order.predict(x))
    corrected = Ranker.train(
        data.features, data.labels, data.groups, FEATURE_NAMES, rounds=20, label_gain=GAINS, base="fused_rank"
    )
    contributions = corrected.contributions(x[3])
    assert sum(contributions.values()) == pytest.approx(corrected.predict(x[3:4])[0], abs=1e-6)
    again = Ranker.load(corrected.save(tmp_path / "corrected"), feature_names=FEATURE_NAMES)
    assert again.base == "fused_rank" and np.allclose(again.predict(x), corrected.predict(x))


def test_a_bad_base_names_the_manifest(tmp_path):
    directory = Ranker.order("fused_rank", FEATURE_NAMES).save(tmp_path / "r")
    manifest = json.loads((directory / "ranker.json").read_text())
    manifest["base"] = "nope"
    (directory / "ranker.json").write_text(json.dumps(manifest))
    with pytest.raises(RankerError, match="ranker.json.*'base'"):
        Ranker.load(directory)


def test_training_data_are_the_candidates_a_search_hands_the_ranker(fixtures, catalog):
    pipeline = SearchPipeline.build(catalog.products, PipelineConfig(retrievers=("lexical",)))
    gains = GainMap.esci()
    judged = read_judgments(fixtures / "catalog" / "judgments.tsv", gains=gains)
    data = ranking_data(pipeline, judged, gains, top_n=5)
    assert data.gains == (0.0, 0.01, 0.1, 1.0) and data.ideal is not None and len(data.ideal) == len(data.groups)
    starts = data.starts
    for i, q in enumerate(data.query_ids):
        found = [pid for pid, _ in pipeline.search_ids([judged.queries[q]], k=5)[0]]
        assert data.groups[i] == len(found) <= 5
        ranks = data.features[starts[i] : starts[i + 1], COL["fused_rank"]]
        assert ranks.tolist() == list(range(1, len(found) + 1))
