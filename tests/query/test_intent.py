"""Category intent: training, prediction, persistence, the boost in the search path, the skip."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from shopmatch.backends.inprocess.static import StaticIndex
from shopmatch.hits import FusedHits, SourceHits
from shopmatch.pipeline import SearchPipeline
from shopmatch.query.intent import RARE, IntentConfig, IntentModel, boost_by_intent, candidate_intent_scores

VECTORS = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [0, 0, 1], [0, 0.1, 0.9]], dtype=np.float32)
PATHS = [
    ["Kitchen", "Mugs"],
    ["Kitchen", "Mugs"],
    ["Kitchen", "Pans"],
    ["Kitchen", "Pans"],
    ["Garden", "Hoses"],
    ["Garden", "Hoses"],
]


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_tiny_catalog_predicts_the_nearest_categories_per_level():
    model = IntentModel.train(PATHS, VECTORS, IntentConfig(min_products=2))
    assert model.paths == [("Garden",), ("Garden", "Hoses"), ("Kitchen",), ("Kitchen", "Mugs"), ("Kitchen", "Pans")]
    top = model.predict(unit([0.1, 1, 0]), top=2)
    assert [p.path for p in top] == [("Kitchen", "Pans"), ("Kitchen", "Mugs")]
    assert top[0].probability > 0.5
    assert [p.path for p in model.predict(unit([0, 0.1, 1]), top=1, level=1)] == [("Garden",)]
    probabilities = model.probabilities(unit([1, 0, 0]))
    for level in (1, 2):  # a distribution per level
        assert probabilities[model.levels == level].sum() == pytest.approx(1.0)


def test_rare_categories_are_not_predicted_and_too_few_categories_mean_no_model():
    paths = [*PATHS, ["Toys", "Kites"]]
    vectors = np.vstack([VECTORS, [[0.5, 0.5, 0.0]]]).astype(np.float32)
    model = IntentModel.train(paths, vectors, IntentConfig(min_products=2))
    assert ("Toys",) not in model.paths
    assert model.product_nodes[-1].tolist() == [RARE, RARE]
    assert IntentModel.train([["Kitchen"]] * 6, VECTORS, IntentConfig(min_products=2)) is None
    assert IntentModel.train([None] * 6, VECTORS, IntentConfig()) is None


def test_clicked_queries_move_the_centroids_of_their_products_categories():
    model = IntentModel.train(PATHS, VECTORS, IntentConfig(min_products=2))
    asked = unit([0, 0.5, 1])  # a query that reads like a hose, after which shoppers bought pans
    assert model.predict(asked, top=1, level=2)[0].path == ("Garden", "Hoses")
    queries = (np.stack([asked] * 5), np.array([2, 3, 2, 3, 2]))
    taught = IntentModel.train(PATHS, VECTORS, IntentConfig(min_products=2), queries=queries)
    assert taught.predict(asked, top=1, level=2)[0].path == ("Kitchen", "Pans")
    assert taught.paths == model.paths and np.array_equal(taught.product_nodes, model.product_nodes)
    none = IntentModel.train(PATHS, VECTORS, IntentConfig(min_products=2), queries=(np.zeros((0, 3)), np.zeros(0)))
    assert np.array_equal(none.centroids, model.centroids)


def test_an_index_learns_intent_from_clicked_queries(catalog, tiny_hybrid_config):
    from shopmatch.events import parse_event
    from shopmatch.events.io import EventLog
    from shopmatch.query.intent import clicked_pairs

    built = SearchPipeline.build(catalog.products, tiny_hybrid_config)
    text = "zzq qxv"  # words the catalog does not have: the catalog alone cannot place it
    vector = built.retrievers["dense"].prepare([text])[0]
    before = built.index.intent.predict(vector, top=1, level=1)[0].path
    target = next(p for p in catalog.products if p.category and (p.category[0],) != before)
    shown = parse_event({"type": "impression", "search_id": "s", "query": text, "results": [target.id],
                         "ts": "2026-01-01T00:00:00Z"})  # fmt: skip
    clicks = [parse_event({"type": "click", "search_id": "s", "product_id": pid, "ts": "2026-01-01T00:00:01Z"})
              for pid in (target.id, "not-in-the-catalog")]  # fmt: skip
    pairs = clicked_pairs(EventLog([shown], clicks)) * 20
    taught = built.index.with_clicked_queries(pairs)
    assert taught.intent.predict(vector, top=1, level=1)[0].path == (target.category[0],)
    assert built.index.with_clicked_queries([]) is built.index


def test_intent_scores_average_the_levels_and_read_new_rows_from_their_record():
    model = IntentModel.train(PATHS, VECTORS, IntentConfig(min_products=2))
    probabilities = model.probabilities(unit([1, 0, 0]))
    records = {6: {"category": ["Kitchen", "Mugs"]}, 7: {}}
    scores = candidate_intent_scores(model, probabilities, np.array([0, 4, 6, 7]), records.__getitem__)
    kitchen, mugs = probabilities[model.node_of[("Kitchen",)]], probabilities[model.node_of[("Kitchen", "Mugs")]]
    assert scores[0] == pytest.approx((kitchen + mugs) / 2)
    assert scores[2] == pytest.approx(scores[0])  # a row after the trained catalog: its record's category
    assert scores[0] > scores[1] and scores[3] == 0.0


def test_boost_reorders_by_score_plus_weight_times_intent_and_records_the_places():
    hits = FusedHits(
        np.array([[0.03, 0.02, 0.01, 0.0]], dtype=np.float32),
        np.array([[10, 11, 12, -1]]),
        {"lexical": SourceHits(np.array([[1, 2, 3, 0]], dtype=np.int32), np.array([[3, 2, 1, np.nan]], np.float32))},
    )
    boosted = boost_by_intent(hits, np.array([0.0, 0.0, 1.0]), weight=0.05)
    assert boosted.rows[0].tolist() == [12, 10, 11, -1]
    assert boosted.sources["lexical"].ranks[0].tolist() == [3, 1, 2, 0]
    assert boosted.sources["intent"].ranks[0, :3].tolist() == [3, 1, 2]  # places before the boost
    assert boosted.scores[0, 0] == pytest.approx(0.06)
    same = boost_by_intent(hits, np.array([0.0, 0.0, 1.0]), weight=0.001)
    assert same.rows[0].tolist() == [10, 11, 12, -1]


def test_saved_with_the_index_and_trained_lazily_for_an_older_index(tmp_path, catalog, tiny_hybrid_config):
    built = SearchPipeline.build(catalog.products, tiny_hybrid_config)
    assert built.index.intent is not None
    directory = built.save(tmp_path / "index")
    assert (directory / "intent" / "centroids.npy").is_file()
    assert json.loads((directory / "manifest.json").read_text())["intent"] is True
    vector = built.retrievers["dense"].prepare(["usb c charger"])[0]
    expected = built.index.intent.predict(vector)
    assert SearchPipeline.load(directory).index.intent.predict(vector) == expected
    # an index written before intent models: no intent/ and no manifest entry
    manifest = json.loads((directory / "manifest.json").read_text())
    del manifest["intent"]
    (directory / "manifest.json").write_text(json.dumps(manifest))
    for path in (directory / "intent").iterdir():
        path.unlink()
    (directory / "intent").rmdir()
    older = StaticIndex.load(directory)
    assert older._intent.trained is False
    assert older.intent.predict(vector) == expected
    assert older.with_config(older.config).intent is older.intent  # trained once, shared


def test_the_boost_changes_the_order_and_the_response_shows_the_prediction(catalog, tiny_hybrid_config):
    pipe = SearchPipeline.build(catalog.products, tiny_hybrid_config)
    query = "wireless charger"
    off = pipe.with_config(intent=IntentConfig(weight=0.0)).search_pages([query])[0]
    strong = pipe.with_config(intent=IntentConfig(weight=100.0)).search_pages([query])[0]
    assert [r.product_id for r in off.results] != [r.product_id for r in strong.results]
    intent = [r.sources["intent"]["score"] for r in strong.results]
    assert intent == sorted(intent, reverse=True)  # at weight 100 the boost outweighs RRF (< 0.04)
    body = strong.to_dict()
    predicted = body["predicted_categories"]
    assert 1 <= len(predicted) <= IntentConfig().top
    assert all(set(p) == {"path", "probability"} for p in predicted)
    assert body["understanding"]["predicted_categories"] == predicted
    assert body["understanding"]["intent_weight"] == 100.0
    assert off.to_dict()["predicted_categories"] == predicted  # predicted even without a boost
    disabled = pipe.with_config(intent=IntentConfig(enabled=False)).search_pages([query])[0]
    assert disabled.to_dict()["predicted_categories"] == []
    assert "intent" not in disabled.results[0].sources


def test_a_catalog_without_categories_skips_intent_cleanly(tmp_path, catalog, tiny_hybrid_config):
    products = [dataclasses.replace(p, category=()) for p in catalog.products]
    pipe = SearchPipeline.build(products, tiny_hybrid_config)
    assert pipe.index.intent is None
    page = pipe.search_pages(["usb c charger"])[0]
    assert page.results and page.to_dict()["predicted_categories"] == []
    assert "intent" not in page.results[0].sources
    directory = pipe.save(tmp_path / "index")
    assert not (directory / "intent").exists()
    assert json.loads((directory / "manifest.json").read_text())["intent"] is False
    loaded = SearchPipeline.load(directory)
    assert loaded.index.intent is None and loaded.index._intent.trained  # nothing read again


def test_explain_shows_what_the_query_understanding_did(catalog, tiny_hybrid_config):
    pipe = SearchPipeline.build(catalog.products, tiny_hybrid_config).with_config(intent=IntentConfig(weight=0.5))
    top = pipe.search("wireless charger", k=1)[0][0]
    explained = pipe.explain("wireless charger", top.product_id)
    assert explained["understanding"]["predicted_categories"]
    assert explained["understanding"]["intent_boost"] == top.sources["intent"]["score"]


def test_intent_section_round_trips_and_checks_its_values():
    from shopmatch.config import PipelineConfig
    from shopmatch.errors import ConfigError

    config = PipelineConfig.from_dict({"intent": {"weight": 0.02, "depth": 2}})
    assert config.intent.weight == 0.02 and config.intent.depth == 2
    assert PipelineConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="intent.temperature"):
        PipelineConfig.from_dict({"intent": {"temperature": 0}})


def test_ranker_hook_scores_candidates_like_the_boost(catalog, tiny_hybrid_config):
    from shopmatch.query.intent import intent_feature

    pipe = SearchPipeline.build(catalog.products, tiny_hybrid_config)
    snapshot = pipe.snapshot
    prepared = {name: r.prepare(["wireless charger"])[0] for name, r in snapshot.retrievers.items()}
    rows = np.arange(6)
    model = snapshot.intent
    expected = candidate_intent_scores(model, model.probabilities(prepared["dense"]), rows, snapshot.record)
    assert np.allclose(intent_feature(snapshot, prepared, rows), expected)
    assert expected.max() > 0
    assert intent_feature(snapshot, {"dense": None}, rows).tolist() == [0.0] * 6


def test_cli_search_json_shows_the_understanding(tmp_path, catalog, tiny_hybrid_config):
    from typer.testing import CliRunner

    from shopmatch.cli import app

    index = SearchPipeline.build(catalog.products, tiny_hybrid_config).save(tmp_path / "index")
    result = CliRunner().invoke(app, ["search", str(index), "wireless charger", "-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout.splitlines()[0])
    assert body["predicted_categories"] and body["understanding"]["expansions"] == []


def test_with_config_keeps_the_model_unless_a_query_time_setting_changes():
    model = IntentModel.train(PATHS, VECTORS, IntentConfig(min_products=2))
    assert model.with_config(IntentConfig(min_products=2)) is model
    assert model.with_config(IntentConfig(min_products=50)) is model  # a trained setting: kept as trained
    warmer = model.with_config(IntentConfig(min_products=2, temperature=0.5))
    assert warmer is not model and warmer.config.temperature == 0.5 and warmer.config.min_products == 2


def test_probabilities_are_a_softmax_over_each_levels_cosines():
    rng = np.random.default_rng(3)
    paths = [("A",), ("B",), ("A", "x"), ("A", "y"), ("B", "z"), ("A", "x", "1"), ("A", "x", "2")]
    centroids = rng.normal(size=(len(paths), 8)).astype(np.float32)
    model = IntentModel(paths, centroids, np.zeros((1, 3), np.int32), IntentConfig(temperature=0.07))
    vector = rng.normal(size=8).astype(np.float32)
    got = model.probabilities(vector)
    cosines = (centroids @ vector).astype(np.float64)
    for level in (1, 2, 3):
        at = model.levels == level
        logits = cosines[at] / 0.07
        expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        np.testing.assert_allclose(got[at], expected, rtol=1e-12)
        assert got[at].sum() == pytest.approx(1.0)
