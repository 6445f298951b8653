"""The live index with a re-ranker: delta products are re-ranked too, explanations use it, and
compaction keeps it (a cross-encoder trained on the tiny random model; quality does not matter)."""

from __future__ import annotations

import pytest

from shopmatch.backends.inprocess.live import LiveIndex
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.pipeline import SearchPipeline
from shopmatch.query import Query
from shopmatch.rerank import RerankConfig
from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, train_cross_encoder
from shopmatch.train.data import LabeledPair
from tests.service.conftest import service_products


@pytest.fixture(scope="module")
def reranked_index(tiny_model, tiny_hybrid_config, catalog, tmp_path_factory):
    pairs = [LabeledPair("usb c cable", "USB-C cable 2 m", 1.0), LabeledPair("usb c cable", "Garden hose", 0.0)] * 4
    model = tmp_path_factory.mktemp("rr") / "reranker"
    train_cross_encoder(pairs, model, CrossEncoderTrainConfig(model=str(tiny_model), epochs=1, batch_size=4))
    rerank = RerankConfig(backend="torch", top_n=5).with_model(model)
    config = PipelineConfig(dense=tiny_hybrid_config.dense, rerank=rerank)
    products = [Product.from_dict(r) for r in service_products(catalog)]
    return SearchPipeline.build(products, config).save(tmp_path_factory.mktemp("rr-index") / "index")


def test_reranking_explanations_and_compaction(reranked_index):
    live = LiveIndex(reranked_index, compact_after=0)
    live.upsert([{"id": "n1", "title": "usb c cable braided 2 m"}])
    page = live.search(Query("usb c cable", k=5, explain=True))
    assert page.reranked
    assert all(r.sources["rerank"]["rank"] == r.rank for r in page.results)  # top 5 all re-ranked
    assert "n1" in [r.product_id for r in page.results]
    attribution = page.results[0].explanation["attribution"]
    assert attribution["model"] == "re-ranker"
    assert [t["token"] for t in attribution["query"]] == ["usb", "c", "cable"]
    plain = live.search(Query("usb c cable", k=5, rerank=False))
    assert not plain.reranked and "rerank" not in plain.results[0].sources
    live.compact()
    assert live.state.base.reranker is not None and live.search(Query("usb c cable", k=3)).reranked
    live.close()
