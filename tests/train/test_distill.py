"""Distillation: a trained tiny cross-encoder labels pairs; a one-layer student learns its probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from shopmatch.errors import ConfigError
from shopmatch.rerank import CrossEncoderReranker, RerankConfig
from shopmatch.train.cross_encoder import (
    CrossEncoderTrainConfig,
    load_cross_encoder,
    load_pair_classifier,
    train_cross_encoder,
)
from shopmatch.train.data import LabeledPair
from shopmatch.train.distill import teacher_targets
from tests.train.test_cross_encoder import match_pairs


@pytest.fixture(scope="module")
def teacher(tiny_model, tmp_path_factory):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("teacher") / "reranker"
    config = CrossEncoderTrainConfig(
        model=str(tiny_model), epochs=6, batch_size=8, learning_rate=5e-3, max_length=32, patience=0
    )
    train_cross_encoder(match_pairs(96), out, config)
    torch.set_num_threads(before)
    return out


def teacher_probabilities(teacher, pairs: list[LabeledPair]) -> np.ndarray:
    reranker = CrossEncoderReranker.from_config(RerankConfig(backend="torch").with_model(teacher))
    return reranker.score_pairs([(p.query, p.text) for p in pairs])


def test_targets_are_the_teacher_probabilities(teacher):
    pairs = match_pairs(20, seed=3)
    labeled = teacher_targets(teacher, pairs)
    expected = teacher_probabilities(teacher, pairs)
    assert [p.target for p in labeled] == pytest.approx(expected.tolist(), abs=1e-6)
    assert [(p.query, p.text, p.query_id, p.product_id) for p in labeled] == [
        (p.query, p.text, p.query_id, p.product_id) for p in pairs
    ]
    # the teacher learned the rule: its soft targets still separate the classes
    positives = [t.target for t, p in zip(labeled, pairs, strict=True) if p.target == 1]
    negatives = [t.target for t, p in zip(labeled, pairs, strict=True) if p.target == 0]
    assert min(positives) > max(negatives)
    assert len({round(t.target, 4) for t in labeled}) > 2  # soft, not the 0/1 labels


def test_teacher_weight_mixes_in_the_judged_label(teacher):
    pairs = match_pairs(12, seed=4)
    probabilities = teacher_probabilities(teacher, pairs)
    mixed = teacher_targets(teacher, pairs, teacher_weight=0.25)
    expected = 0.25 * probabilities + 0.75 * np.array([p.target for p in pairs])
    assert [p.target for p in mixed] == pytest.approx(expected.tolist(), abs=1e-6)
    assert [p.target for p in teacher_targets(teacher, pairs, teacher_weight=0.0)] == [p.target for p in pairs]


@pytest.mark.parametrize("weight", [-0.1, 1.5, True, "1"])
def test_teacher_weight_out_of_range_is_a_config_error(teacher, weight):
    with pytest.raises(ConfigError, match="teacher_weight"):
        teacher_targets(teacher, match_pairs(2), teacher_weight=weight)


def test_a_teacher_that_is_not_a_model_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a model directory"):
        teacher_targets(tmp_path, match_pairs(2))


def student_scores(teacher, start, tmp_path, **options):
    """A one-layer student trained from ``start`` on the teacher's probabilities of 96 unjudged
    pairs, and (its scores, the teacher's scores, the untrained start's scores) on 40 new pairs."""
    import torch

    torch.set_num_threads(1)
    unlabeled = [LabeledPair(p.query, p.text, 0.0) for p in match_pairs(96, seed=7)]  # no judged labels at all
    config = CrossEncoderTrainConfig(model=str(start), max_layers=1, batch_size=8, max_length=32, patience=0, **options)
    summary = train_cross_encoder(teacher_targets(teacher, unlabeled), tmp_path / "student", config)
    assert summary.data["train_pairs"] == 96
    student = load_pair_classifier(tmp_path / "student")
    assert student.model.config.num_hidden_layers == 1
    held_out = [(p.query, p.text) for p in match_pairs(40, seed=8)]
    untrained = load_cross_encoder(start, max_layers=1, max_length=32)
    return (
        student.predict(held_out),
        teacher_probabilities(teacher, match_pairs(40, seed=8)),
        untrained.predict(held_out),
    )


@pytest.mark.parametrize("loss", ["bce", "mse-logit"])
def test_a_student_from_a_random_model_learns_the_teachers_scores(teacher, tiny_model, tmp_path, loss):
    student, teacher_scores, untrained = student_scores(
        teacher, tiny_model, tmp_path, epochs=8, learning_rate=5e-3, loss=loss
    )
    assert np.corrcoef(student, teacher_scores)[0, 1] > 0.9
    assert np.abs(student - teacher_scores).mean() < 0.5 * np.abs(untrained - teacher_scores).mean()


def test_a_student_started_from_the_teacher_keeps_its_head(teacher, tmp_path):
    student, teacher_scores, _ = student_scores(teacher, teacher, tmp_path, epochs=1, learning_rate=1e-3)
    assert np.corrcoef(student, teacher_scores)[0, 1] > 0.95
    positives, negatives = student[::2], student[1::2]  # match_pairs: even rows are the matches
    assert positives.min() > negatives.max()


def test_mse_logit_regresses_the_targets_logits(tiny_model, tmp_path, monkeypatch):
    from shopmatch.train import cross_encoder as ce_module

    seen = []
    original = ce_module._dataset

    def spy(queries, texts, labels, augmenter):
        seen.extend(labels)
        return original(queries, texts, labels, augmenter)

    monkeypatch.setattr(ce_module, "_dataset", spy)
    pairs = [LabeledPair("q", "a", 0.5), LabeledPair("q", "b", 1.0), LabeledPair("q", "c", 0.0)]
    config = CrossEncoderTrainConfig(model=str(tiny_model), epochs=1, batch_size=2, max_length=32, loss="mse-logit")
    train_cross_encoder(pairs, tmp_path / "m", config)
    assert seen == pytest.approx([0.0, np.log(0.9999 / 0.0001), -np.log(0.9999 / 0.0001)])
