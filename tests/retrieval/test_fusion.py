"""Hybrid fusion on hand-made runs: exact fused scores, order, ties and per-retriever provenance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopmatch.errors import ConfigError
from shopmatch.hits import SearchHits
from shopmatch.retrieval.fusion import FusionConfig, fuse


def hits(*queries: list[tuple[int, float]], k: int | None = None) -> SearchHits:
    k = k or max(len(q) for q in queries)
    rows = np.full((len(queries), k), -1, dtype=np.int64)
    scores = np.zeros((len(queries), k), dtype=np.float32)
    for i, pairs in enumerate(queries):
        for j, (row, score) in enumerate(pairs):
            rows[i, j], scores[i, j] = row, score
    return SearchHits(scores, rows)


LEXICAL = hits([(10, 12.0), (11, 8.0), (12, 2.0)], [(20, 5.0)])
DENSE = hits([(12, 0.9), (13, 0.8), (10, 0.7)], [(21, 0.6), (20, 0.5)])


def test_rrf_scores_by_hand():
    fused = fuse({"lexical": LEXICAL, "dense": DENSE}, k=4, config=FusionConfig(rrf_k=60))
    expected = {10: 1 / 61 + 1 / 63, 11: 1 / 62, 12: 1 / 63 + 1 / 61, 13: 1 / 62}
    # 10 and 12 tie (ranks 1+3 each), as do 11 and 13 (rank 2 once): best rank, then row
    assert fused.rows[0].tolist() == [10, 12, 11, 13]
    assert fused.scores[0].tolist() == pytest.approx([expected[r] for r in (10, 12, 11, 13)])
    assert fused.rows[1, :2].tolist() == [20, 21]
    assert fused.scores[1, :2].tolist() == pytest.approx([1 / 61 + 1 / 62, 1 / 61])


def test_sources_record_rank_and_raw_score():
    fused = fuse({"lexical": LEXICAL, "dense": DENSE}, k=4, config=FusionConfig())
    lex, dense = fused.sources["lexical"], fused.sources["dense"]
    assert lex.ranks[0].tolist() == [1, 3, 2, 0] and dense.ranks[0].tolist() == [3, 1, 0, 2]
    assert lex.scores[0, 0] == 12.0 and dense.scores[0, 1] == pytest.approx(0.9)
    assert math.isnan(lex.scores[0, 3]) and math.isnan(dense.scores[0, 2])
    assert fused.rows[1].tolist() == [20, 21, -1, -1] and fused.sources["lexical"].ranks[1].tolist() == [1, 0, 0, 0]


def test_rrf_weights():
    fused = fuse({"lexical": LEXICAL, "dense": DENSE}, k=2, config=FusionConfig(weights={"dense": 3.0}))
    assert fused.rows[0].tolist() == [12, 10]  # 3/61 + 1/63 beats 1/61 + 3/63
    assert fused.scores[0, 0] == pytest.approx(3 / 61 + 1 / 63)


def test_weighted_minmax_by_hand():
    config = FusionConfig(method="weighted", weights={"lexical": 0.4, "dense": 0.6})
    fused = fuse({"lexical": LEXICAL, "dense": DENSE}, k=4, config=config)
    lex = {10: 1.0, 11: 0.6, 12: 0.0}  # (s - 2) / (12 - 2)
    dense = {12: 1.0, 13: 0.5, 10: 0.0}  # (s - 0.7) / (0.9 - 0.7)
    expected = {r: 0.4 * lex.get(r, 0.0) + 0.6 * dense.get(r, 0.0) for r in (10, 11, 12, 13)}
    order = sorted(expected, key=lambda r: -expected[r])
    assert fused.rows[0].tolist() == order
    assert fused.scores[0].tolist() == pytest.approx([expected[r] for r in order])


def test_weighted_single_result_and_zscore():
    one = hits([(5, 3.0)])
    fused = fuse({"a": one, "b": hits([(6, 1.0), (5, 0.0)])}, k=2, config=FusionConfig(method="weighted"))
    # a lone score normalizes to 1; 5 and 6 tie at 1.0 (both rank 1 somewhere): lower row first
    assert fused.rows[0].tolist() == [5, 6] and fused.scores[0].tolist() == pytest.approx([1.0, 1.0])
    z = fuse({"a": LEXICAL, "b": DENSE}, k=4, config=FusionConfig(method="weighted", normalization="zscore"))
    values = np.array([12.0, 8.0, 2.0])
    za = (values - values.mean()) / values.std()
    dense_values = np.array([0.9, 0.8, 0.7])
    zb = (dense_values - dense_values.mean()) / dense_values.std()
    # row 11 is missing from b: it gets b's lowest z-score
    assert dict(z.query(0))[11] == pytest.approx(za[1] + zb.min(), rel=1e-5)


def test_single_run_and_empty_queries():
    fused = fuse({"only": LEXICAL}, k=2, config=FusionConfig())
    assert fused.rows.tolist() == [[10, 11], [20, -1]]
    empty = hits([], [(1, 1.0)], k=1)
    assert fuse({"a": empty, "b": empty}, k=3, config=FusionConfig()).rows[0].tolist() == [-1, -1, -1]


def test_mismatched_runs_rejected():
    with pytest.raises(ValueError, match="different numbers of queries"):
        fuse({"a": LEXICAL, "b": hits([(1, 1.0)])}, k=3, config=FusionConfig())
    with pytest.raises(ValueError, match="nothing to fuse"):
        fuse({}, k=3, config=FusionConfig())


@pytest.mark.parametrize(
    "data, message",
    [
        ({"method": "max"}, "fusion.method must be one of rrf, weighted"),
        ({"normalization": "l2"}, "fusion.normalization must be one of"),
        ({"rrf_k": -1}, "rrf_k must be a number ≥ 0"),
        ({"weights": {"dense": "high"}}, "fusion.weights.dense must be a finite number"),
        ({"weights": {"dense": float("nan")}}, "must be a finite number"),
        ({"bogus": 1}, r"unknown fusion setting\(s\) \['bogus'\]"),
    ],
)
def test_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        FusionConfig.from_dict(data)


def test_config_round_trip():
    config = FusionConfig(method="weighted", rrf_k=10, normalization="zscore", weights={"lexical": 0.3})
    assert FusionConfig.from_dict(config.to_dict()) == config
