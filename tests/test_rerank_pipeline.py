"""The re-ranking stage of the pipeline, with a cross-encoder trained on the tiny random model."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError
from shopmatch.pipeline import SearchPipeline
from shopmatch.rerank import CrossEncoderReranker, RerankConfig
from shopmatch.rerank.blend import blended_scores, ranks_of
from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, train_cross_encoder
from shopmatch.train.data import LabeledPair
from tests.tiny_model import WORDS


@pytest.fixture(scope="module", params=["cls", "mean"])
def reranker_dir(request, tiny_model, tmp_path_factory):
    """A cross-encoder trained for one epoch on a few fixture-like pairs (quality does not matter
    here), with either head: the index stores, loads and runs both the same way."""
    pairs = [LabeledPair("usb c cable", "USB-C cable 2 m", 1.0), LabeledPair("usb c cable", "Garden hose", 0.0)] * 4
    out = tmp_path_factory.mktemp("rr") / "reranker"
    config = CrossEncoderTrainConfig(model=str(tiny_model), epochs=1, batch_size=4, max_length=48, head=request.param)
    train_cross_encoder(pairs, out, config)
    return out


@pytest.fixture(scope="module", params=["torch", "onnx-int8"])
def rerank_pipeline(request, catalog, reranker_dir):
    rerank = RerankConfig(backend=request.param, quantization="avx2", top_n=3).with_model(reranker_dir)
    config = PipelineConfig(retrievers=("lexical",), rerank=rerank)
    return SearchPipeline.build(catalog.products, config)


def test_with_model_reads_the_training_record(reranker_dir):
    config = RerankConfig().with_model(reranker_dir)
    assert config.model == str(reranker_dir) and config.max_length == 48 and config.enabled
    assert not RerankConfig().enabled


def test_top_n_is_ordered_by_the_cross_encoder(rerank_pipeline):
    query = "usb cable"
    plain = SearchPipeline(rerank_pipeline.config, rerank_pipeline.products, rerank_pipeline.retrievers)
    before = [r.product_id for r in plain.search(query, k=10)[0]]
    results = rerank_pipeline.search(query, k=10)[0]
    assert len(before) > 3, "the fixture query should match more products than are re-ranked"
    top = results[:3]
    texts = [rerank_pipeline.reranker.text_of(r.product) for r in top]
    expected = rerank_pipeline.reranker.score(query, texts)
    assert [r.score for r in top] == pytest.approx(expected.tolist(), abs=1e-6)
    assert all(a.score >= b.score for a, b in zip(top, top[1:], strict=False))
    assert sorted(r.product_id for r in top) == sorted(before[:3])  # the same three, re-ordered
    assert [r.product_id for r in results[3:]] == before[3:]  # the rest keep the fused order
    for r in top:
        assert r.sources["rerank"]["rank"] == r.rank
        assert r.sources["fusion"]["rank"] == before.index(r.product_id) + 1
        assert r.sources["lexical"]["rank"] == r.sources["fusion"]["rank"]
    assert results[3].sources["rerank"]["rank"] is None


def test_k_smaller_than_top_n_still_reranks_top_n(rerank_pipeline):
    full = [r.product_id for r in rerank_pipeline.search("usb cable", k=3)[0]]
    assert [r.product_id for r in rerank_pipeline.search("usb cable", k=2)[0]] == full[:2]


def test_score_candidates_uses_the_reranker(rerank_pipeline, catalog):
    ids = [p.id for p in catalog.products[:6]] + ["no-such-product"]
    scores = rerank_pipeline.score_candidates("usb cable", ids)
    texts = [rerank_pipeline.reranker.text_of(p) for p in catalog.products[:6]]
    assert scores[:6] == pytest.approx(rerank_pipeline.reranker.score("usb cable", texts).tolist(), abs=1e-6)
    assert scores[6] == -np.inf


def test_save_and_load_round_trip(rerank_pipeline, tmp_path):
    target = rerank_pipeline.save(tmp_path / "idx")
    assert (target / "rerank" / "config.json").is_file()
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["format_version"] == 3 and manifest["config"]["rerank"]["top_n"] == 3
    loaded = SearchPipeline.load(target)
    a = [(r.product_id, round(r.score, 5)) for r in rerank_pipeline.search("usb cable", k=8)[0]]
    b = [(r.product_id, round(r.score, 5)) for r in loaded.search("usb cable", k=8)[0]]
    assert a == b


def test_int8_and_torch_agree(catalog, reranker_dir):
    texts = [p.title for p in catalog.products[:10]]
    torch_model = CrossEncoderReranker.from_config(RerankConfig(backend="torch").with_model(reranker_dir))
    int8 = CrossEncoderReranker.from_config(RerankConfig(quantization="avx2").with_model(reranker_dir))
    assert np.abs(torch_model.score("usb cable", texts) - int8.score("usb cable", texts)).max() < 0.05


def test_onnx_reranker_sessions_do_not_spin(rerank_pipeline, tmp_path):
    # spinning threads hold the cores the mean-token head needs after the ONNX transformer
    # (bench/onnx_spinning.py); with either head, fresh or loaded from an index
    if rerank_pipeline.config.rerank.backend == "torch":
        pytest.skip("ONNX backends only")
    loaded = SearchPipeline.load(rerank_pipeline.save(tmp_path / "idx"))
    for reranker in (rerank_pipeline.reranker, loaded.reranker):
        session = reranker.model[0].auto_model.model
        assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_the_configured_token_limit_applies(catalog, reranker_dir, backend):
    # the model was saved with max_length 48; the configured limit wins on every backend (the
    # clipping of long texts counts on it)
    config = RerankConfig(backend=backend, quantization="avx2").with_model(reranker_dir)
    for limit in (12, 48, 64):
        reranker = CrossEncoderReranker.from_config(replace(config, max_length=limit))
        features = reranker.model.preprocess([("usb cable", " ".join(WORDS * 3))])
        assert features["input_ids"].shape[1] == limit


@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_a_token_limit_beyond_the_model_is_a_config_error(reranker_dir, backend):
    config = RerankConfig(backend=backend, quantization="avx2").with_model(reranker_dir)
    with pytest.raises(ConfigError, match=r"max_length 512 is more than .* can read \(128 tokens\)"):
        CrossEncoderReranker.from_config(replace(config, max_length=512))


@pytest.mark.parametrize("max_length", [8, 16, 40])
def test_clipping_long_texts_leaves_what_the_model_reads_unchanged(catalog, reranker_dir, max_length):
    config = RerankConfig(backend="torch").with_model(reranker_dir)  # trained at 48 tokens
    reranker = CrossEncoderReranker.from_config(replace(config, max_length=max_length))
    assert reranker.model.max_seq_length == max_length
    # one token per word of the tiny vocabulary, so the cut falls close to the limit
    text = " ".join(WORDS * 3)
    titles = " ".join(p.title for p in catalog.products)
    queries = ["usb cable", "usb c cable charger " * 3, "the leather sofa " * 8, "-- ® red " * 12]
    texts = (text, titles, text[:60], "-- " * 30 + text, "x" * 300)
    pairs = [(q, t) for q in queries for t in texts]
    clipped = reranker._clipped(pairs)
    assert sum(c != p for c, p in zip(clipped, pairs, strict=True)) >= len(queries)  # it did cut
    whole, cut = reranker.model.preprocess(pairs), reranker.model.preprocess(clipped)
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert whole[key].tolist() == cut[key].tolist()
    expected = reranker.model.predict(pairs, convert_to_numpy=True)
    assert np.allclose(reranker.score_pairs(pairs), expected, atol=1e-6)


def test_bad_rerank_settings(tmp_path):
    with pytest.raises(ConfigError, match="top_n"):
        RerankConfig(top_n=0)
    with pytest.raises(ConfigError, match="unknown rerank setting"):
        PipelineConfig.from_dict({"rerank": {"modle": "x"}})
    with pytest.raises(ConfigError, match="not a model directory"):
        CrossEncoderReranker.from_config(RerankConfig(model=str(tmp_path)))


def test_cli_index_with_reranker_and_search_json(fixtures, reranker_dir, tmp_path):
    runner = CliRunner()
    config = tmp_path / "lexical.toml"
    config.write_text('[pipeline]\nretrievers = ["lexical"]\n[rerank]\nquantization = "avx2"\n')
    out = tmp_path / "idx"
    result = runner.invoke(
        app,
        ["index", str(fixtures / "catalog" / "products.jsonl"), "-o", str(out), "-c", str(config),
         "--reranker", str(reranker_dir), "--rerank-top", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "re-ranked" in result.output
    result = runner.invoke(app, ["search", str(out), "usb cable", "--json", "-k", "6"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["results"]
    assert [h["retrievers"]["rerank"]["rank"] for h in hits[:3]] == [1, 2, 3]
    assert hits[3]["retrievers"]["rerank"]["rank"] is None


def test_pipeline_without_reranker_is_unchanged(catalog):
    config = PipelineConfig(retrievers=("lexical",))
    pipe = SearchPipeline.build(catalog.products, config)
    assert pipe.reranker is None
    assert "rerank" not in pipe.search("usb cable", k=3)[0][0].sources
    assert replace(config, rerank=RerankConfig()).rerank.enabled is False


def test_fusion_weight_blends_the_two_orders(catalog, reranker_dir):
    """A large fusion weight keeps the first-stage order; the probabilities stay in the sources."""
    query = "usb cable"
    rerank = RerankConfig(backend="torch", top_n=5, fusion_weight=1000.0).with_model(reranker_dir)
    blended = SearchPipeline.build(catalog.products, PipelineConfig(retrievers=("lexical",), rerank=rerank))
    plain = SearchPipeline(blended.config, blended.products, blended.retrievers)
    before = [r.product_id for r in plain.search(query, k=10)[0]]
    results = blended.search(query, k=10)[0]
    assert [r.product_id for r in results] == before
    texts = [blended.reranker.text_of(r.product) for r in results[:5]]
    probabilities = blended.reranker.score(query, texts)
    assert [r.sources["rerank"]["score"] for r in results[:5]] == pytest.approx(probabilities.tolist(), abs=1e-6)
    assert all(a.score >= b.score for a, b in zip(results[:5], results[1:5], strict=False))

    ids = [p.id for p in catalog.products[:8]]
    first_stage = plain.score_candidates(query, ids)
    by_blend = blended.score_candidates(query, ids)
    assert np.argsort(-by_blend, kind="stable").tolist() == np.argsort(-first_stage, kind="stable").tolist()


def test_blended_scores_moves_toward_the_first_stage_order():
    probabilities = np.array([0.2, 0.1, 0.9, 0.8])  # the cross-encoder prefers candidates 2 and 3
    assert blended_scores(probabilities, 0.0).tolist() == probabilities.tolist()
    # candidate 0: rerank rank 3, first-stage rank 1; candidate 3: rerank rank 2, first-stage rank 4
    assert np.argsort(-blended_scores(probabilities, 0.5)).tolist() == [2, 0, 3, 1]
    assert set(np.argsort(-blended_scores(probabilities, 1.0)).tolist()[:2]) == {0, 2}  # ranks 3+1 = 1+3
    assert np.argsort(-blended_scores(probabilities, 50.0)).tolist() == [0, 1, 2, 3]
    assert ranks_of(np.array([0.5, 0.9, 0.5])).tolist() == [2.0, 1.0, 3.0]


@pytest.mark.parametrize("weight", [-1, float("nan"), float("inf"), "1", True])
def test_bad_fusion_weight(weight):
    with pytest.raises(ConfigError, match="fusion_weight"):
        RerankConfig(fusion_weight=weight)
