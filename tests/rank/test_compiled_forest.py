"""The compiled forest scores exactly as LightGBM does, and the ranker uses it."""

from __future__ import annotations

import json

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")

from shopmatch.rank.compiled_forest import Forest  # noqa: E402
from shopmatch.rank.model import Ranker  # noqa: E402


def _data(seed: int, rows: int = 600, width: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, width)).astype(np.float32)
    x[:, 1] = np.round(x[:, 1])  # many exact zeros and ties on thresholds
    x[rng.random(rows) < 0.1, 2] = -1000.0  # sentinels, as the ranker's features have
    y = np.clip((x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows)).round(), 0, 3).astype(int)
    return x, y


@pytest.mark.parametrize("params", [{}, {"zero_as_missing": True}, {"num_leaves": 3, "lambda_l2": 10.0}])
def test_scores_equal_lightgbm_to_the_last_bit(params):
    x, y = _data(1)
    with_nan = x.copy()
    with_nan[::7, 3] = np.nan  # NaN at training: splits with missing_type NaN and a default direction
    booster = lgb.train(
        {"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 5, "seed": 0, **params},
        lgb.Dataset(with_nan, y, group=[30] * 20),
        num_boost_round=40,
    )
    forest = Forest.of(booster)
    assert forest is not None and len(forest.roots) == 40
    test, _ = _data(2, rows=300)
    test[::5, 3] = np.nan
    test[::11, 4] = 0.0
    for rows in (test, with_nan[:100], test[:1]):
        assert np.array_equal(forest.predict(rows), booster.predict(rows))


def test_a_prefix_of_the_iterations_and_a_one_leaf_tree():
    x, y = _data(3)
    booster = lgb.train(
        {"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 5},
        lgb.Dataset(x, y, group=[30] * 20),
        num_boost_round=12,
    )
    assert np.array_equal(Forest.of(booster, 5).predict(x), booster.predict(x, num_iteration=5))
    constant = lgb.train(
        {"objective": "regression", "verbosity": -1, "min_data_in_leaf": 1000}, lgb.Dataset(x, y), num_boost_round=2
    )
    assert np.array_equal(Forest.of(constant).predict(x), constant.predict(x))


def test_categorical_trees_are_left_to_lightgbm():
    x, _ = _data(4)
    x[:, 5] = np.arange(len(x)) % 6
    y = np.isin(x[:, 5], (1, 3, 4)).astype(int) * 3  # only a categorical split separates these
    booster = lgb.train(
        {"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 5, "min_data_per_group": 5, "cat_smooth": 1},
        lgb.Dataset(x, y, group=[30] * 20, categorical_feature=[5]),
        num_boost_round=5,
    )
    assert '"decision_type": "=="' in json.dumps(booster.dump_model())
    assert Forest.of(booster) is None


def test_wrong_width_is_refused():
    x, y = _data(5)
    forest = Forest.of(lgb.train({"objective": "lambdarank", "verbosity": -1}, lgb.Dataset(x, y, group=[30] * 20), 3))
    with pytest.raises(ValueError, match="read 6 features"):
        forest.predict(x[:, :5])


def test_the_ranker_predicts_with_the_forest_and_agrees_after_a_save_and_load(tmp_path):
    x, y = _data(6)
    names = tuple(f"f{i}" for i in range(x.shape[1]))
    ranker = Ranker.train(x, y, [30] * 20, names, rounds=30)
    expected = ranker.booster.predict(x)
    assert np.array_equal(ranker.predict(x), expected)
    assert ranker.forest is not None  # built by the first prediction and kept
    loaded = Ranker.load(ranker.save(tmp_path / "r"))
    assert np.array_equal(loaded.predict(x), expected)
