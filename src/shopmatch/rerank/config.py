"""Settings of the re-ranking stage (``[rerank]`` in a pipeline config).

Example:
    >>> RerankConfig.from_dict({"model": "my-reranker", "top_n": 20}).top_n
    20
    >>> RerankConfig().enabled
    False
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from shopmatch.encoders.config import BACKENDS, QUANTIZATION_TARGETS
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.settings import ConfigSection, setting

TRAINING_RECORD = "shopmatch_reranker.json"  # written next to a trained model: the text it was trained on


@dataclass(frozen=True)
class RerankConfig(ConfigSection):
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

    SECTION = "rerank"

    model: str = ""
    top_n: int = setting(50, minimum=1)
    backend: str = setting("onnx-int8", choices=BACKENDS)
    quantization: str = setting("auto", choices=QUANTIZATION_TARGETS)
    max_length: int = setting(128, minimum=8)
    batch_size: int = setting(64, minimum=1)
    text: ProductTextTemplate = field(default_factory=ProductTextTemplate)
    fusion_weight: float = setting(0.0, minimum=0.0)

    @property
    def enabled(self) -> bool:
        return bool(self.model)

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
