"""The training harness's shared pieces: early stopping, the device setting, checkpoints, and the
from-scratch loop (resume gives the same model as an uninterrupted run)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shopmatch.errors import ConfigError
from shopmatch.train.checkpoints import checkpoint_dir, latest_checkpoint, resume_point
from shopmatch.train.device import resolve_device
from shopmatch.train.early_stopping import BEST_WEIGHTS, EarlyStopping
from tests.train.interrupt import crash_as_epoch_ends


def weights(value: float):
    layer = torch.nn.Linear(1, 1)
    torch.nn.init.constant_(layer.weight, value)
    return layer.state_dict


# ---- early stopping --------------------------------------------------------------------------


def test_patience_counts_epochs_without_improvement_and_keeps_the_best_weights():
    stopping = EarlyStopping("dev_ndcg@10", patience=2)
    decisions = [stopping.update(e, v, weights(e)) for e, v in [(1, 0.5), (2, 0.7), (3, 0.6), (4, 0.7)]]
    assert decisions == [False, False, False, True]  # epoch 4 ties epoch 2: not an improvement
    assert stopping.best_epoch == 2 and stopping.best_value == 0.7
    layer = torch.nn.Linear(1, 1)
    assert stopping.restore(layer) and float(layer.weight.detach()) == 2.0


def test_patience_zero_never_stops_and_a_loss_is_minimized():
    stopping = EarlyStopping("dev_loss", patience=0, greater_is_better=False)
    assert not any(stopping.update(e, v, weights(e)) for e, v in [(1, 0.9), (2, 0.5), (3, 0.8), (4, 0.95)])
    assert stopping.best_epoch == 2


def test_no_metric_no_best_epoch():
    stopping = EarlyStopping(None, patience=1)
    assert not stopping.restore(torch.nn.Linear(1, 1)) and stopping.best_epoch is None


def test_replay_takes_up_an_interrupted_run_with_its_best_weights(tmp_path):
    first = EarlyStopping("dev_f1", patience=2, folder=tmp_path)
    first.update(1, 0.4, weights(1))
    first.update(2, 0.6, weights(2))
    first.update(3, 0.5, weights(3))
    assert (tmp_path / BEST_WEIGHTS).is_file()
    again = EarlyStopping("dev_f1", patience=2, folder=tmp_path)
    epochs = [{"epoch": 1, "dev_f1": 0.4}, {"epoch": 2, "dev_f1": 0.6}, {"epoch": 3, "dev_f1": 0.5}]
    again.replay(epochs)
    assert again.best_epoch == 2 and again.stale == 1
    assert again.update(4, 0.55, weights(4))  # the second epoch without improvement: stop
    layer = torch.nn.Linear(1, 1)
    assert again.restore(layer) and float(layer.weight.detach()) == 2.0  # epoch 2's weights, from the file


def test_replay_without_saved_weights_forgets_the_unreachable_best(tmp_path, caplog):
    stopping = EarlyStopping("dev_f1", patience=1, folder=tmp_path)
    stopping.replay([{"epoch": 1, "dev_f1": 0.9}])
    assert stopping.best_epoch is None and "left no saved weights" in caplog.text


# ---- device ----------------------------------------------------------------------------------


def test_device_setting(monkeypatch):
    assert resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ConfigError, match="device 'cuda': torch sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="device must be one of auto, cpu, cuda"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda") == "cuda"


def test_every_training_config_takes_the_device_setting():
    from shopmatch.baselines import LinearMatcherConfig, TwoTowerLSTMConfig
    from shopmatch.train.bi_encoder import BiEncoderTrainConfig
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig

    for config_class in (CrossEncoderTrainConfig, BiEncoderTrainConfig, LinearMatcherConfig, TwoTowerLSTMConfig):
        assert config_class().device == "auto" and config_class(device="cpu").device == "cpu"
        with pytest.raises(ConfigError, match="device"):
            config_class(device="gpu")


# ---- checkpoints -----------------------------------------------------------------------------


def test_a_run_without_resume_clears_old_checkpoints(tmp_path):
    folder = checkpoint_dir(tmp_path / "model")
    assert folder == tmp_path / "model.checkpoints"
    for step in (4, 12, 8):
        (folder / f"checkpoint-{step}").mkdir(parents=True)
    (folder / "checkpoint-x").mkdir()
    assert latest_checkpoint(folder).name == "checkpoint-12"
    assert resume_point(folder, resume=True).name == "checkpoint-12"
    assert resume_point(folder, resume=False) is None and not folder.exists()
    assert resume_point(folder, resume=True) is None


# ---- the from-scratch loop (classic baselines) ------------------------------------------------


def fit_linear(examples, dev, checkpoints=None, resume=False):
    from shopmatch.baselines import LinearMatcher, LinearMatcherConfig

    config = LinearMatcherConfig(dim=8, min_count=1, w2v_epochs=2, epochs=4, patience=0, interaction=True)
    return LinearMatcher.fit(examples, dev=dev, config=config, checkpoints=checkpoints, resume=resume)


def test_a_resumed_baseline_is_the_model_an_uninterrupted_run_makes(tmp_path, monkeypatch):
    from tests.baselines.synthetic import pairs

    train, dev, test = pairs(200, seed=1), pairs(40, seed=2), pairs(50, seed=3)
    whole = fit_linear(train, dev)
    folder = tmp_path / "linear.checkpoints"
    with crash_as_epoch_ends(monkeypatch, 3):
        fit_linear(train, dev, checkpoints=folder)
    assert latest_checkpoint(folder).name == "checkpoint-2"
    resumed = fit_linear(train, dev, checkpoints=folder, resume=True)
    assert resumed.summary.data["resumed_from"] == "checkpoint-2"
    assert [e["epoch"] for e in resumed.summary.epochs] == [1, 2, 3, 4]
    assert resumed.summary.losses == whole.summary.losses and resumed.summary.best_epoch == whole.summary.best_epoch
    np.testing.assert_array_equal(resumed.score_pairs(test), whole.score_pairs(test))


def test_baseline_early_stopping_keeps_the_best_epoch():
    from shopmatch.baselines import LinearMatcher, LinearMatcherConfig
    from tests.baselines.synthetic import pairs

    config = LinearMatcherConfig(dim=8, min_count=1, w2v_epochs=2, epochs=8, patience=1, learning_rate=1e-9)
    model = LinearMatcher.fit(pairs(100, seed=1), dev=pairs(30, seed=2), config=config)
    losses = [e["dev_loss"] for e in model.summary.epochs]
    assert len(losses) < 8 and model.summary.best_epoch == 1 + int(np.argmin(losses))
