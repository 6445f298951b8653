"""Linear σ(W·q + V·c + b) over mean word vectors, with and without interaction features."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from shopmatch.baselines import LinearMatcher, LinearMatcherConfig, load_baseline
from shopmatch.baselines.examples import as_examples
from shopmatch.baselines.trained import choose_thresholds, rerank_ndcg
from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import Pair
from shopmatch.store import read_manifest
from shopmatch.train.data import LabeledPair
from tests.baselines.synthetic import graded_pairs, pairs

TINY = LinearMatcherConfig(dim=16, min_count=1, w2v_epochs=20, epochs=20, seed=0)
INTERACTION = LinearMatcherConfig(**{**TINY.to_dict(), "interaction": True})
TRAIN = pairs(1000, seed=1)
TEST = pairs(300, seed=2)
LABELS = np.array([t for *_, t in TEST])


@pytest.fixture(scope="module")
def interaction_model() -> LinearMatcher:
    return LinearMatcher.fit(TRAIN, dev=pairs(100, seed=3), config=INTERACTION)


@pytest.fixture(scope="module")
def additive_model() -> LinearMatcher:
    return LinearMatcher.fit(TRAIN, config=TINY)


def test_interaction_separates_matches(interaction_model):
    scores = interaction_model.score_pairs(TEST)
    assert scores.shape == (len(TEST),)
    assert roc_auc_score(LABELS, scores) > 0.9
    assert roc_auc_score(LABELS[1::2], scores[1::2]) > 0.9  # the Chinese pairs


def test_additive_model_cannot_match_but_ranks_by_product_alone(additive_model):
    # σ(W·q + V·c + b): for one query the order of products is the order of V·c, whatever the query
    texts = ["sofa couch velvet", "usb cable charger", "茶杯咖啡", "lamp bulb"]
    order_a = np.argsort(additive_model.score("sofa couch", texts))
    order_b = np.argsort(additive_model.score("usb cable", texts))
    assert order_a.tolist() == order_b.tolist()
    assert roc_auc_score(LABELS, additive_model.score_pairs(TEST)) < 0.7  # topic agreement is out of its reach


def test_additive_model_learns_a_product_prior():
    # products with "premium" are relevant whatever the query: the additive model can learn that
    rng = random.Random(0)
    words = "sofa lamp mug sock cable pan".split()
    examples = []
    for _ in range(600):
        premium = rng.random() < 0.5
        text = " ".join(rng.sample(words, 2) + (["premium"] if premium else ["basic"]))
        examples.append((" ".join(rng.sample(words, 2)), text, float(premium)))
    model = LinearMatcher.fit(examples[:500], config=TINY)
    held_out = examples[500:]
    assert roc_auc_score([t for *_, t in held_out], model.score_pairs(held_out)) > 0.95


def test_training_loss_goes_down(interaction_model):
    losses = [p["loss"] for p in interaction_model.summary.losses]
    assert losses[-1] < 0.8 * losses[0]
    assert "dev_loss" in interaction_model.summary.epochs[0]


def test_weights_are_the_literal_parameters(interaction_model):
    m = interaction_model
    queries, texts = ["sofa couch", "充电线"], ["velvet cushion", "电池插头"]
    q, c = m.mean_vectors(queries), m.mean_vectors(texts)
    w = m.weights
    logits = q @ w["W"] + c @ w["V"] + (q * c) @ w["U"] + (q * c).sum(1) * w["u"][0] + w["b"][0]
    np.testing.assert_allclose(
        m.score_pairs(list(zip(queries, texts, strict=True))), 1 / (1 + np.exp(-logits)), rtol=1e-4
    )


def test_same_seed_same_model(interaction_model):
    again = LinearMatcher.fit(TRAIN, dev=pairs(100, seed=3), config=INTERACTION)
    np.testing.assert_array_equal(again.score_pairs(TEST), interaction_model.score_pairs(TEST))


def test_save_load_round_trip_without_pickle(interaction_model, tmp_path):
    target = interaction_model.save(tmp_path / "linear")
    files = {p.name for p in target.iterdir()}
    assert {"manifest.json", "weights.safetensors", "words.txt", "word_vectors.npy", "training_summary.png"} <= files
    assert read_manifest(target, kind="shopmatch-baseline-linear", supported_version=1)["config"]["interaction"]
    for loaded in (LinearMatcher.load(target), load_baseline(target)):
        assert isinstance(loaded, LinearMatcher) and loaded.config == INTERACTION
        np.testing.assert_array_equal(loaded.score_pairs(TEST), interaction_model.score_pairs(TEST))


def test_multi_class_pairs_ordinal_thresholds(tmp_path):
    train, test = graded_pairs(1000, seed=1), graded_pairs(300, seed=2)
    model = LinearMatcher.fit(train, dev=graded_pairs(150, seed=3), config=INTERACTION)
    assert model.num_classes == 3 and len(model.thresholds) == 2
    predicted = model.predict_classes(test)
    labels = np.array([p.label for p in test])
    assert (predicted == labels).mean() > 0.55  # chance is 1/3
    loaded = load_baseline(model.save(tmp_path / "m"))
    assert loaded.thresholds == model.thresholds
    np.testing.assert_array_equal(loaded.predict_classes(test), predicted)


def test_pairs_become_ordinal_targets():
    examples = as_examples([Pair("a", "b", 0), Pair("a", "c", 2), Pair("a", "d", 1)])
    assert examples.num_classes == 3 and examples.targets.tolist() == [0.0, 1.0, 0.5]
    with pytest.raises(DataError, match="outside"):
        as_examples([("a", "b", 1.5)])
    with pytest.raises(DataError, match="no training examples"):
        as_examples([])
    with pytest.raises(DataError, match="class 2"):
        as_examples([Pair("a", "b", 2)], num_classes=2)


def test_labeled_pairs_give_dev_ndcg():
    train = [LabeledPair(q, t, y, query_id=f"q{i // 5}") for i, (q, t, y) in enumerate(TRAIN)]
    dev = [LabeledPair(q, t, y, query_id=f"d{i // 5}") for i, (q, t, y) in enumerate(pairs(100, seed=3))]
    model = LinearMatcher.fit(train, dev=dev, config=LinearMatcherConfig(**{**INTERACTION.to_dict(), "epochs": 3}))
    assert model.summary.epochs[0]["dev_ndcg@10"] > 0.8


def test_choose_thresholds_and_ndcg_kernel():
    scores = np.array([0.1, 0.2, 0.45, 0.5, 0.8, 0.9])
    labels = np.array([0, 0, 1, 1, 2, 2])
    t = choose_thresholds(scores, labels, 3)
    assert np.searchsorted(t, scores, side="right").tolist() == labels.tolist()
    # DCG = 0.1/log2(2) + 1/log2(3); IDCG = 1 + 0.1/log2(3)
    assert rerank_ndcg(["q", "q"], np.array([1.0, 0.1]), np.array([1.0, 2.0])) == pytest.approx(0.6876, abs=1e-4)
    assert rerank_ndcg(["q", "q", "r"], np.array([0.0, 0.0, 1.0]), np.array([1.0, 2.0, 3.0])) == 0.5


def test_bad_config():
    with pytest.raises(ConfigError, match="dim"):
        LinearMatcherConfig(dim=0)
    with pytest.raises(ConfigError, match="unknown"):
        LinearMatcherConfig.from_dict({"dimension": 3})
