"""The category-intent feature group of the learned ranker: values, training, storage, the stage,
explain, and the refusal of an index without an intent model."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.errors import ShopmatchError
from shopmatch.judgments import GainMap
from shopmatch.pipeline import SearchPipeline
from shopmatch.query.intent import IntentConfig, IntentModel
from shopmatch.rank.feature_groups import default_groups, ranker_features
from shopmatch.rank.features import FEATURE_NAMES
from shopmatch.rank.intent_features import (
    FILE,
    INTENT_FEATURE_NAMES,
    MISSING_RANK,
    MISSING_SCORE,
    IntentFeatures,
    intent_values,
)
from shopmatch.rank.model import Ranker, RankerError
from shopmatch.rank.selection import Candidate, fit_ranker
from shopmatch.rank.training import RankingData, ranking_data
from shopmatch.search import retrieval_ranker_inputs

GAINS = GainMap.esci()


def small_model() -> IntentModel:
    vectors = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1], [0, 0, 1], [0.1, 0, 0.9]], np.float32)
    paths = [["Home", "Mugs"], ["Home", "Cups"], ["Garden", "Hoses"], ["Garden", "Hoses"], ["Toys"], None]
    return IntentModel.train(paths, vectors, IntentConfig(min_products=1, temperature=0.1))


def test_values_score_rank_and_confidence_of_each_candidate():
    model = small_model()
    query = np.array([0.1, 1.0, 0.0], np.float32)  # Garden
    records = {6: {"category": ["Home", "Mugs"]}, 7: {"category": ["Unknown", "Thing"]}}
    values = intent_values(model, query, np.array([2, 0, 4, 5, 6, 7]), records.__getitem__)
    assert values.dtype == np.float32 and values.shape == (6, len(INTENT_FEATURE_NAMES))
    probs = model.probabilities(query)
    garden, hoses = model.node_of[("Garden",)], model.node_of[("Garden", "Hoses")]
    assert values[0, 0] == pytest.approx((probs[garden] + probs[hoses]) / 2, rel=1e-5)
    assert values[0, 1] == 1.0  # Garden > Hoses is the most probable second-level category
    assert values[0, 0] > values[1, 0] and values[1, 1] > 1.0
    assert values[2, 1] == 3.0  # Toys: third of the three top-level categories
    assert values[3, 0] == MISSING_SCORE and values[3, 1] == MISSING_RANK  # no category
    assert values[4].tolist() == pytest.approx(values[1].tolist())  # a newer row: its record's category
    assert values[5, 0] == 0.0 and values[5, 1] == MISSING_RANK  # a category the model does not know
    assert values[:, 2].tolist() == pytest.approx([probs[model.levels == 1].max()] * 6)
    no_vector = intent_values(model, None, np.array([0, 1]), records.__getitem__)
    assert no_vector[:, 0].tolist() == [MISSING_SCORE] * 2 and no_vector[:, 1].tolist() == [MISSING_RANK] * 2


@pytest.fixture(scope="module")
def hybrid(catalog, tiny_hybrid_config):
    return SearchPipeline.build(catalog.products, tiny_hybrid_config)


@pytest.fixture(scope="module")
def data(hybrid, judgments):
    groups = default_groups(hybrid.snapshot)
    assert [g.name for g in groups] == ["intent"]
    return ranking_data(hybrid, judgments, GAINS, feature_groups=groups)


def test_training_rows_carry_the_intent_columns_the_stage_computes(hybrid, judgments, data):
    assert data.feature_names == FEATURE_NAMES + INTENT_FEATURE_NAMES
    assert data.without_groups().feature_names == FEATURE_NAMES
    assert data.without_groups().features.shape[1] == len(FEATURE_NAMES)
    ranker = Ranker(None, data.feature_names, groups=data.feature_groups)
    query = judgments.query_ids[0]
    inputs = retrieval_ranker_inputs(hybrid.snapshot, judgments.queries[query])
    rows = data.subset([query])
    live = ranker_features(ranker, hybrid.snapshot, inputs.query, inputs.prepared, inputs.hits, rows.groups[0])
    assert np.array_equal(live, rows.features)
    intent = rows.features[:, len(FEATURE_NAMES) :]
    assert (intent[:, 0] >= 0).any() and len(set(intent[:, 2].tolist())) == 1


def test_a_saved_ranking_data_gets_its_groups_back_when_loaded(data, tmp_path):
    data.save(str(tmp_path / "rows.npz"))
    loaded = RankingData.load(str(tmp_path / "rows.npz"), feature_groups=data.feature_groups)
    assert loaded.feature_groups == data.feature_groups and loaded.feature_names == data.feature_names
    assert np.array_equal(loaded.features, data.features)
    data.without_groups().save(str(tmp_path / "base.npz"))
    with pytest.raises(ValueError, match="intent_score"):
        RankingData.load(str(tmp_path / "base.npz"), feature_groups=data.feature_groups)


@pytest.fixture(scope="module")
def ranker_dir(data, tmp_path_factory):
    trees = Candidate("trees", params={"num_leaves": 3, "min_data_in_leaf": 1, "rounds": 10})
    selection = fit_ranker(data, candidates=[trees], inner_folds=2, progress=lambda items: items)
    assert [g.name for g in selection.ranker.groups] == ["intent"]
    return selection.ranker.save(tmp_path_factory.mktemp("r") / "ranker")


def test_the_ranker_keeps_the_group_and_the_stage_reads_it(hybrid, ranker_dir):
    manifest = json.loads((ranker_dir / "ranker.json").read_text())
    assert manifest["feature_groups"] == ["intent"] and manifest["features"][-3:] == list(INTENT_FEATURE_NAMES)
    stored = json.loads((ranker_dir / FILE).read_text())
    assert stored["temperature"] == hybrid.config.intent.temperature and stored["categories"] > 1
    ranked = hybrid.with_ranker(ranker_dir)
    assert isinstance(ranked.ranker.groups[0], IntentFeatures)
    first = ranked.search("wireless earbuds", k=3)[0][0]
    assert first.sources["ranker"]["rank"] == 1
    explained = ranked.explain("wireless earbuds", first.product_id)["ranker"]  # what /explain shows
    assert set(INTENT_FEATURE_NAMES) <= set(explained["features"]) <= set(explained["contributions"])
    assert sum(explained["contributions"].values()) == pytest.approx(first.score, abs=1e-3)


def test_the_stored_temperature_wins_over_the_query_time_one(hybrid, ranker_dir, judgments):
    ranker = hybrid.with_ranker(ranker_dir).ranker
    text = judgments.queries[judgments.query_ids[0]]
    values = []
    for temperature in (hybrid.config.intent.temperature, 0.5):
        pipe = hybrid.with_config(intent=replace(hybrid.config.intent, temperature=temperature))
        inputs = retrieval_ranker_inputs(pipe.snapshot, text)
        values.append(ranker_features(ranker, pipe.snapshot, inputs.query, inputs.prepared, inputs.hits, 5))
    assert np.array_equal(values[0], values[1])


def test_an_index_without_an_intent_model_is_refused_at_load(hybrid, ranker_dir):
    with pytest.raises(RankerError, match=r"ranker\.json: the ranker reads category-intent features") as info:
        hybrid.with_config(intent=replace(hybrid.config.intent, enabled=False)).with_ranker(ranker_dir)
    assert "--no-intent-features" in str(info.value)
    with pytest.raises(RankerError, match="intent"):
        hybrid.with_config(retrievers=("lexical",)).with_ranker(ranker_dir)


def test_a_damaged_group_file_names_the_file_and_field(ranker_dir, tmp_path):
    broken = tmp_path / "ranker"
    broken.mkdir()
    for name in ("ranker.json", "model.txt"):
        (broken / name).write_bytes((ranker_dir / name).read_bytes())
    with pytest.raises(RankerError, match=FILE + ": not found"):
        Ranker.load(broken, feature_names=FEATURE_NAMES)
    (broken / FILE).write_text(json.dumps({"names": list(INTENT_FEATURE_NAMES), "temperature": "hot", "categories": 3}))
    with pytest.raises(RankerError, match="field 'temperature'"):
        Ranker.load(broken, feature_names=FEATURE_NAMES)
    (broken / FILE).write_text(json.dumps({"names": ["other"], "temperature": 0.05, "categories": 3}))
    with pytest.raises(ShopmatchError, match="field 'names'"):
        IntentFeatures.load(broken)


def test_no_group_without_an_intent_model(pipeline, hybrid):
    assert default_groups(pipeline.snapshot) == ()  # lexical only: no bi-encoder, no intent model
    assert default_groups(hybrid.with_config(intent=replace(hybrid.config.intent, enabled=False)).snapshot) == ()


def test_cli_adds_the_group_unless_told_not_to(hybrid, fixtures, tmp_path):
    index = hybrid.save(tmp_path / "index")
    judged = fixtures / "catalog" / "judgments.tsv"
    runner = CliRunner()
    for flag, expected in (("--intent-features", ["intent"]), ("--no-intent-features", None)):
        out = tmp_path / flag
        result = runner.invoke(app, ["train", "ranker", str(index), "--judgments", str(judged), "-o", str(out), flag])
        assert result.exit_code == 0, result.output
        assert json.loads((out / "ranker.json").read_text()).get("feature_groups") == expected


def test_retraining_from_events_trains_as_train_ranker_events_does(hybrid, judgments):
    """`retrain` learns as `train ranker --events` (event features, no intent group yet)."""
    from shopmatch.events.io import collect_events
    from shopmatch.events.model import parse_event
    from shopmatch.rank.retrain import ranker_from_events

    records = []
    for q in judgments.query_ids:
        shown = [pid for pid, _ in hybrid.search_ids([judgments.queries[q]], k=5)[0]]
        for s in range(3):
            sid = f"{q}-{s}"
            records.append({"type": "impression", "search_id": sid, "query": judgments.queries[q], "results": shown,
                            "ts": "2026-12-06T10:00Z"})  # fmt: skip
            records.append({"type": "click", "search_id": sid, "product_id": shown[s % len(shown)],
                            "ts": "2026-12-06T10:01Z"})  # fmt: skip
    ranker = ranker_from_events(hybrid, collect_events(parse_event(r) for r in records))
    assert [g.name for g in ranker.groups] == ["events"]
    assert not set(INTENT_FEATURE_NAMES) & set(ranker.feature_names)
    assert ranker.summary["debias"] == "click-model" and ranker.summary["label_model"] == "coec"
    assert ranker.summary["rank_features"] is False and ranker.summary["trained_from"] == "events"


def defined_intent_values(model: IntentModel, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The three features restated from their definition, with numpy (what the compiled loop must give)."""
    probabilities = model.probabilities(vector)
    nodes = model.product_nodes[rows].astype(np.int64)
    out = np.empty((len(rows), 3), np.float32)
    found = np.where(nodes >= 0, probabilities[np.maximum(nodes, 0)], 0.0)
    levels = (nodes != -2).sum(axis=1)
    out[:, 0] = np.where(levels > 0, found.sum(axis=1) / np.maximum(levels, 1), MISSING_SCORE)
    place = np.empty(len(model.paths))
    for level in range(1, model.depth + 1):  # a stable sort by falling probability: ties keep index order
        at = np.flatnonzero(model.levels == level)
        place[at[np.argsort(-probabilities[at], kind="stable")]] = np.arange(1, len(at) + 1)
    out[:, 1] = MISSING_RANK
    for i, row_nodes in enumerate(nodes):
        predicted = row_nodes[row_nodes >= 0]
        if len(predicted):
            out[i, 1] = place[predicted[-1]]
    out[:, 2] = probabilities[model.levels == 1].max()
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intent_values_follow_their_definition_with_ties_rare_and_missing_categories(seed):
    rng = np.random.default_rng(seed)
    tops = [f"T{i}" for i in range(4)]
    paths = [[t, f"s{rng.integers(3)}", f"l{rng.integers(2)}"][: rng.integers(1, 4)] for t in rng.choice(tops, 60)]
    categories = [p if rng.random() > 0.1 else None for p in paths]
    vectors = rng.normal(size=(60, 6)).astype(np.float32)
    vectors[1] = vectors[0]  # equal centroids where two products alone make their categories: tied probabilities
    model = IntentModel.train(categories, vectors, IntentConfig(min_products=2, temperature=0.2))
    assert (model.product_nodes == -1).any() and (model.product_nodes == -2).any()  # rare and missing levels
    rows = rng.integers(0, 60, size=40)
    for vector in (rng.normal(size=6).astype(np.float32), np.zeros(6, np.float32)):  # zeros: every level tied
        got = intent_values(model, vector, rows, lambda row: {})
        np.testing.assert_array_equal(got, defined_intent_values(model, vector, rows))
