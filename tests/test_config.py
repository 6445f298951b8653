"""PipelineConfig: dict/TOML round trip and errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError
from shopmatch.retrieval.lexical import FieldWeight, LexicalConfig

REPO = Path(__file__).resolve().parents[1]


def _toml(tmp_path, text):
    path = tmp_path / "cfg.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults():
    config = PipelineConfig()
    assert config.lexical == LexicalConfig()
    assert config.lexical.fields["title"] == FieldWeight(3.0, 1.0)
    assert config.lexical.k1 == 0.75 and config.lexical.chinese == "jieba+char"
    assert PipelineConfig.from_dict({}) == config
    assert PipelineConfig.from_dict(config.to_dict()) == config


def test_from_toml(tmp_path):
    path = _toml(
        tmp_path,
        """
[lexical]
k1 = 1.5
chinese = "char"
stem = false

[lexical.fields]
title = { weight = 2.0, b = 0.5 }
brand = 1.0
""",
    )
    config = PipelineConfig.from_toml(path)
    assert config.lexical.k1 == 1.5 and config.lexical.chinese == "char" and config.lexical.stem is False
    assert dict(config.lexical.fields) == {"title": FieldWeight(2.0, 0.5), "brand": FieldWeight(1.0, 0.75)}
    assert config.lexical.analyzer()("Running") == ["running"]


def test_shipped_config_loads():
    config = PipelineConfig.from_toml(REPO / "configs" / "bm25.toml")
    assert config.lexical.fields


def test_shipped_config_is_the_builtin_default():
    # README and configs/bm25.toml say so: the tuned weights are the defaults; the file runs BM25F alone
    shipped = PipelineConfig.from_toml(REPO / "configs" / "bm25.toml")
    assert shipped.lexical == PipelineConfig().lexical and shipped.retrievers == ("lexical",)
    assert PipelineConfig().retrievers == ("lexical", "dense")


def test_untuned_reference_config_loads_and_differs():
    untuned = PipelineConfig.from_toml(REPO / "configs" / "bm25-untuned.toml")
    assert untuned.lexical.k1 == 1.2 and untuned != PipelineConfig()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[lexical\nk1 = 1", "invalid TOML"),
        ("[rankers]\nx = 1\n", "unknown config section(s) ['rankers']"),
        ("[lexical]\nbm25 = 1\n", "unknown lexical setting(s) ['bm25']"),
        ("[lexical]\nk1 = 0\n", "k1 must be > 0"),
        ('[lexical]\nk1 = "high"\n', "lexical.k1 must be a number ≥ 0, got 'high'"),
        ('[lexical]\nchinese = "pinyin"\n', "chinese must be"),
        ("[lexical.fields]\nprice = 1\n", "unknown field(s) ['price']"),
        ("[lexical.fields]\ntitle = 0\n", "at least one field needs a weight > 0"),
        (
            "[lexical.fields]\ntitle = { weight = 1, b = 2 }\n",
            "lexical.fields.title: field.b must be a number in [0, 1]",
        ),
        ('[lexical.fields]\ntitle = "heavy"\n', "expected a weight"),
        ("lexical = 3\n", ""),
    ],
)
def test_toml_errors_name_the_file(tmp_path, text, fragment):
    path = _toml(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        PipelineConfig.from_toml(path)
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        PipelineConfig.from_toml(tmp_path / "nope.toml")


@pytest.mark.parametrize("value", ['"title"', "[1, 2]", "5"])
def test_fields_not_a_table(tmp_path, value):
    with pytest.raises(ConfigError):
        PipelineConfig.from_toml(_toml(tmp_path, f"[lexical]\nfields = {value}\n"))


def test_boolean_options_are_type_checked(tmp_path):
    with pytest.raises(ConfigError):
        PipelineConfig.from_toml(_toml(tmp_path, '[lexical]\nstem = "false"\n'))
