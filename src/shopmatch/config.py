"""Pipeline configuration: which stages run and how, read from TOML and saved with the index.

A config file (see ``configs/bm25.toml``)::

    [lexical]
    k1 = 1.2
    chinese = "jieba+char"     # or "jieba", "char"

    [lexical.fields]
    title = { weight = 3.0, b = 0.75 }
    brand = 1.0                # a plain number is the weight

Example:
    >>> cfg = PipelineConfig.from_dict({"lexical": {"k1": 1.5, "fields": {"title": 1.0}}})
    >>> cfg.lexical.k1, list(cfg.lexical.fields)
    (1.5, ['title'])
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopmatch.errors import ConfigError
from shopmatch.retrieval.lexical import LexicalConfig


@dataclass(frozen=True)
class PipelineConfig:
    """All stages of a search pipeline. Only the lexical stage exists so far."""

    lexical: LexicalConfig = field(default_factory=LexicalConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"lexical": self.lexical.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        unknown = set(data) - {"lexical"}
        if unknown:
            raise ConfigError(f"unknown config section(s) {sorted(unknown)}; known: ['lexical']")
        return cls(lexical=LexicalConfig.from_dict(data.get("lexical", {})))

    @classmethod
    def from_toml(cls, path: str | Path) -> PipelineConfig:
        """Read a TOML config file; errors name the file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: invalid TOML: {err}") from None
        try:
            return cls.from_dict(data)
        except (ConfigError, TypeError) as err:
            raise ConfigError(f"{path}: {err}") from None
