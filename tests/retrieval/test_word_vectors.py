"""Averaged word2vec + cosine baseline: trains on the catalog, searches, saves without pickle."""

from __future__ import annotations

import numpy as np
import pytest

from shopmatch.errors import ConfigError
from shopmatch.retrieval.word_vectors import WordVectorConfig, WordVectorRetriever

SMALL = WordVectorConfig(dim=16, min_count=1, epochs=30)


@pytest.fixture(scope="module")
def retriever(catalog):
    return WordVectorRetriever.build(catalog.products, SMALL)


def test_search_finds_products_by_their_words(retriever, catalog):
    hits = retriever.search_texts(["cast iron skillet", "蓝牙耳机"], k=5)
    assert hits.rows.shape == (2, 5) and (hits.rows >= 0).all()
    assert catalog.products[hits.rows[0, 0]].id == "p008"
    assert hits.scores[0, 0] == pytest.approx(1.0, abs=0.25) and (np.diff(hits.scores[0]) <= 1e-6).all()


def test_query_with_no_known_word_returns_nothing(retriever):
    hits = retriever.search_texts(["qqqzzz"], k=3)
    assert hits.rows.tolist() == [[-1, -1, -1]]


def test_deterministic_with_one_worker(catalog, retriever):
    again = WordVectorRetriever.build(catalog.products, SMALL)
    assert np.array_equal(again.word_vectors, retriever.word_vectors)


def test_save_load_round_trip(retriever, tmp_path):
    retriever.save(tmp_path / "wv")
    assert not any(p.is_file() and p.read_bytes()[:1] == b"\x80" for p in (tmp_path / "wv").rglob("*"))
    loaded = WordVectorRetriever.load(tmp_path / "wv")
    queries = ["usb c charger", "红色 杯子", "skillet"]
    a, b = retriever.search_texts(queries, k=4), loaded.search_texts(queries, k=4)
    assert a.rows.tolist() == b.rows.tolist()
    assert loaded.score_rows(loaded.prepare(["skillet"])[0], np.array([int(a.rows[2, 0])])) == pytest.approx(
        a.scores[2, :1], abs=1e-5
    )


def test_config_checks():
    with pytest.raises(ConfigError, match="word_vectors.dim must be a positive integer"):
        WordVectorConfig.from_dict({"dim": 0})
    with pytest.raises(ConfigError, match="unknown word_vectors setting"):
        WordVectorConfig.from_dict({"size": 10})
