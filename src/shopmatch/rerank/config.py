"""Settings of the re-ranking stage (``[rerank]`` in a pipeline config).

Example:
    >>> RerankConfig.from_dict({"model": "my-reranker", "top_n": 20}).top_n
    20
    >>> RerankConfig().enabled
    False
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shopmatch.encoders.config import BACKENDS, QUANTIZATION_TARGETS
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.errors import ConfigError
from shopmatch.settings import require_int

TRAINING_RECORD = "shopmatch_reranker.json"  # written next to a trained model: the text it was trained on


@dataclass(frozen=True)
class RerankConfig:
    """The cross-encoder re-ranking stage.

    Attributes:
        model: a cross-encoder model directory (sentence-transformers ``CrossEncoder`` format);
            empty means no re-ranking.
        top_n: how many fused candidates are re-ranked per query (the rest keep their order after them).
        backend: ``torch``, ``onnx`` (fp32) or ``onnx-int8`` (dynamically quantized; fastest on CPU).
        quantization: int8 target CPU family (``auto`` picks this machine's).
        max_length: token limit of the (query, product text) pair.
        batch_size: pairs per forward pass.
        text: the product text the cross-encoder reads (the same template it was trained with).
        fusion_weight: how much the first-stage (fused) order still counts. The final order of
            the re-ranked candidates is by ``1 / (60 + rerank rank) + fusion_weight / (60 +
            fusion rank)``: 0 (the default) is the cross-encoder's order alone, 1 weighs both
            orders equally. Useful when the cross-encoder was trained on few judgments.
    """

    model: str = ""
    top_n: int = 50
    backend: str = "onnx-int8"
    quantization: str = "auto"
    max_length: int = 128
    batch_size: int = 64
    text: ProductTextTemplate = field(default_factory=ProductTextTemplate)
    fusion_weight: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.model, str):
            raise ConfigError(f"rerank.model must be a string (a model directory), got {self.model!r}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"rerank.backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.quantization not in QUANTIZATION_TARGETS:
            raise ConfigError(
                f"rerank.quantization must be one of {', '.join(QUANTIZATION_TARGETS)}, got {self.quantization!r}"
            )
        require_int("rerank", "top_n", self.top_n)
        require_int("rerank", "max_length", self.max_length, minimum=8)
        require_int("rerank", "batch_size", self.batch_size)
        if (
            isinstance(self.fusion_weight, bool)
            or not isinstance(self.fusion_weight, int | float)
            or not (0 <= self.fusion_weight < float("inf"))
        ):
            raise ConfigError(f"rerank.fusion_weight must be a number ≥ 0, got {self.fusion_weight!r}")

    @property
    def enabled(self) -> bool:
        return bool(self.model)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "top_n": self.top_n,
            "backend": self.backend,
            "quantization": self.quantization,
            "max_length": self.max_length,
            "batch_size": self.batch_size,
            "text": self.text.to_dict(),
            "fusion_weight": self.fusion_weight,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RerankConfig:
        data = dict(data)
        text = data.pop("text", {})
        if not isinstance(text, Mapping):
            raise ConfigError("[rerank.text] must be a table")
        known = {"model", "top_n", "backend", "quantization", "max_length", "batch_size", "fusion_weight"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown rerank setting(s) {sorted(unknown)}; known: {sorted(known | {'text'})}")
        return cls(**data, text=ProductTextTemplate.from_dict(text))

    def with_model(self, model_dir: str | Path) -> RerankConfig:
        """This config re-ranking with ``model_dir``, taking the product text template and the
        token limit the model was trained with (from its ``shopmatch_reranker.json``, if any)."""
        model_dir = Path(model_dir)
        record_path = model_dir / TRAINING_RECORD
        config = replace(self, model=str(model_dir))
        if record_path.is_file():
            record = json.loads(record_path.read_text(encoding="utf-8"))
            config = replace(
                config,
                text=ProductTextTemplate.from_dict(record.get("text", {})),
                max_length=int(record.get("max_length", config.max_length)),
            )
        return config
