"""Pseudo-relevance feedback: the Rocchio step, its config, and the second bi-encoder search of the
pipeline in search and rerank mode (the live index: tests/service/test_live_index.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError
from shopmatch.pipeline import SearchPipeline
from shopmatch.query.feedback import FeedbackConfig, expanded_vectors

QUERIES = ["cast iron skillet", "wireless earbuds", "usb c charger 65w", "sofa"]


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_expanded_vectors_move_towards_the_mean_and_stay_unit_length():
    queries = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)
    found = [np.array([[0, 1, 0], [0, 0, 1]], dtype=np.float32), np.zeros((0, 3), dtype=np.float32)]
    moved = expanded_vectors(queries, found, weight=2.0)
    assert np.allclose(moved[0], unit([1, 1, 1]))  # q + 2 · (0, .5, .5)
    assert np.allclose(moved[1], queries[1])  # no feedback: unchanged
    assert np.allclose(expanded_vectors(queries, found, weight=0.0), queries)
    with pytest.raises(ValueError, match="2 queries but feedback for 1"):
        expanded_vectors(queries, found[:1], weight=1.0)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"docs": 0}, "feedback.docs must be a positive integer"),
        ({"docs": True}, "feedback.docs must be a positive integer"),
        ({"weight": -1}, r"feedback.weight must be a number in \[0, 100\]"),
        ({"weight": "1"}, r"feedback.weight must be a number in \[0, 100\]"),
        ({"enabled": "yes"}, "feedback.enabled must be true or false"),
        ({"depth": 3}, r"unknown feedback setting\(s\) \['depth'\]"),
    ],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ConfigError, match=message):
        FeedbackConfig.from_dict(settings)


def test_config_from_toml_and_saved_with_the_index(tmp_path):
    assert PipelineConfig().feedback == FeedbackConfig(enabled=True, docs=5, weight=1.0)
    path = tmp_path / "shop.toml"
    path.write_text('[pipeline]\nretrievers = ["lexical"]\n[feedback]\ndocs = 3\nweight = 2\n', encoding="utf-8")
    config = PipelineConfig.from_toml(path)
    assert config.feedback == FeedbackConfig(docs=3, weight=2.0)
    SearchPipeline.build([Product("1", "USB-C cable")], config).save(tmp_path / "index")
    assert SearchPipeline.load(tmp_path / "index").config.feedback == config.feedback
    path.write_text("[feedback]\nweight = -2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"shop.toml: feedback.weight"):
        PipelineConfig.from_toml(path)


@pytest.fixture(scope="module")
def hybrid(catalog, tiny_hybrid_config):
    config = dataclasses.replace(tiny_hybrid_config, feedback=FeedbackConfig(docs=3, weight=2.0))
    return SearchPipeline.build(catalog.products, config)


def variant(pipeline: SearchPipeline, **feedback) -> SearchPipeline:
    return pipeline.with_config(feedback=dataclasses.replace(pipeline.config.feedback, **feedback))


def moved_vector(pipeline: SearchPipeline, query: str, candidates: list[str] | None = None) -> np.ndarray:
    """What the query vector should become: towards the top ``docs`` of the search without feedback
    (of the ``candidates`` ranked without feedback, in rerank mode)."""
    feedback = pipeline.config.feedback
    plain = variant(pipeline, enabled=False)
    if candidates is None:
        top = [r.product_id for r in plain.search(query, k=feedback.docs)[0]]
    else:
        scores = plain.score_candidates(query, candidates)
        top = [candidates[i] for i in np.argsort(-scores, kind="stable")[: feedback.docs]]
    rows = np.array([pipeline.products.row_of(pid) for pid in top])
    dense = pipeline.retrievers["dense"]
    (vector,) = dense.prepare([query])
    return unit(vector + feedback.weight * dense.vectors_of(rows).mean(axis=0))


def test_search_ranks_the_dense_list_by_the_moved_vector(hybrid):
    changed = 0
    for query in QUERIES:
        vector = moved_vector(hybrid, query)
        expected = hybrid.retrievers["dense"].search([vector], hybrid.config.candidates)
        rank_of = {int(row): i + 1 for i, row in enumerate(expected.rows[0])}
        results = hybrid.search(query, k=10)[0]
        assert results
        for result in results:
            row = hybrid.products.row_of(result.product_id)
            dense = result.sources["dense"]
            assert dense["rank"] == rank_of.get(row)
            if dense["rank"] is not None:
                cosine = float(hybrid.retrievers["dense"].vectors_of(np.array([row]))[0] @ vector)
                assert dense["score"] == pytest.approx(cosine, abs=1e-5)
        off = variant(hybrid, enabled=False).search(query, k=10)[0]
        changed += [r.sources["dense"]["rank"] for r in off] != [r.sources["dense"]["rank"] for r in results]
    assert changed  # the feedback moved at least one query's dense list


def test_feedback_off_or_weight_zero_is_the_plain_search(hybrid):
    for query in QUERIES:
        off = variant(hybrid, enabled=False).search(query, k=10)[0]
        zero = variant(hybrid, weight=0.0).search(query, k=10)[0]
        assert [r.product_id for r in off] == [r.product_id for r in zero]


def test_rerank_mode_scores_with_the_vector_moved_towards_the_best_candidates(catalog, tiny_hybrid_config):
    """Rerank mode takes its feedback from the candidates it is given: no search of the catalog."""
    config = dataclasses.replace(tiny_hybrid_config, retrievers=("dense",), feedback=FeedbackConfig(docs=4))
    dense_only = SearchPipeline.build(catalog.products, config)
    candidates = [p.id for p in catalog.products[:12]]
    rows = np.array([dense_only.products.row_of(pid) for pid in candidates])
    for query in QUERIES:
        scores = dense_only.score_candidates(query, candidates)
        expected = dense_only.retrievers["dense"].vectors_of(rows) @ moved_vector(dense_only, query, candidates)
        assert np.allclose(scores, expected, atol=1e-5)
        plain = variant(dense_only, enabled=False).score_candidates(query, candidates)
        assert not np.allclose(scores, plain, atol=1e-5)


def test_products_the_query_excludes_are_not_feedback(tiny_hybrid_config):
    products = [Product(f"c{i}", f"Cat treats with chicken, pack {i}") for i in range(4)]
    products += [Product(f"s{i}", f"Cat treats, salmon and tuna, pack {i}") for i in range(4)]
    config = dataclasses.replace(tiny_hybrid_config, retrievers=("dense",), feedback=FeedbackConfig(docs=4))
    pipeline = SearchPipeline.build(products, config)
    query = "cat treats without chicken"
    salmon = np.array([pipeline.products.row_of(f"s{i}") for i in range(4)])
    dense = pipeline.retrievers["dense"]
    (vector,) = dense.prepare([query])
    expected = unit(vector + dense.vectors_of(salmon).mean(axis=0))  # the four without chicken
    all_rows = np.arange(len(products))
    scores = pipeline.score_candidates(query, [p.id for p in products])
    cosines = dense.vectors_of(all_rows) @ expected
    shift = scores[:4] - cosines[:4]  # the chicken ones are demoted by a constant; the rest are cosines
    assert np.allclose(scores[4:], cosines[4:], atol=1e-5)
    assert np.allclose(shift, shift[0], atol=1e-5) and shift[0] < 0
