"""Two-tower BiLSTM: learns a synthetic task, Chinese as characters, masks padding, saves without pickle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from shopmatch.baselines import TwoTowerLSTM, TwoTowerLSTMConfig, load_baseline
from shopmatch.baselines.two_tower_lstm import analyzer
from shopmatch.errors import ConfigError, IndexFormatError
from shopmatch.store import read_manifest
from shopmatch.train.data import LabeledPair
from shopmatch.train.summary import TrainingSummary
from tests.baselines.synthetic import graded_pairs, pairs

TINY = TwoTowerLSTMConfig(
    embedding_dim=16, hidden_dim=16, output_dim=16, min_count=1, epochs=4, batch_size=32, learning_rate=1e-2, seed=0
)
TRAIN = pairs(1000, seed=1)
TEST = pairs(200, seed=2)


@pytest.fixture(scope="module")
def model() -> TwoTowerLSTM:
    return TwoTowerLSTM.fit(TRAIN, dev=pairs(100, seed=3), config=TINY)


def test_separates_matches_on_held_out_pairs(model):
    scores = model.score_pairs(TEST)
    labels = [t for *_, t in TEST]
    assert scores.shape == (len(TEST),) and ((scores > 0) & (scores < 1)).all()
    assert roc_auc_score(labels, scores) > 0.9
    chinese = slice(1, None, 2)  # every other pair is Chinese
    assert roc_auc_score(labels[chinese], scores[chinese]) > 0.9


def test_training_loss_goes_down(model):
    losses = [p["loss"] for p in model.summary.losses]
    assert losses[-1] < 0.6 * losses[0]
    assert [e["epoch"] for e in model.summary.epochs][0] == 1 and "dev_loss" in model.summary.epochs[0]
    assert model.summary.best_epoch is not None


def test_chinese_is_characters_english_is_words():
    assert analyzer()("蓝牙耳机 Wireless Chargers") == ["蓝", "牙", "耳", "机", "wireless", "charger"]


def test_vocabulary_min_count_and_unknown_tokens():
    model = TwoTowerLSTM.fit(
        [("red mug", "red mug", 1.0), ("red lamp", "blue sofa", 0.0)] * 3 + [("zebra", "yak", 0.0)],
        config=TwoTowerLSTMConfig(embedding_dim=4, hidden_dim=4, output_dim=4, min_count=2, epochs=1),
    )
    assert model.vocabulary[:2] == ["[PAD]", "[UNK]"]
    assert "red" in model.token_ids and "zebra" not in model.token_ids
    assert model.ids("zebra red", 16) == [1, model.token_ids["red"]]
    assert model.ids("", 16) == [1]  # never empty
    assert len(model.ids("red " * 40, 5)) == 5


def test_padding_is_masked(model):
    # a text's vector must not depend on the other (longer) texts padded into its batch
    alone = model.encode_products(["usb cable"])
    together = model.encode_products(["usb cable", "charger cable usb adapter plug battery lamp bulb light shade"])
    np.testing.assert_allclose(alone[0], together[0], rtol=1e-5, atol=1e-6)


def test_encode_gives_the_scores(model):
    q = model.encode_queries(["sofa couch"])
    p = model.encode_products(["velvet recliner cushion", "usb cable"])
    assert q.shape == (1, 16) and p.shape == (2, 16) and q.dtype == np.float32
    expected = 1 / (1 + np.exp(-(p @ q[0] + model.bias)))
    np.testing.assert_allclose(model.score("sofa couch", ["velvet recliner cushion", "usb cable"]), expected, rtol=1e-5)


def test_same_seed_same_model_other_seed_differs(model):
    again = TwoTowerLSTM.fit(TRAIN, dev=pairs(100, seed=3), config=TINY)
    np.testing.assert_array_equal(again.score_pairs(TEST), model.score_pairs(TEST))
    other = TwoTowerLSTM.fit(TRAIN, config=TwoTowerLSTMConfig(**{**TINY.to_dict(), "seed": 1, "epochs": 1}))
    assert not np.array_equal(other.score_pairs(TEST), model.score_pairs(TEST))


def test_save_load_round_trip_without_pickle(model, tmp_path):
    target = model.save(tmp_path / "lstm")
    files = {p.name for p in target.iterdir()}
    assert {"manifest.json", "weights.safetensors", "vocab.json", "training_summary.json"} <= files
    assert not any(p.read_bytes()[:1] == b"\x80" for p in target.iterdir())  # no pickle protocol header
    assert read_manifest(target, kind="shopmatch-baseline-lstm", supported_version=1)["config"]["pooling"] == "max"
    for loaded in (TwoTowerLSTM.load(target), load_baseline(target)):
        assert isinstance(loaded, TwoTowerLSTM)
        np.testing.assert_array_equal(loaded.score_pairs(TEST), model.score_pairs(TEST))
    assert TrainingSummary.load(target).losses == model.summary.losses


def test_load_refuses_other_kinds(tmp_path, model):
    target = model.save(tmp_path / "lstm")
    with pytest.raises(IndexFormatError, match="expected a 'shopmatch-baseline-linear'"):
        from shopmatch.baselines import LinearMatcher

        LinearMatcher.load(target)
    with pytest.raises(IndexFormatError, match="no manifest.json"):
        load_baseline(tmp_path)


def test_mean_pooling_and_labeled_pairs_with_dev_ndcg():
    train = [LabeledPair(q, t, y, query_id=f"q{i // 4}") for i, (q, t, y) in enumerate(pairs(200, seed=5))]
    dev = [LabeledPair(q, t, y, query_id=f"d{i // 4}") for i, (q, t, y) in enumerate(pairs(60, seed=6))]
    config = TwoTowerLSTMConfig(**{**TINY.to_dict(), "pooling": "mean", "epochs": 2})
    model = TwoTowerLSTM.fit(train, dev=dev, config=config)
    assert "dev_ndcg@10" in model.summary.epochs[0]
    assert 0.0 <= model.summary.epochs[0]["dev_ndcg@10"] <= 1.0


def test_multi_class_pairs():
    train, test = graded_pairs(1000, seed=1), graded_pairs(200, seed=2)
    model = TwoTowerLSTM.fit(train, dev=graded_pairs(100, seed=3), config=TINY)
    assert model.num_classes == 3 and len(model.thresholds) == 2 and model.thresholds[0] <= model.thresholds[1]
    predicted = model.predict_classes(test)
    labels = np.array([p.label for p in test])
    assert set(predicted.tolist()) <= {0, 1, 2}
    assert (predicted == labels).mean() > 0.6  # chance is 1/3


def test_bad_config():
    with pytest.raises(ConfigError, match="pooling"):
        TwoTowerLSTMConfig(pooling="attention")
    with pytest.raises(ConfigError, match="epochs"):
        TwoTowerLSTMConfig(epochs=0)


def test_random_negatives():
    from shopmatch.baselines.examples import as_examples, with_random_negatives

    train = [LabeledPair(q, t, y, query_id=f"q{i // 4}") for i, (q, t, y) in enumerate(pairs(200, seed=5))]
    base = as_examples(train)
    more = with_random_negatives(base, 2, seed=0)
    assert len(more) > 2.9 * len(base)  # up to 10 draws per negative, so nearly always all of them
    assert more.targets[len(base) :].max() == 0.0 and len(more.query_ids) == len(more)
    own = {}
    for qid, text in zip(base.query_ids, base.texts, strict=True):
        own.setdefault(qid, set()).add(text)
    assert all(t not in own[q] for q, t in zip(more.query_ids[len(base) :], more.texts[len(base) :], strict=True))
    config = TwoTowerLSTMConfig(**{**TINY.to_dict(), "epochs": 1, "random_negatives": 1})
    model = TwoTowerLSTM.fit(train, config=config)
    assert model.summary.data["train_pairs"] == 200 and model.summary.data["random_negatives"] > 190
