"""`shopmatch train baseline`: writes a loadable model directory from judgments or pairs; clear errors."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from shopmatch.baselines import LinearMatcher, TwoTowerLSTM, load_baseline
from shopmatch.cli import app
from shopmatch.train.summary import TrainingSummary
from tests.baselines.synthetic import graded_pairs

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_pairs(path, rows):
    path.write_text(
        "text_a\ttext_b\tlabel\n" + "".join(f"{p.text_a}\t{p.text_b}\t{p.label}\n" for p in rows), encoding="utf-8"
    )
    return path


def test_lstm_from_judgments(fixtures, tmp_path):
    catalog, judged = fixtures / "catalog" / "products.jsonl", fixtures / "catalog" / "judgments.tsv"
    result = invoke(
        "train", "baseline", "--kind", "lstm", "--catalog", catalog, "--judgments", judged,
        "-o", tmp_path / "lstm", "--epochs", "2", "--dev-fraction", "0.3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "trained lstm on" in result.output
    model = load_baseline(tmp_path / "lstm")
    assert isinstance(model, TwoTowerLSTM) and model.config.epochs == 2
    assert model.score("usb c charger", ["65W USB-C charger", "cast iron skillet"]).shape == (2,)
    summary = TrainingSummary.load(tmp_path / "lstm")
    assert summary.data["dev_pairs"] > 0 and "dev_ndcg@10" in summary.epochs[0]


def test_linear_interaction_from_pairs_with_classes(tmp_path):
    train = write_pairs(tmp_path / "train.tsv", graded_pairs(300, seed=1))
    dev = write_pairs(tmp_path / "dev.tsv", graded_pairs(60, seed=2))
    result = invoke(
        "train", "baseline", "--kind", "linear-interaction", "--pairs", train, "--dev", dev,
        "-o", tmp_path / "lin", "--epochs", "3", "--seed", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    model = load_baseline(tmp_path / "lin")
    assert isinstance(model, LinearMatcher) and model.config.interaction and model.config.seed == 1
    assert model.num_classes == 3 and len(model.thresholds) == 2
    assert set(np.unique(model.predict_classes([("sofa couch", "velvet cushion")]))) <= {0, 1, 2}


def test_errors(tmp_path, fixtures):
    pairs = write_pairs(tmp_path / "p.tsv", graded_pairs(20, seed=1))
    result = invoke("train", "baseline", "--kind", "svm", "--pairs", pairs, "-o", tmp_path / "m")
    assert result.exit_code == 2 and "error: --kind must be one of linear, linear-interaction, lstm" in result.output
    result = invoke("train", "baseline", "--kind", "lstm", "-o", tmp_path / "m")
    assert result.exit_code == 2 and "either --judgments" in result.output
    judged = fixtures / "catalog" / "judgments.tsv"
    result = invoke("train", "baseline", "--kind", "lstm", "--judgments", judged, "-o", tmp_path / "m")
    assert result.exit_code == 2 and "needs --catalog" in result.output
    bad = tmp_path / "bad.tsv"
    bad.write_text("text_a\ttext_b\tlabel\na\tb\tx\n", encoding="utf-8")
    result = invoke("train", "baseline", "--kind", "linear", "--pairs", bad, "-o", tmp_path / "m")
    assert result.exit_code == 2 and "bad.tsv:2" in " ".join(result.output.split()) and "label" in result.output
    assert not (tmp_path / "m").exists()
