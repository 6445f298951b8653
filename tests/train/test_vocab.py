"""Vocabulary extension for Chinese: old ids and rows unchanged, one id per new character, loadable.

On the tiny random model of tests/tiny_model.py (English-only vocabulary), plus one check on
the bundled MiniLM.
"""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file

from shopmatch.errors import ConfigError
from shopmatch.train.vocab import NOISE_SCALE, VocabExtension, extend_vocabulary, is_cjk_character, missing_characters

ENGLISH = ["usb c cable charger", "leather sofa couch black", "cast iron skillet 12 inch", "unknownword garden"]
# 猫 x4, 粮 x2, 砂 x2, 狗 x2, 盆 x1, full-width punctuation ，x1 and （）x1 each.
CHINESE = ["猫粮 cat food", "猫砂盆", "狗粮，猫砂", "狗（犬）"]
PAIR = ("猫粮", "猫砂 usb cable")


def tokenizers(directory):
    from transformers import AutoTokenizer

    return [AutoTokenizer.from_pretrained(directory, use_fast=fast, local_files_only=True) for fast in (True, False)]


@pytest.fixture(scope="module")
def extended(tiny_model, tmp_path_factory) -> VocabExtension:
    return extend_vocabulary(tiny_model, CHINESE, tmp_path_factory.mktemp("vocab") / "zh")


def test_is_cjk_character():
    assert all(is_cjk_character(c) for c in "猫㐀豈，。（」")  # unified, extension A, compatibility, punctuation
    assert not any(is_cjk_character(c) for c in "aÅＡ１￥ ")  # full-width letters/digits stay inside words
    assert not is_cjk_character("猫粮")


def test_missing_characters_counts_orders_and_filters(tiny_model):
    for tokenizer in tokenizers(tiny_model):
        found = missing_characters(tokenizer, CHINESE)
        # most frequent first, ties by code point: 狗 U+72D7 < 猫 U+732B ... ; English never counts
        assert found == ["猫", "狗", "砂", "粮", "犬", "盆", "（", "）", "，"]
        assert missing_characters(tokenizer, CHINESE, min_count=2) == ["猫", "狗", "砂", "粮"]
        assert missing_characters(tokenizer, iter(CHINESE), min_count=5) == []
        assert missing_characters(tokenizer, ENGLISH) == []


def test_missing_characters_after_the_tokenizers_normalization(tiny_model):
    # U+F900 is a compatibility ideograph that BERT normalization turns into U+8C48: the latter
    # is what the tokenizer looks up, so it is the one reported (counted for both spellings).
    for tokenizer in tokenizers(tiny_model):
        assert missing_characters(tokenizer, ["\uf900", "\u8c48"], min_count=2) == ["\u8c48"]


def test_missing_characters_skips_known_characters(extended):
    for tokenizer in tokenizers(extended.out_dir):
        assert missing_characters(tokenizer, CHINESE) == []
        assert missing_characters(tokenizer, ["猫鱼"]) == ["鱼"]


def test_min_count_must_be_positive(tiny_model):
    with pytest.raises(ConfigError, match="min_count"):
        missing_characters(tokenizers(tiny_model)[0], CHINESE, min_count=0)


def test_extension_sizes_and_log(tiny_model, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="shopmatch.train.vocab"):
        ext = extend_vocabulary(tiny_model, CHINESE, tmp_path / "zh")
    assert ext.added == ["猫", "狗", "砂", "粮", "犬", "盆", "（", "）", "，"]
    assert ext.new_size == ext.old_size + 9 and ext.out_dir == tmp_path / "zh"
    assert "adding 9 CJK characters" in caplog.text
    manifest = json.loads((ext.out_dir / "manifest.json").read_text())
    assert manifest["kind"] == "vocab-extended-model" and manifest["added"] == 9


def test_old_token_ids_unchanged(tiny_model, extended):
    for old, new in zip(tokenizers(tiny_model), tokenizers(extended.out_dir), strict=True):
        assert len(new) == extended.new_size and len(old) == extended.old_size
        assert new(ENGLISH)["input_ids"] == old(ENGLISH)["input_ids"]
        old_vocab, new_vocab = old.get_vocab(), new.get_vocab()
        assert {token: new_vocab[token] for token in old_vocab} == old_vocab


def test_chinese_is_one_token_per_character(tiny_model, extended):
    text = "猫粮，狗砂盆（犬）"
    old_ids = tokenizers(tiny_model)[0](text, add_special_tokens=False)["input_ids"]
    assert set(old_ids) == {1}  # everything was [UNK]
    results = []
    for tokenizer in tokenizers(extended.out_dir):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.convert_ids_to_tokens(ids) == list(text)
        assert tokenizer.unk_token_id not in ids and min(ids) >= extended.old_size
        results.append(tokenizer("cat 猫粮 usb", "狗粮")["input_ids"])
    assert results[0] == results[1]  # fast and slow agree, mixed with English too


