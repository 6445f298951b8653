"""The LambdaMART wrapper: learns a deciding feature, saves and loads to the same scores, refuses bad directories."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shopmatch.rank.model import MANIFEST_FILE, MODEL_FILE, Ranker, RankerError
from shopmatch.rank.training import ndcg_at

NAMES = ("noise_a", "signal", "noise_b")


def synthetic(queries: int, seed: int):
    """Groups of 8 candidates whose grade is decided by the ``signal`` column alone."""
    rng = np.random.default_rng(seed)
    features, labels = [], []
    for _ in range(queries):
        grade = rng.integers(0, 4, size=8)
        signal = grade + rng.uniform(0, 0.5, size=8)
        features.append(np.column_stack([rng.normal(size=8), signal, rng.normal(size=8)]))
        labels.append(grade)
    return np.concatenate(features).astype(np.float32), np.concatenate(labels), [8] * queries


@pytest.fixture(scope="module")
def ranker():
    x, y, groups = synthetic(60, seed=1)
    vx, vy, vgroups = synthetic(15, seed=2)
    return Ranker.train(x, y, groups, NAMES, valid=(vx, vy, vgroups), rounds=50)


def test_learns_the_deciding_feature(ranker):
    x, y, groups = synthetic(20, seed=3)
    scores = ranker.predict(x)
    for start in range(0, len(x), 8):
        order = np.argsort(-scores[start : start + 8], kind="stable")
        assert ndcg_at(y[start : start + 8][order], 10) == pytest.approx(1.0)
    assert next(iter(ranker.importances())) == "signal"
    assert ranker.summary["importance"]["signal"] > 0 and ranker.summary["valid_queries"] == 15


def test_contributions_sum_to_the_score(ranker):
    x, _, _ = synthetic(1, seed=4)
    contributions = ranker.contributions(x[0])
    assert set(contributions) == {*NAMES, "bias"}
    assert sum(contributions.values()) == pytest.approx(ranker.predict(x[:1])[0], abs=1e-6)


def test_save_load_round_trip_gives_identical_scores(ranker, tmp_path):
    directory = ranker.save(tmp_path / "ranker")
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    assert manifest["kind"] == "shopmatch-ranker" and manifest["features"] == list(NAMES)
    loaded = Ranker.load(directory, feature_names=NAMES)
    x, _, _ = synthetic(5, seed=5)
    assert np.array_equal(loaded.predict(x), ranker.predict(x))
    assert loaded.feature_names == NAMES and loaded.summary["importance"] == ranker.summary["importance"]


def test_bad_directories_name_the_file(ranker, tmp_path):
    with pytest.raises(RankerError, match="no such ranker directory"):
        Ranker.load(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RankerError, match=f"{MANIFEST_FILE}: not found"):
        Ranker.load(empty)
    directory = ranker.save(tmp_path / "broken")
    (directory / MODEL_FILE).write_text("not a model\n")
    with pytest.raises(RankerError, match=f"{MODEL_FILE}: not a LightGBM model"):
        Ranker.load(directory)
    (directory / MANIFEST_FILE).write_text("{")
    with pytest.raises(RankerError, match=f"{MANIFEST_FILE}: unreadable"):
        Ranker.load(directory)
    other = ranker.save(tmp_path / "other")
    with pytest.raises(RankerError, match="other features"):
        Ranker.load(other, feature_names=("x",))
