"""Adaptive fusion: the dense weight follows the agreement of the dense and lexical lists, so a
query the bi-encoder cannot read (Chinese for an English model) is BM25F's alone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from shopmatch.config import PipelineConfig
from shopmatch.hits import SearchHits
from shopmatch.pipeline import SearchPipeline
from shopmatch.retrieval.adaptive_fusion import dense_weight


def _hits(rows: list[int]) -> SearchHits:
    return SearchHits(np.arange(len(rows), 0, -1, dtype=np.float32)[None, :], np.array([rows], dtype=np.int64))


def test_disjoint_lists_give_the_dense_list_no_weight():
    choice = dense_weight({"lexical": _hits([1, 2, 3]), "dense": _hits([7, 8, 9])}, 1000, 3, 0.2)
    assert choice.weight == 0.0 and choice.agreement == 0.0
    assert "lexical only" in choice.reason


def test_agreeing_lists_keep_the_configured_weight():
    choice = dense_weight({"lexical": _hits([1, 2, 3, 4]), "dense": _hits([4, 3, 2, 1])}, 1000, 4, 0.2, base=0.7)
    assert choice.weight == pytest.approx(0.7) and "full dense weight" in choice.reason


def test_partial_agreement_scales_linearly_and_is_corrected_for_chance():
    lists = {"lexical": _hits(list(range(10))), "dense": _hits([0, 20, 21, 22, 23, 24, 25, 26, 27, 28])}
    large = dense_weight(lists, 10**9, 10, 0.2)
    assert large.agreement == pytest.approx(0.1) and large.weight == pytest.approx(0.5)
    # 20 candidates: two random top 10s share half of them, so sharing 1 of 10 is no agreement
    assert dense_weight(lists, 20, 10, 0.2).weight == 0.0
    assert dense_weight(lists, 10**9, 10, 0.0).weight == 1.0  # full_agreement 0: always the full weight


def test_text_the_encoder_cannot_read_gets_no_weight_even_when_the_lists_agree():
    """Chinese titles for an English model: their vectors are noise, whatever the overlap."""
    lists = {"lexical": _hits([1, 2, 3, 4]), "dense": _hits([1, 2, 3, 4])}
    unreadable = dense_weight(lists, 1000, 4, 0.2, unknown=0.7, max_unknown=0.5)
    assert unreadable.weight == 0.0 and unreadable.readable == 0.0 and "unknown to the encoder" in unreadable.reason
    half = dense_weight(lists, 1000, 4, 0.2, unknown=0.25, max_unknown=0.5)
    assert half.weight == pytest.approx(0.5) and half.readable == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("lexical", "dense", "reason"),
    [([], [1, 2], "no lexical results"), ([1, 2], [], "no dense results"), ([1, 2], [3, 4], "only 2 candidates")],
)
def test_nothing_to_compare_keeps_the_weight(lexical, dense, reason):
    runs = {"lexical": _hits(lexical), "dense": _hits(dense)}
    choice = dense_weight(runs, 2, 10, 0.2, base=0.9)
    assert choice.weight == 0.9 and choice.agreement is None and reason in choice.reason


@pytest.fixture(scope="module")
def reads_chinese_as_noise(catalog, tiny_model):
    """A hybrid pipeline whose bi-encoder encodes every query, even one it cannot read
    (``max_unknown = 1``): the Chinese query's vector is noise."""
    config = PipelineConfig.from_dict({"dense": {"model": str(tiny_model), "quantization": "avx2", "max_unknown": 1.0}})
    return SearchPipeline.build(catalog.products, config)


def test_a_chinese_query_the_encoder_cannot_read_is_bm25f_alone(reads_chinese_as_noise):
    pipeline = reads_chinese_as_noise
    lexical = pipeline.with_config(retrievers=("lexical",)).search("蓝牙耳机", k=32)[0]
    page = pipeline.search_pages(["蓝牙耳机"])[0]
    assert page.fusion["dense_weight"] == 0.0 and "lexical only" in page.fusion["reason"]
    matched = [r.product_id for r in lexical]
    assert matched and [r.product_id for r in page.results[: len(matched)]] == matched
    reciprocal = [1 / (60 + rank) for rank in range(1, 1 + len(matched))]
    assert [r.score for r in page.results[: len(matched)]] == pytest.approx(reciprocal)
    # the noise is still there: equal-weight RRF lets it in
    plain = pipeline.with_config(fusion=replace(pipeline.config.fusion, adaptive=False))
    assert [r.score for r in plain.search("蓝牙耳机", k=len(matched))[0]] != pytest.approx(
        [r.score for r in page.results[: len(matched)]]
    )


def test_rerank_mode_routes_the_same_way(reads_chinese_as_noise, catalog):
    ids = [p.id for p in catalog.products]
    scores = reads_chinese_as_noise.score_candidates("蓝牙耳机", ids)
    lexical = reads_chinese_as_noise.with_config(retrievers=("lexical",)).score_candidates("蓝牙耳机", ids)
    matched = lexical > 0
    ranks = np.argsort(np.argsort(-lexical[matched], kind="stable"), kind="stable") + 1
    assert np.allclose(scores[matched], 1 / (60 + ranks))
    assert (scores[~matched] == 0).all()


def test_the_page_and_the_explanation_say_which_weight_and_why(reads_chinese_as_noise):
    page = reads_chinese_as_noise.search_pages(["usb c cable"])[0]
    shown = page.to_dict()["fusion"]
    assert set(shown) == {"dense_weight", "agreement", "readable", "reason"}
    assert 0.0 <= shown["dense_weight"] <= 1.0 and "dense top 5 shares" in shown["reason"]
    weight = {"lexical": 1.0, "dense": shown["dense_weight"]}
    for r in page.results:
        expected = sum(weight[name] / (60 + s["rank"]) for name, s in r.sources.items() if s["rank"])
        assert r.score == pytest.approx(expected, abs=1e-5)  # the weight is shown to 4 decimals
    explanation = reads_chinese_as_noise.explain("usb c cable", page.results[0].product_id)
    assert explanation["fusion"] == shown


def test_config_reads_and_checks_the_settings():
    config = PipelineConfig.from_dict({"fusion": {"adaptive": False, "agreement_k": 20, "full_agreement": 0.5}})
    assert (config.fusion.adaptive, config.fusion.agreement_k, config.fusion.full_agreement) == (False, 20, 0.5)
    assert PipelineConfig.from_dict(config.to_dict()) == config
    with pytest.raises(Exception, match="full_agreement"):
        PipelineConfig.from_dict({"fusion": {"full_agreement": 1.5}})