def test_embeddings_grow_and_old_rows_are_bit_identical(tiny_model, extended):
    old = load_file(tiny_model / "model.safetensors")
    new = load_file(extended.out_dir / "model.safetensors")
    name = next(key for key in old if key.endswith("word_embeddings.weight"))
    assert old[name].shape[0] == extended.old_size and new[name].shape[0] == extended.new_size
    assert torch.equal(new[name][: extended.old_size], old[name])
    assert all(torch.equal(new[key], old[key]) for key in old if key != name)
    rows = new[name][extended.old_size :]
    assert_rows_near(rows, old[name], centre=old[name][1])  # the [UNK] row: the default init
    assert len({tuple(row.tolist()) for row in rows}) == len(rows)
    assert json.loads((extended.out_dir / "config.json").read_text())["vocab_size"] == extended.new_size


def assert_rows_near(rows, old, *, centre):
    """``rows`` are ``centre`` plus noise of std NOISE_SCALE times the old rows' per-dimension std."""
    scale = NOISE_SCALE * old.std(dim=0).mean()
    deviation = rows - centre
    assert float(deviation.std()) == pytest.approx(float(scale), rel=0.3)
    assert float(deviation.abs().max()) < 6 * scale


def test_mean_init(tiny_model, tmp_path):
    ext = extend_vocabulary(tiny_model, ["猫狗", "猫"], tmp_path / "zh", init="mean")
    weight = load_file(ext.out_dir / "model.safetensors")["embeddings.word_embeddings.weight"]
    old = weight[: ext.old_size]
    assert_rows_near(weight[ext.old_size :], old, centre=old.mean(dim=0))


def test_noise_scale_sets_how_far_apart_new_rows_start(tiny_model, tmp_path):
    def spread(scale):
        ext = extend_vocabulary(tiny_model, CHINESE, tmp_path / f"n{scale}", noise_scale=scale)
        weight = load_file(ext.out_dir / "model.safetensors")["embeddings.word_embeddings.weight"]
        new, old = weight[ext.old_size : ext.new_size], weight[: ext.old_size]
        assert json.loads((ext.out_dir / "manifest.json").read_text())["config"]["noise_scale"] == scale
        return (new.std(dim=0).mean() / old.std(dim=0).mean()).item()

    assert spread(0.0) == pytest.approx(0.0, abs=1e-6)  # every new row is the [UNK] row
    assert 0.05 < spread(0.1) < 0.2  # the default
    assert 0.6 < spread(1.0) < 1.5  # as far apart as the old rows
    with pytest.raises(ConfigError, match="noise_scale"):
        extend_vocabulary(tiny_model, CHINESE, tmp_path / "bad", noise_scale=-1)


def test_min_count_and_max_new(tiny_model, tmp_path):
    ext = extend_vocabulary(tiny_model, CHINESE, tmp_path / "a", min_count=2)
    assert ext.added == ["猫", "狗", "砂", "粮"]
    ext = extend_vocabulary(tiny_model, CHINESE, tmp_path / "b", min_count=2, max_new=3)
    assert ext.added == ["猫", "狗", "砂"] and ext.new_size == ext.old_size + 3
    for tokenizer in tokenizers(ext.out_dir):
        assert tokenizer.convert_ids_to_tokens(tokenizer("猫粮", add_special_tokens=False)["input_ids"]) == [
            "猫",
            "[UNK]",
        ]
    ext = extend_vocabulary(tiny_model, CHINESE, tmp_path / "c", max_new=0)
    assert ext.added == [] and ext.new_size == ext.old_size


