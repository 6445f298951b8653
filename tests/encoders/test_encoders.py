"""Encoders: backends agree, vectors are unit length, product text, truncation, config checks.

All on a tiny random model (tests/tiny_model.py): nothing here needs the bundled MiniLM.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from shopmatch.catalog import Product
from shopmatch.encoders import EncoderConfig, ProductTextTemplate, SentenceEncoder
from shopmatch.encoders.models import DEFAULT_MODEL, resolve_model_dir
from shopmatch.encoders.onnx_export import cached_export
from shopmatch.encoders.sentence_encoder import length_sorted_order
from shopmatch.errors import ConfigError

TEXTS = [
    "usb c cable 6 ft",
    "leather sofa couch black",
    "cast iron skillet 12 inch for the kitchen",
    "garden hose",
    "queen memory foam mattress with waterproof cover",
    "red kitchen towel pack",
]


@pytest.fixture(scope="module")
def encoders(tiny_model):
    return {
        backend: SentenceEncoder.from_config(EncoderConfig(model=str(tiny_model), backend=backend, quantization="avx2"))
        for backend in ("torch", "onnx", "onnx-int8")
    }


def test_vectors_are_unit_float32(encoders):
    for encoder in encoders.values():
        vectors = encoder.encode_documents(TEXTS)
        assert vectors.shape == (len(TEXTS), 32) and vectors.dtype == np.float32
        assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
        assert encoder.encode_queries([]).shape == (0, 32)


def test_backends_agree(encoders):
    reference = encoders["torch"].encode_documents(TEXTS)
    onnx = encoders["onnx"].encode_documents(TEXTS)
    int8 = encoders["onnx-int8"].encode_documents(TEXTS)
    assert (reference * onnx).sum(axis=1) == pytest.approx(1.0, abs=1e-4)
    assert (reference * int8).sum(axis=1).min() >= 0.95
    # and they are not trivially equal vectors: different texts get different vectors
    assert (reference @ reference.T)[~np.eye(len(TEXTS), dtype=bool)].max() < 0.999


def test_document_order_is_kept_despite_length_sorting(encoders):
    encoder = encoders["torch"]
    together = encoder.encode_documents(TEXTS)
    one_by_one = np.vstack([encoder.encode_documents([t]) for t in TEXTS])
    assert (together * one_by_one).sum(axis=1) == pytest.approx(1.0, abs=1e-5)
    assert length_sorted_order(["ab", "abcd", "a", "abcd"]).tolist() == [1, 3, 0, 2]


def test_prefixes(tiny_model):
    plain = SentenceEncoder.from_config(EncoderConfig(model=str(tiny_model), backend="torch"))
    prefixed = SentenceEncoder.from_config(EncoderConfig(model=str(tiny_model), backend="torch", query_prefix="the "))
    assert (plain.encode_queries(["the sofa"]) == prefixed.encode_queries(["sofa"])).all()
    assert (plain.encode_documents(["sofa"]) == prefixed.encode_documents(["sofa"])).all()


def test_truncation_is_counted_and_logged(tiny_model, caplog):
    encoder = SentenceEncoder.from_config(EncoderConfig(model=str(tiny_model), backend="torch", max_length=16))
    long = " ".join(["kitchen"] * 40)
    assert encoder.count_truncated(["sofa", long, "x" * 14]) == 1
    with caplog.at_level(logging.INFO, logger="shopmatch.encoders.sentence_encoder"):
        encoder.encode_documents(["sofa", long])
    assert "1 of 2 product texts are longer than 16 tokens and were truncated" in caplog.text


def test_unknown_share(encoders):
    share = encoders["torch"].unknown_share(["sofa", "蓝牙耳机", "sofa 耳机"])
    assert share.tolist() == pytest.approx([0.0, 1.0, 2 / 3])


def test_unknown_shares_are_kept_for_the_most_recently_asked_texts(tiny_model, monkeypatch):
    import shopmatch.encoders.sentence_encoder as module

    monkeypatch.setattr(module, "UNKNOWN_CACHE_SIZE", 2)
    encoder = SentenceEncoder.from_config(EncoderConfig(model=str(tiny_model), backend="torch"))
    calls = []
    tokenize = type(encoder.model.tokenizer).__call__

    def counted(self, texts, **kwargs):
        calls.append(list(texts))
        return tokenize(self, texts, **kwargs)

    monkeypatch.setattr(type(encoder.model.tokenizer), "__call__", counted)
    assert encoder.unknown_share(["sofa", "耳机", "sofa"]).tolist() == [0.0, 1.0, 0.0]
    assert encoder.unknown_share(["耳机", "sofa"]).tolist() == [1.0, 0.0]  # both kept: not tokenized again
    assert encoder.unknown_share(["sofa 耳机"]).tolist() == pytest.approx([2 / 3])  # drops "耳机", asked longest ago
    assert encoder.unknown_share(["sofa", "耳机"]).tolist() == [0.0, 1.0]
    assert calls == [["sofa", "耳机"], ["sofa 耳机"], ["耳机"]]


def test_export_is_cached(tiny_model, encoders):
    first = cached_export(tiny_model, quantization="avx2")
    assert cached_export(tiny_model, quantization="avx2") == first
    directory, name = first
    assert name.startswith("onnx/model_") and name.endswith("int8_avx2.onnx")
    assert not (directory / "onnx" / "model.onnx").exists()  # only the file in use is kept
    assert encoders["onnx-int8"].model_dir == directory


def test_save_onnx_copies_only_the_model_in_use(encoders, tmp_path):
    name = encoders["onnx-int8"].save_onnx(tmp_path / "enc")
    assert sorted(p.name for p in (tmp_path / "enc" / "onnx").iterdir()) == [name.split("/")[1]]
    reloaded = SentenceEncoder.from_config(
        EncoderConfig(model="unused", backend="onnx-int8", quantization="avx2"), onnx_dir=tmp_path / "enc"
    )
    assert (reloaded.encode_queries(TEXTS) == encoders["onnx-int8"].encode_queries(TEXTS)).all()
    with pytest.raises(ValueError, match="torch encoder has no exported ONNX model"):
        encoders["torch"].save_onnx(tmp_path / "none")


def test_model_resolution(tmp_path):
    assert resolve_model_dir(DEFAULT_MODEL).is_dir()
    with pytest.raises(ConfigError, match="neither a bundled model"):
        resolve_model_dir(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not a model directory"):
        resolve_model_dir(str(tmp_path))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"backend": "tensorflow"}, "backend must be one of torch, onnx, onnx-int8"),
        ({"quantization": "avx9"}, "quantization must be one of"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"max_length": 4}, "max_length must be an integer ≥ 8"),
        ({"model": 3}, "model must be a string"),
        ({"pooling": "cls"}, r"unknown dense setting\(s\) \['pooling'\]"),
    ],
)
def test_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        EncoderConfig.from_dict(data)


def test_product_text_template():
    product = Product(
        "1",
        "Skillet",
        brand="Lodge",
        category=["Kitchen", "Cookware"],
        bullets=["Cast iron", "12 in", "Oven safe", "x"],
    )
    assert ProductTextTemplate().render(product) == "Skillet\nLodge\nKitchen > Cookware\nCast iron; 12 in; Oven safe"
    assert ProductTextTemplate().render(Product("2", "Bare")) == "Bare"
    custom = ProductTextTemplate(template="{brand}: {title} ({color})", max_bullets=0, max_chars=12)
    assert custom.render(product) == "Lodge: Skill"
    with pytest.raises(ConfigError, match="unknown field"):
        ProductTextTemplate(template="{title} {price}")
    with pytest.raises(ConfigError, match="must include {title}"):
        ProductTextTemplate(template="{brand}")
    with pytest.raises(ConfigError, match="invalid product text template"):
        ProductTextTemplate(template="{title")


def test_onnx_encoder_sessions_keep_spinning(encoders):
    # query encoding measured faster with ONNX Runtime's spinning threads (bench/onnx_spinning.py)
    for backend in ("onnx", "onnx-int8"):
        session = encoders[backend].model[0].auto_model.model
        assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "1"
