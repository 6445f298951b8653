"""Masked-language-model adaptation: the loss falls, only encoder weights change, the output loads as the input did.

On the tiny random model of tests/tiny_model.py, extended with Chinese characters.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file

from shopmatch.errors import ConfigError
from shopmatch.store import read_manifest
from shopmatch.train.adapt import FORMAT_VERSION, MANIFEST_KIND, AdaptationConfig, adapt_to_texts
from shopmatch.train.vocab import extend_vocabulary

# Repeating patterns a 2-layer model can learn within a few dozen steps.
TEXTS = [f"猫粮 {i % 3} 猫砂盆" for i in range(12)] + [f"狗粮 {i % 3} 狗绳" for i in range(12)] + ["  ", ""]


@pytest.fixture(scope="module")
def extended(tiny_model, tmp_path_factory):
    return extend_vocabulary(tiny_model, TEXTS, tmp_path_factory.mktemp("adapt") / "zh").out_dir


@pytest.fixture(scope="module")
def adapted(extended, tmp_path_factory):
    config = AdaptationConfig(epochs=40, batch_size=4, learning_rate=3e-3, warmup_ratio=0.0, seed=1)
    return adapt_to_texts(extended, TEXTS, tmp_path_factory.mktemp("adapt") / "adapted", config)


def weights(model_dir):
    return load_file(str(model_dir / "model.safetensors"))


def test_loss_falls_and_counts(adapted):
    assert adapted.texts == 6  # 3 + 3 distinct texts; the blank ones skipped
    # 6 texts in batches of 4: 80 batches, less the few where no token of ~8 was drawn to be masked
    assert 60 < adapted.steps <= 80
    assert len(adapted.losses) == adapted.steps
    assert adapted.mean_loss(first=False) < 0.5 * adapted.mean_loss(first=True)


def test_only_encoder_weights_change_and_pooler_is_kept(extended, adapted):
    before, after = weights(extended), weights(adapted.out_dir)
    assert before.keys() == after.keys()
    assert any(key.startswith("pooler.") for key in after)
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    assert "embeddings.word_embeddings.weight" in changed
    assert any(key.startswith("encoder.layer.") for key in changed)
    assert not any(key.startswith("pooler.") for key in changed)


def test_embeddings_only(extended, tmp_path):
    config = AdaptationConfig(epochs=3, batch_size=4, learning_rate=3e-3, train="embeddings")
    result = adapt_to_texts(extended, TEXTS, tmp_path / "emb", config)
    before, after = weights(extended), weights(result.out_dir)
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    assert changed == {"embeddings.word_embeddings.weight"}


def test_batches_group_lengths_and_cover_every_text():
    from shopmatch.train.adapt import _length_grouped_batches

    lengths = [(i * 7) % 23 + 2 for i in range(1000)]
    generator = torch.Generator().manual_seed(0)
    batches = _length_grouped_batches(lengths, 10, generator)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.1 * sum(lengths)  # random batches of 10 would pad to ~1.6x
    assert batches != _length_grouped_batches(lengths, 10, generator)  # a new order each epoch


def test_output_loads_like_the_input(extended, adapted):
    from sentence_transformers import CrossEncoder, SentenceTransformer
    from transformers import AutoTokenizer

    for model_dir in (extended, adapted.out_dir):
        vectors = SentenceTransformer(str(model_dir), device="cpu").encode(["猫粮", "狗绳"])
        assert vectors.shape == (2, 32)
    assert CrossEncoder(str(adapted.out_dir), num_labels=1, device="cpu").predict([("猫粮", "猫砂盆")]).shape == (1,)
    old = AutoTokenizer.from_pretrained(extended)("猫砂盆 狗绳")["input_ids"]
    assert AutoTokenizer.from_pretrained(adapted.out_dir)("猫砂盆 狗绳")["input_ids"] == old
    manifest = read_manifest(adapted.out_dir, kind=MANIFEST_KIND, supported_version=FORMAT_VERSION)
    assert manifest["steps"] == adapted.steps and manifest["config"]["epochs"] == 40


def test_deterministic(extended, tmp_path):
    config = AdaptationConfig(epochs=2, batch_size=4, seed=3)
    first = adapt_to_texts(extended, TEXTS, tmp_path / "a", config)
    second = adapt_to_texts(extended, TEXTS, tmp_path / "b", config)
    assert first.losses == second.losses
    a, b = weights(first.out_dir), weights(second.out_dir)
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_plain_hugging_face_directory(extended, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy2(extended / name, plain / name)
    result = adapt_to_texts(plain, TEXTS, tmp_path / "out", AdaptationConfig(batch_size=8))
    assert result.steps == 1
    assert not (result.out_dir / "modules.json").exists()
    before, after = weights(plain), weights(result.out_dir)
    assert before.keys() == after.keys()
    assert not torch.equal(before["embeddings.word_embeddings.weight"], after["embeddings.word_embeddings.weight"])


@pytest.mark.parametrize(
    ("options", "field"),
    [({"epochs": 0}, "epochs"), ({"learning_rate": 0}, "learning_rate"), ({"warmup_ratio": 1.0}, "warmup_ratio"),
     ({"mask_probability": 1.0}, "mask_probability"), ({"batch_size": 0}, "batch_size"),
     ({"max_length": 2}, "max_length"), ({"train": "layers"}, "train")],
)  # fmt: skip
def test_refuses_bad_options(options, field):
    with pytest.raises(ConfigError, match=field):
        AdaptationConfig(**options)


def test_refuses_no_text_and_same_directory(extended, tmp_path):
    with pytest.raises(ConfigError, match="no text"):
        adapt_to_texts(extended, ["", "  "], tmp_path / "out")
    with pytest.raises(ConfigError, match="must not be the model directory"):
        adapt_to_texts(extended, TEXTS, extended)
    with pytest.raises(ConfigError, match="not a model directory"):
        adapt_to_texts(tmp_path, TEXTS, tmp_path / "out")