def test_saved_directory_loads_everywhere(extended):
    from sentence_transformers import CrossEncoder, SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(extended.out_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(extended.out_dir, local_files_only=True)
    assert model.get_input_embeddings().num_embeddings == len(tokenizer) == extended.new_size
    with torch.no_grad():
        out = model(**tokenizer(["猫粮 cat food"], return_tensors="pt"))
    assert out.last_hidden_state.shape == (1, len(tokenizer.tokenize("猫粮 cat food")) + 2, 32)

    cross = CrossEncoder(str(extended.out_dir), num_labels=1, device="cpu")
    scores = cross.predict([PAIR, ("狗粮", "猫砂盆")])
    assert scores.shape == (2,) and all(abs(float(s)) < 1e3 for s in scores)

    bi = SentenceTransformer(str(extended.out_dir), device="cpu")
    assert len(bi) == 3  # pooling and normalize kept
    assert bi.encode(["猫粮"]).shape == (1, 32)


def test_deterministic(tiny_model, extended, tmp_path):
    again = extend_vocabulary(tiny_model, CHINESE, tmp_path / "again")
    assert again.added == extended.added
    for name in ("model.safetensors", "vocab.txt", "tokenizer.json", "modules.json", "config.json"):
        assert (again.out_dir / name).read_bytes() == (extended.out_dir / name).read_bytes(), name
    other_seed = extend_vocabulary(tiny_model, CHINESE, tmp_path / "seed1", seed=1)
    assert (other_seed.out_dir / "model.safetensors").read_bytes() != (again.out_dir / "model.safetensors").read_bytes()


def test_plain_hugging_face_directory(tiny_model, tmp_path):
    from transformers import AutoModel

    raw = tiny_model.parent / "raw"  # what make_tiny_model saved with BertModel.save_pretrained
    ext = extend_vocabulary(raw, CHINESE, tmp_path / "zh")
    assert not (ext.out_dir / "modules.json").exists()
    model = AutoModel.from_pretrained(ext.out_dir, local_files_only=True)
    assert model.get_input_embeddings().num_embeddings == ext.new_size


def test_transformer_in_a_subfolder(tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    st_dir = tmp_path / "st"
    shutil.copytree(tiny_model, st_dir)
    sub = st_dir / "0_Transformer"
    sub.mkdir()
    for path in list(st_dir.iterdir()):
        if path.is_file() and path.name not in ("modules.json", "config_sentence_transformers.json", "README.md"):
            path.rename(sub / path.name)
    modules = json.loads((st_dir / "modules.json").read_text())
    modules[0]["path"] = "0_Transformer"
    (st_dir / "modules.json").write_text(json.dumps(modules))
    reference = SentenceTransformer(str(st_dir), device="cpu").encode(ENGLISH)

    ext = extend_vocabulary(st_dir, CHINESE, tmp_path / "zh")
    assert json.loads((ext.out_dir / "modules.json").read_text())[0]["path"] == ""
    assert (ext.out_dir / "config.json").is_file() and (ext.out_dir / "1_Pooling" / "config.json").is_file()
    model = SentenceTransformer(str(ext.out_dir), device="cpu")
    assert model.encode(ENGLISH) == pytest.approx(reference, abs=1e-6)  # English: same model as before


def test_refuses_bad_arguments(tiny_model, tmp_path):
    with pytest.raises(ConfigError, match="must not be the model directory"):
        extend_vocabulary(tiny_model, CHINESE, tiny_model)
    with pytest.raises(ConfigError, match="max_new"):
        extend_vocabulary(tiny_model, CHINESE, tmp_path / "x", max_new=-1)
    with pytest.raises(ConfigError, match="init"):
        extend_vocabulary(tiny_model, CHINESE, tmp_path / "x", init="zeros")
    with pytest.raises(ConfigError, match="not a model directory"):
        extend_vocabulary(tmp_path, CHINESE, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_refuses_tokenizer_with_added_tokens(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    raw = tmp_path / "raw"
    shutil.copytree(tiny_model.parent / "raw", raw)
    tokenizer = AutoTokenizer.from_pretrained(raw, local_files_only=True)
    tokenizer.add_tokens(["<sku>"])
    tokenizer.save_pretrained(raw)
    with pytest.raises(ConfigError, match="added tokens"):
        extend_vocabulary(raw, CHINESE, tmp_path / "zh")


def test_bundled_minilm(tmp_path):
    """The real model: Chinese loses its [UNK]s, English and (before training) Chinese encode as before."""
    from sentence_transformers import SentenceTransformer

    from shopmatch.encoders.models import DEFAULT_MODEL, resolve_model_dir

    base = resolve_model_dir(DEFAULT_MODEL)
    texts = ["小孩咳嗽感冒", "无线蓝牙耳机 降噪", "苹果手机壳 iPhone 15"]
    ext = extend_vocabulary(base, texts, tmp_path / "zh")
    assert ext.old_size == 30522 and len(ext.added) == len(set(ext.added)) > 5
    old, new = SentenceTransformer(str(base), device="cpu"), SentenceTransformer(str(ext.out_dir), device="cpu")
    for text in texts:
        assert new.tokenizer.unk_token not in new.tokenizer.tokenize(text)
    english = ["wireless bluetooth headphones", "iphone case"]
    assert (old.encode(english) * new.encode(english)).sum(axis=1) == pytest.approx(1.0, abs=1e-6)
    # [UNK]-row init: before fine-tuning the Chinese vectors stay next to the old ones
    assert ((old.encode(texts) * new.encode(texts)).sum(axis=1) > 0.98).all()
