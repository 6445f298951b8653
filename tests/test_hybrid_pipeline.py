"""The hybrid pipeline (BM25F + dense, fused) on the tiny random model: build, save, load, search,
rerank, config in the index, and older lexical-only indexes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError, IndexFormatError
from shopmatch.pipeline import SearchPipeline
from tests.conftest import LEXICAL

QUERIES = ["65w charger", "cast iron skillet 12 inch", "蓝牙耳机", "sofa"]


@pytest.fixture(scope="module")
def hybrid(catalog, tiny_hybrid_config):
    return SearchPipeline.build(catalog.products, tiny_hybrid_config)


@pytest.fixture(scope="module")
def hybrid_dir(hybrid, tmp_path_factory):
    return hybrid.save(tmp_path_factory.mktemp("hybrid") / "idx")


def test_results_record_each_retriever(hybrid):
    results = hybrid.search("cast iron skillet 12 inch", k=5)[0]
    assert len(results) == 5
    assert set(results[0].sources) == {"lexical", "dense"}
    by_id = {r.product_id: r.to_dict() for r in results}
    assert by_id["p008"]["retrievers"]["lexical"]["rank"] == 1  # BM25's best stays near the top
    ranks = [r.sources["dense"]["rank"] for r in results]
    assert all(r is None or r >= 1 for r in ranks)
    # fused score = Σ w_r / (60 + rank) over the retrievers that returned the product, the dense
    # weight w the adaptive one the page reports (lexical 1)
    page = hybrid.search_pages(["cast iron skillet 12 inch"])[0]
    weight = {"lexical": 1.0, "dense": page.fusion["dense_weight"]}
    for r in page.results:
        expected = sum(weight[name] / (60 + s["rank"]) for name, s in r.sources.items() if s["rank"])
        assert r.score == pytest.approx(expected, abs=1e-5)  # the weight is shown to 4 decimals


def test_equal_weight_rrf_stays_reachable(hybrid):
    """``[fusion] adaptive = false``: plain RRF of the configured weights, fused score =
    Σ 1 / (60 + rank); the page reports no adaptive weight."""
    from dataclasses import replace

    plain = hybrid.with_config(fusion=replace(hybrid.config.fusion, adaptive=False))
    page = plain.search_pages(["cast iron skillet 12 inch"])[0]
    assert page.fusion is None and "fusion" not in page.to_dict()
    assert any(r.sources["dense"]["rank"] for r in page.results)
    for r in page.results:
        expected = sum(1 / (60 + s["rank"]) for s in r.sources.values() if s["rank"])
        assert r.score == pytest.approx(expected, rel=1e-5)


def test_dense_finds_what_lexical_cannot(hybrid):
    lexical_only = hybrid.retrievers["lexical"].search_texts(["zzqx sofa"], k=10)
    fused = hybrid.search("zzqx sofa", k=10)[0]
    assert len(fused) == 10 and len(fused) > int((lexical_only.rows >= 0).sum())


def test_save_load_round_trip(hybrid, hybrid_dir):
    manifest = json.loads((hybrid_dir / "manifest.json").read_text())
    assert manifest["format_version"] == 3
    assert manifest["config"]["pipeline"]["retrievers"] == ["lexical", "dense"]
    assert (hybrid_dir / "dense" / "encoder" / "onnx").is_dir()
    assert (hybrid_dir / "dense" / "vectors" / "vectors.npy").is_file()
    loaded = SearchPipeline.load(hybrid_dir)
    assert loaded.config == hybrid.config
    for a, b in zip(hybrid.search(QUERIES, k=8), loaded.search(QUERIES, k=8), strict=True):
        assert [r.product_id for r in a] == [r.product_id for r in b]
        assert [r.score for r in a] == pytest.approx([r.score for r in b], rel=1e-5)


def test_loading_never_exports_again(hybrid_dir, monkeypatch):
    import shopmatch.encoders.sentence_encoder as module

    def refuse(*args, **kwargs):
        raise AssertionError("loading an index must use its saved encoder")

    monkeypatch.setattr(module, "cached_export", refuse)
    assert SearchPipeline.load(hybrid_dir).search("sofa", k=1)


def test_missing_encoder_is_a_damaged_index(hybrid, tmp_path):
    target = hybrid.save(tmp_path / "idx")
    for path in (target / "dense" / "encoder" / "onnx").iterdir():
        path.unlink()
    with pytest.raises(IndexFormatError, match="damaged index"):
        SearchPipeline.load(target)


def test_rerank_mode_fuses_candidate_rankings(hybrid):
    ids = ["p008", "p004", "p001", "nope"]
    scores = hybrid.score_candidates("cast iron skillet", ids)
    assert scores[3] == -np.inf
    assert np.argmax(scores) == 0
    dense_retriever = hybrid.retrievers["dense"]
    rows = np.array([hybrid.products.row_of(i) for i in ids[:3]])
    dense = dense_retriever.score_rows(dense_retriever.prepare(["cast iron skillet"])[0], rows)
    assert dense.shape == (3,) and np.all(np.abs(dense) <= 1.0001)


def test_weighted_fusion_and_word_vectors(catalog, tiny_model):
    config = PipelineConfig.from_dict(
        {
            "pipeline": {"retrievers": ["lexical", "word_vectors"], "candidates": 20},
            "fusion": {"method": "weighted", "weights": {"lexical": 0.7, "word_vectors": 0.3}},
            "word_vectors": {"dim": 8, "min_count": 1, "epochs": 5},
        }
    )
    pipe = SearchPipeline.build(catalog.products, config)
    results = pipe.search("skillet", k=3)[0]
    assert results[0].product_id == "p008"
    # min-max normalized: 0.7 × 1 for the top lexical hit, plus 0.3 × its normalized word-vector score
    assert results[0].sources["lexical"]["rank"] == 1 and 0.7 <= results[0].score <= 1.0


def test_chinese_queries_skip_an_english_only_encoder(hybrid):
    dense = hybrid.retrievers["dense"].search_texts(["蓝牙耳机 降噪"], k=5)
    assert (dense.rows == -1).all()
    results = hybrid.search("蓝牙耳机", k=3)[0]
    assert results and all(r.sources["dense"]["rank"] is None for r in results)


def test_rerank_mode_gives_an_unreadable_query_no_dense_scores(hybrid, catalog):
    """In rerank mode too, a query the bi-encoder cannot read gets no cosine noise: the candidates
    are ordered as BM25F alone orders them (reciprocal ranks), the unmatched ones score 0."""
    ids = [p.id for p in catalog.products]
    scores = hybrid.score_candidates("蓝牙耳机", ids)
    lexical_only = hybrid.with_config(retrievers=("lexical",))
    assert list(lexical_only.retrievers) == ["lexical"]
    lexical = lexical_only.score_candidates("蓝牙耳机", ids)
    matched = lexical > 0
    assert matched.any() and not matched.all()
    ranks = np.argsort(np.argsort(-lexical[matched], kind="stable"), kind="stable") + 1
    assert np.allclose(scores[matched], 1 / (60 + ranks))
    assert (scores[~matched] == 0).all()


def test_version_2_index_without_rerank_section_loads(hybrid, hybrid_dir, tmp_path):
    target = tmp_path / "v2"
    shutil.copytree(hybrid_dir, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["format_version"] = 2
    manifest["config"].pop("rerank", None)
    (target / "manifest.json").write_text(json.dumps(manifest))
    loaded = SearchPipeline.load(target)
    assert loaded.reranker is None
    assert [r.product_id for r in loaded.search("cast iron skillet", k=3)[0]] == [
        r.product_id for r in hybrid.search("cast iron skillet", k=3)[0]
    ]


def test_version_1_index_loads_as_lexical(catalog, tmp_path):
    target = SearchPipeline.build(catalog.products, LEXICAL).save(tmp_path / "v1")
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["format_version"] = 1
    manifest["config"] = {"lexical": manifest["config"]["lexical"]}
    (target / "manifest.json").write_text(json.dumps(manifest))
    loaded = SearchPipeline.load(target)
    assert loaded.config.retrievers == ("lexical",)
    assert loaded.search("cast iron skillet", k=1)[0][0].product_id == "p008"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"pipeline": {"retrievers": ["bm25"]}}, r"unknown retriever\(s\) \['bm25'\]"),
        ({"pipeline": {"retrievers": []}}, "must be a non-empty list"),
        ({"pipeline": {"retrievers": ["dense", "dense"]}}, "lists a retriever twice"),
        ({"pipeline": {"candidates": 0}}, "candidates must be a positive integer"),
        ({"pipeline": {"depth": 3}}, r"unknown pipeline setting\(s\) \['depth'\]"),
        ({"fusion": {"weights": {"bm25": 1}}}, r"fusion weights name unknown retriever\(s\) \['bm25'\]"),
        ({"dense": {"max_unknown": 2}}, "dense.max_unknown must be a number in"),
        ({"dense": {"index": {"kind": "ivf"}}}, "dense.index.kind must be one of"),
        ({"dense": {"text": {"template": "{price}"}}}, "unknown field"),
        ({"dense": 3}, r"\[dense\] must be a table"),
        ({"reranker": {}}, r"unknown config section\(s\) \['reranker'\]"),
    ],
)
def test_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_dict(data)


def test_shipped_configs_parse():
    from tests.conftest import REPO

    for path in sorted((REPO / "configs").glob("*.toml")):
        config = PipelineConfig.from_toml(path)
        assert PipelineConfig.from_dict(config.to_dict()) == config, path
