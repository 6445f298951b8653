"""Cross-encoder training on the tiny random model: loss, options, save/load, resume, early stopping."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from shopmatch.errors import ConfigError
from shopmatch.judgments import Pair
from shopmatch.train import cross_encoder as ce_module
from shopmatch.train.cross_encoder import (
    CrossEncoderTrainConfig,
    _resample,
    has_mean_head,
    load_cross_encoder,
    load_pair_classifier,
    train_cross_encoder,
    train_pair_classifier,
)
from shopmatch.train.data import LabeledPair
from shopmatch.train.summary import TrainingSummary
from tests.tiny_model import WORDS
from tests.train.interrupt import crash_as_epoch_ends

NOUNS = [w for w in WORDS if len(w) > 3]


def match_pairs(n: int, seed: int = 0) -> list[LabeledPair]:
    """Relevant products say "waterproof", irrelevant ones do not: learnable by the tiny model in a few epochs."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        words = rng.sample(NOUNS, 3)
        if i % 2 == 0:
            words[rng.randrange(3)] = "waterproof"
        else:
            words = [w if w != "waterproof" else "leather" for w in words]
        pairs.append(LabeledPair(rng.choice(NOUNS), " ".join(words), float(i % 2 == 0), f"q{i // 4}", f"p{i}"))
    return pairs


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models train faster on one thread (and far faster on a busy machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def config(tiny_model, **overrides) -> CrossEncoderTrainConfig:
    """Training options for the tiny model; the [CLS] head unless a test asks for another (the
    default ``auto`` head has tests of its own)."""
    base = dict(model=str(tiny_model), epochs=3, batch_size=8, learning_rate=2e-3, max_length=32, patience=0,
                head="cls")  # fmt: skip
    return CrossEncoderTrainConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("ce") / "reranker"
    cfg = config(tiny_model, epochs=6, learning_rate=5e-3)
    summary = train_cross_encoder(match_pairs(96), out, cfg, dev=match_pairs(32, seed=1))
    torch.set_num_threads(before)
    return out, summary


def test_loss_decreases_and_the_model_learns(trained):
    out, summary = trained
    first, last = summary.losses[:3], summary.losses[-3:]
    assert np.mean([p["loss"] for p in last]) < 0.5 * np.mean([p["loss"] for p in first])
    model = load_pair_classifier(out)
    held_out = match_pairs(40, seed=5)
    scores = model.predict([(p.query, p.text) for p in held_out])
    positives = [s for s, p in zip(scores, held_out, strict=True) if p.target == 1]
    negatives = [s for s, p in zip(scores, held_out, strict=True) if p.target == 0]
    assert min(positives) > max(negatives)
    assert ((0 <= scores) & (scores <= 1)).all()  # sigmoid probabilities


def test_saved_directory_holds_model_record_and_summary(trained):
    out, summary = trained
    from sentence_transformers import CrossEncoder

    assert CrossEncoder(str(out)).num_labels == 1
    record = json.loads((out / "shopmatch_reranker.json").read_text())
    assert record["max_length"] == 32 and "{title}" in record["text"]["template"]
    again = TrainingSummary.load(out)
    assert len(again.epochs) == 6 and all("dev_ndcg@10" in e for e in again.epochs)
    assert again.best_epoch == max(again.epochs, key=lambda e: e["dev_ndcg@10"])["epoch"]
    assert (out / "training_summary.png").read_bytes()[:4] == b"\x89PNG"
    assert not out.with_name(out.name + ".checkpoints").exists()
    assert summary.data["train_pairs"] == 96 and summary.data["dev_pairs"] == 32


def test_training_is_deterministic(tiny_model, tmp_path):
    pairs = match_pairs(32)
    a = train_cross_encoder(pairs, tmp_path / "a", config(tiny_model, epochs=1))
    b = train_cross_encoder(pairs, tmp_path / "b", config(tiny_model, epochs=1))
    assert [p["loss"] for p in a.losses] == [p["loss"] for p in b.losses]


def test_lora_trains_adapters_and_saves_a_plain_model(tiny_model, tmp_path, caplog):
    caplog.set_level("INFO", logger="shopmatch")
    out = tmp_path / "lora"
    summary = train_cross_encoder(match_pairs(48), out, config(tiny_model, epochs=2, lora=True, lora_rank=4))
    assert "LoRA: training" in caplog.text
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        keys = list(weights.keys())
    assert keys and not any("lora" in k for k in keys)  # adapters merged into the weights
    base = load_cross_encoder(tiny_model)
    merged = load_pair_classifier(out)
    name = "bert.encoder.layer.0.attention.self.query.weight"
    changed = merged[0].model.state_dict()[name] - base[0].model.state_dict()[name]
    assert float(changed.abs().max()) > 0  # the merged LoRA update is in the weights
    assert summary.losses


def test_fgm_runs_an_adversarial_pass(tiny_model, tmp_path, monkeypatch):
    from shopmatch.train import fgm

    attacks = []
    original = fgm.EmbeddingPerturbation.attack

    def counting(self):
        done = original(self)
        attacks.append(done)
        return done

    monkeypatch.setattr(fgm.EmbeddingPerturbation, "attack", counting)
    train_cross_encoder(match_pairs(32), tmp_path / "fgm", config(tiny_model, epochs=1, fgm_epsilon=1.0))
    assert len(attacks) == 4 and all(attacks)  # one adversarial pass per step


def test_fgm_perturbation_works_with_frozen_embeddings():
    import torch

    from shopmatch.train.fgm import EmbeddingPerturbation

    emb = torch.nn.Embedding(10, 4)
    emb.weight.requires_grad_(False)
    head = torch.nn.Linear(4, 1)
    fgm = EmbeddingPerturbation(emb, epsilon=0.5)
    ids = torch.tensor([[1, 2, 3]])
    head(emb(ids)).sum().backward()
    assert fgm.attack()
    moved = (emb(ids) - emb.weight[ids]).detach()
    assert torch.isclose(torch.linalg.vector_norm(moved), torch.tensor(0.5))
    fgm.restore()
    assert torch.equal(emb(ids), emb.weight[ids])


def test_max_layers_keeps_the_first_layers(tiny_model, tmp_path):
    out = tmp_path / "small"
    train_cross_encoder(match_pairs(16), out, config(tiny_model, epochs=1, max_layers=1))
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    assert len(load_pair_classifier(out)[0].model.bert.encoder.layer) == 1


def test_early_stopping_keeps_the_best_epoch(tiny_model, tmp_path):
    summary = train_cross_encoder(
        match_pairs(32), tmp_path / "es", config(tiny_model, epochs=6, learning_rate=0.0, patience=2),
        dev=match_pairs(16, seed=2),
    )  # fmt: skip
    assert len(summary.epochs) == 3  # nothing improves after epoch 1 when nothing is learned
    assert summary.best_epoch == 1


def train_until_epoch_two(monkeypatch, *args, **kwargs) -> None:
    """``train_cross_encoder(*args, **kwargs)`` interrupted as epoch 2 ends (epoch 1's checkpoint kept)."""
    with crash_as_epoch_ends(monkeypatch, 2):
        train_cross_encoder(*args, **kwargs)


def step_counter():
    """A trainer callback whose ``steps`` lists the optimizer steps a run trains."""
    from transformers import TrainerCallback

    class StepCounter(TrainerCallback):
        def __init__(self) -> None:
            self.steps: list[int] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.steps.append(state.global_step)

    return StepCounter()


def test_resume_continues_from_the_last_checkpoint(tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    train_until_epoch_two(monkeypatch, match_pairs(32), out, config(tiny_model, epochs=2))
    assert not out.exists() and (tmp_path / "resumed.checkpoints" / "checkpoint-4").is_dir()
    trained = step_counter()
    summary = train_cross_encoder(
        match_pairs(32), out, config(tiny_model, epochs=2), resume=True, callbacks=[trained]
    )  # fmt: skip
    assert trained.steps == [5, 6, 7, 8]  # the first epoch's 4 steps were not trained again
    assert summary.data["resumed_from"] == "checkpoint-4" and summary.data["steps"] == 8
    # the summary keeps the epoch before the interruption (from the checkpoint's log history)
    assert [e["epoch"] for e in summary.epochs] == [1, 2] and summary.losses[0]["step"] == 1
    assert (out / "model.safetensors").is_file()


def test_resample_balances_classes_and_pos_weight_is_used(tiny_model, tmp_path, monkeypatch):
    pairs = [LabeledPair("q", "a", 1.0)] + [LabeledPair("q", str(i), 0.0) for i in range(5)]
    balanced = _resample(pairs, seed=0)
    assert sum(p.target for p in balanced) == 5 and len(balanced) == 10
    seen = {}
    from sentence_transformers.cross_encoder import losses

    original = losses.BinaryCrossEntropyLoss.__init__

    def spy(self, model, pos_weight=None, **kwargs):
        seen["pos_weight"] = pos_weight
        original(self, model, pos_weight=pos_weight, **kwargs)

    monkeypatch.setattr(losses.BinaryCrossEntropyLoss, "__init__", spy)
    train_cross_encoder(pairs, tmp_path / "pw", config(tiny_model, epochs=1, imbalance="pos_weight"))
    assert float(seen["pos_weight"]) == pytest.approx(5.0)


def test_three_class_pair_classifier(tiny_model, tmp_path, caplog):
    rng = random.Random(0)
    rows = []
    for i in range(90):
        word = rng.choice(NOUNS)
        label = i % 3  # 2: the word twice, 1: once, 0: not at all
        others = [w for w in NOUNS if w != word]
        text = " ".join(([word] * label) + rng.sample(others, 3 - label))
        rows.append(Pair(word, text, label))
    out = tmp_path / "pairs3"
    with caplog.at_level("WARNING", logger="shopmatch.train.cross_encoder"):
        summary = train_pair_classifier(rows[:72], out, config(tiny_model, epochs=2, head="auto"), dev=rows[72:])
    assert load_pair_classifier(out).num_labels == 3
    assert "dev_f1" in summary.epochs[-1] and "dev_accuracy" in summary.epochs[-1]
    assert summary.config["head"] == "cls"  # "auto" is [CLS] for classifiers
    assert "72 pairs × 2 epoch(s) = 18 optimizer steps" in caplog.text  # warned: far too few steps


def test_pair_classifier_warns_when_it_gets_few_optimizer_steps(tiny_model, caplog):
    from shopmatch.train.cross_encoder import _warn_if_few_steps

    with caplog.at_level("WARNING", logger="shopmatch.train.cross_encoder"):
        _warn_if_few_steps(400, config(tiny_model, epochs=4, batch_size=16))  # 100 steps
    assert "400 pairs × 4 epoch(s) = 100 optimizer steps" in caplog.text
    # the advice names the threshold the warning fires below (300 steps: 12 epochs of 25 steps)
    assert f"about 12 epochs give {ce_module.FEW_STEPS} steps" in caplog.text and ce_module.FEW_STEPS == 300
    caplog.clear()
    with caplog.at_level("WARNING", logger="shopmatch.train.cross_encoder"):
        _warn_if_few_steps(400, config(tiny_model, epochs=12, batch_size=16))  # 300 steps: enough
    assert caplog.text == ""


def test_invalid_settings_are_config_errors(tiny_model):
    for bad in ({"epochs": 0}, {"imbalance": "smote"}, {"learning_rate": -1.0}, {"augment": ("rot13",)}):
        with pytest.raises(ConfigError):
            config(tiny_model, **bad)


def test_augmentation_changes_what_the_model_sees(tiny_model, tmp_path, monkeypatch):
    seen = []
    original = ce_module._dataset

    def spy(queries, texts, labels, augmenter):
        dataset = original(queries, texts, labels, augmenter)
        seen.extend(dataset[i]["query"] for i in range(len(dataset)))
        return dataset

    monkeypatch.setattr(ce_module, "_dataset", spy)
    pairs = [LabeledPair("stainless steel kitchen towel", "Towel", 1.0), LabeledPair("garden", "Hose", 0.0)] * 8
    cfg = config(tiny_model, epochs=1, augment=("word_swap",), augment_probability=1.0)
    train_cross_encoder(pairs, tmp_path / "aug", cfg)
    assert any(q != "stainless steel kitchen towel" and sorted(q.split()) == sorted(
        "stainless steel kitchen towel".split()) for q in seen)  # fmt: skip


def test_unknown_losses_and_pointwise_only_pair_classifiers(tiny_model, tmp_path):
    # "lambda" (the listwise LambdaLoss) was removed 2026-12-06: no held-out gain
    for bad in ({"loss": "lambda"}, {"loss": "hinge"}, {"loss": "mse-logit", "imbalance": "pos_weight"}):
        with pytest.raises(ConfigError, match="loss|imbalance"):
            config(tiny_model, **bad)
    with pytest.raises(ConfigError, match="a pair classifier trains with"):
        rows = [Pair("a", "b", 1), Pair("a", "c", 0)]
        train_pair_classifier(rows, tmp_path / "x", config(tiny_model, loss="mse-logit"))


def test_a_three_class_classifier_can_be_fine_tuned_as_a_binary_one(tiny_model, tmp_path, caplog):
    rows3 = [Pair(w, f"{w} {w}" if i % 3 == 2 else (w if i % 3 else "sofa"), i % 3) for i, w in enumerate(NOUNS * 3)]
    train_pair_classifier(rows3, tmp_path / "three", config(tiny_model, epochs=1))
    assert load_pair_classifier(tmp_path / "three").num_labels == 3
    rows2 = [Pair(r.text_a, r.text_b, int(r.label > 0)) for r in rows3]
    with caplog.at_level("INFO", logger="shopmatch.train"):  # the model is loaded in train.cross_encoder_model
        train_pair_classifier(rows2, tmp_path / "two", config(tiny_model, epochs=1), model_dir=tmp_path / "three")
    assert load_pair_classifier(tmp_path / "two").num_labels == 1
    assert "3-output classifier; it gets a new 1-output one" in caplog.text
    # the encoder weights come from the 3-class model, not from the start model
    import torch

    def embeddings(model):
        return model.model.get_input_embeddings().weight

    three = embeddings(load_pair_classifier(tmp_path / "three"))
    fresh = embeddings(load_cross_encoder(tiny_model))
    two = embeddings(load_pair_classifier(tmp_path / "two"))
    assert (two - three).abs().mean() < (two - fresh).abs().mean()
    assert not torch.equal(three, fresh)


@pytest.fixture(scope="module")
def mean_head(tiny_model, tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("mean") / "reranker"
    summary = train_cross_encoder(match_pairs(96), out, config(tiny_model, epochs=6, learning_rate=5e-3, head="mean"))
    return out, summary


def test_mean_head_learns_and_saves_a_loadable_cross_encoder(mean_head):
    from sentence_transformers import CrossEncoder

    out, summary = mean_head
    assert summary.config["head"] == "mean"
    modules = json.loads((out / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Dense"]
    model = CrossEncoder(str(out))  # what a user of sentence-transformers does
    assert model.num_labels == 1
    held_out = match_pairs(40, seed=5)
    scores = model.predict([(p.query, p.text) for p in held_out])
    assert min(scores[0::2]) > max(scores[1::2])  # even rows are the matches
    assert ((0 <= scores) & (scores <= 1)).all()


def test_mean_head_runs_in_the_reranker_on_every_backend(mean_head):
    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    out, _ = mean_head
    texts = [p.text for p in match_pairs(8, seed=6)]
    scores = {
        backend: CrossEncoderReranker.from_config(RerankConfig(backend=backend).with_model(out)).score("sofa", texts)
        for backend in ("torch", "onnx", "onnx-int8")
    }
    assert np.allclose(scores["torch"], scores["onnx"], atol=1e-4)
    assert np.corrcoef(scores["torch"], scores["onnx-int8"])[0, 1] > 0.95


def test_a_mean_head_model_keeps_its_head_when_trained_further(mean_head, tmp_path):
    out, _ = mean_head
    before = load_cross_encoder(out, max_length=32, head="mean")
    smaller = load_cross_encoder(out, max_length=32, head="mean", max_layers=1)
    pairs = [(p.query, p.text) for p in match_pairs(8, seed=9)]
    assert np.allclose(before.predict(pairs), load_pair_classifier(out).predict(pairs), atol=1e-6)
    assert smaller[0].model.config.num_hidden_layers == 1
    import torch

    assert torch.equal(smaller[2].linear.weight, before[2].linear.weight)  # the trained head, not a new one


def test_mean_head_refuses_lora_and_classifiers(tiny_model, tmp_path):
    with pytest.raises(ConfigError, match="LoRA"):
        config(tiny_model, head="mean", lora=True)
    with pytest.raises(ConfigError, match="head"):
        config(tiny_model, head="max")
    with pytest.raises(ConfigError, match="a pair classifier trains with"):
        train_pair_classifier([Pair("a", "b", 1), Pair("a", "c", 0)], tmp_path / "x", config(tiny_model, head="mean"))


def test_auto_head_is_mean_for_a_plain_encoder_and_keeps_a_trained_head(tiny_model, mean_head, tmp_path):
    from shopmatch.train.cross_encoder import resolved_head

    auto = config(tiny_model, head="auto")
    assert CrossEncoderTrainConfig().head == "auto"  # the default
    assert resolved_head(auto, tiny_model) == "mean"  # no classifier yet: the mean-token head
    assert resolved_head(config(tiny_model, head="auto", lora=True), tiny_model) == "cls"  # LoRA is set up for [CLS]
    assert resolved_head(config(tiny_model, head="cls"), tiny_model) == "cls"  # an explicit head is kept
    assert resolved_head(auto, mean_head[0]) == "mean"
    assert resolved_head(config(tiny_model, head="mean"), mean_head[0]) == "mean"
    cls_dir = tmp_path / "cls"
    train_cross_encoder(match_pairs(16), cls_dir, config(tiny_model, epochs=1))
    assert resolved_head(auto, cls_dir) == "cls"  # a trained [CLS] head is trained further, not replaced
    # what training records is the head it used
    summary = train_cross_encoder(match_pairs(16), tmp_path / "auto", auto)
    assert summary.config["head"] == "mean"
    assert has_mean_head(tmp_path / "auto") and not has_mean_head(cls_dir)
    assert TrainingSummary.load(cls_dir).config["head"] == "cls"


def test_a_mean_head_model_refuses_a_cls_head_lora_and_pair_classification(tiny_model, mean_head, tmp_path):
    from shopmatch.train.cross_encoder import resolved_head

    start = mean_head[0]
    with pytest.raises(ConfigError, match="mean-token head; it cannot get a \\[CLS\\] one"):
        resolved_head(config(tiny_model, head="cls"), start)
    with pytest.raises(ConfigError, match="LoRA is set up for \\[CLS\\] heads"):
        train_cross_encoder(match_pairs(8), tmp_path / "x", config(tiny_model, head="auto", lora=True), model_dir=start)
    with pytest.raises(ConfigError, match="a pair classifier needs a \\[CLS\\] head"):
        rows = [Pair("a", "b", 1), Pair("a", "c", 0)]
        train_pair_classifier(rows, tmp_path / "y", config(tiny_model), model_dir=start)
    with pytest.raises(ConfigError, match="resolve 'auto'"):
        load_cross_encoder(tiny_model, head="auto")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_resume_refuses_a_checkpoint_made_with_the_other_head(tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "switched"
    train_until_epoch_two(monkeypatch, match_pairs(16), out, config(tiny_model, epochs=2, head="cls"))
    with pytest.raises(ConfigError, match="made with head 'cls', this run uses 'mean': resume with --head cls"):
        train_cross_encoder(match_pairs(16), out, config(tiny_model, epochs=2, head="auto"), resume=True)
    summary = train_cross_encoder(match_pairs(16), out, config(tiny_model, epochs=2, head="cls"), resume=True)
    assert summary.config["head"] == "cls" and (out / "config.json").is_file()


def test_a_resumed_run_saves_the_best_epoch_of_the_whole_run(tiny_model, tmp_path, monkeypatch):
    import torch
    from sentence_transformers import CrossEncoder

    from shopmatch.train.early_stopping import BEST_WEIGHTS
    from shopmatch.train.evaluation import RerankDevEvaluator

    out, dev = tmp_path / "resumed", match_pairs(16, seed=1)
    cfg = config(tiny_model, epochs=3, learning_rate=5e-3, patience=0)
    with crash_as_epoch_ends(monkeypatch, 3):
        train_cross_encoder(match_pairs(32), out, cfg, dev=dev)
    stored = torch.load(tmp_path / "resumed.checkpoints" / BEST_WEIGHTS, weights_only=True)
    assert stored["epoch"] == 2  # the best of epochs 1-2, kept on disk for a resume
    summary = train_cross_encoder(match_pairs(32), out, cfg, dev=dev, resume=True)
    assert [e["epoch"] for e in summary.epochs] == [1, 2, 3]
    assert summary.best_epoch == 2  # epoch 3 ties it: not an improvement
    saved = CrossEncoder(str(out)).state_dict()
    assert all(torch.equal(saved[k], v) for k, v in stored["state"].items())  # epoch 2's weights, not the last
    assert RerankDevEvaluator(dev)(CrossEncoder(str(out)))["dev_ndcg@10"] == pytest.approx(stored["value"])
