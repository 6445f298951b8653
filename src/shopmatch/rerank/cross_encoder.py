"""Cross-encoder re-ranker: a transformer reads the query and a product's text together and
outputs a relevance probability (a sigmoid over one logit).

Runs on PyTorch or ONNX Runtime (fp32, or int8 dynamically quantized, exported once into a
cache and copied into the index, as for the bi-encoder).

Example:
    >>> reranker = CrossEncoderReranker.from_config(RerankConfig(model="my-reranker"))  # doctest: +SKIP
    >>> reranker.score("red mug", ["Red ceramic mug", "Garden hose"])                   # doctest: +SKIP
    array([0.93, 0.02], dtype=float32)
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.catalog import Product
from shopmatch.encoders.config import detect_quantization_target
from shopmatch.encoders.onnx_export import cached_export, onnx_file_name, onnx_model_kwargs
from shopmatch.errors import ConfigError
from shopmatch.extras import MODEL_RUNTIME, require
from shopmatch.rerank.config import RerankConfig
from shopmatch.text.clip import clip_words

logger = logging.getLogger(__name__)


def _model_dir(model: str | Path) -> Path:
    path = Path(model).expanduser()
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ConfigError(f"re-ranker model {str(model)!r} is not a model directory (no config.json)")
    return path


def _onnx_file_in(directory: Path, quantization: str | None) -> str | None:
    """The ONNX file of a saved re-ranker: the requested one, else the only int8 one there."""
    name = onnx_file_name(directory, quantization)
    if name is None and quantization is not None:
        found = sorted((directory / "onnx").glob("model_*int8_*.onnx"))
        name = f"onnx/{found[0].name}" if len(found) == 1 else None
    return name


class CrossEncoderReranker:
    """Scores (query, product) pairs with a sentence-transformers ``CrossEncoder``.

    Args:
        model_dir: the model directory (for ONNX backends, one holding ``onnx_file``).
        config: the re-ranking settings (backend, token limit, batch size, product text).
        onnx_file: the ONNX file inside ``model_dir`` (ONNX backends only).
    """

    def __init__(self, model_dir: str | Path, config: RerankConfig, *, onnx_file: str | None = None) -> None:
        require("semantic", "the cross-encoder re-ranker", MODEL_RUNTIME)
        from sentence_transformers import CrossEncoder

        self.model_dir = Path(model_dir)
        self.config = config
        self._lock = threading.Lock()
        self.onnx_file = onnx_file
        kwargs: dict[str, Any] = {"device": "cpu", "local_files_only": True, "max_length": config.max_length}
        if config.backend == "torch":
            self.model = CrossEncoder(str(model_dir), **kwargs)
        else:
            if onnx_file is None:
                raise ValueError("an ONNX backend needs onnx_file")
            self.model = CrossEncoder(
                str(model_dir),
                backend="onnx",
                model_kwargs=onnx_model_kwargs(onnx_file, spinning=False),
                **kwargs,
            )
        if self.model.num_labels != 1:
            raise ConfigError(
                f"{model_dir}: a re-ranker has one output (a relevance logit); this model has {self.model.num_labels}"
            )
        positions = getattr(self.model[0].auto_model.config, "max_position_embeddings", None)
        if positions is not None and config.max_length > positions:
            raise ConfigError(
                f"rerank max_length {config.max_length} is more than {model_dir} can read ({positions} tokens)"
            )

    @classmethod
    def from_config(cls, config: RerankConfig, *, saved_dir: str | Path | None = None) -> CrossEncoderReranker:
        """Load the re-ranker ``config`` names; from ``saved_dir`` (an index's ``rerank/``) when given,
        else from ``config.model`` (ONNX backends export into the cache on first use)."""
        quantization = None
        if config.backend == "onnx-int8":
            quantization = detect_quantization_target() if config.quantization == "auto" else config.quantization
        if saved_dir is not None:
            saved_dir = Path(saved_dir)
            if config.backend == "torch":
                return cls(saved_dir, config)
            name = _onnx_file_in(saved_dir, quantization)
            if name is None:
                raise ValueError(f"{saved_dir}: no exported {config.backend} re-ranker")
            return cls(saved_dir, config, onnx_file=name)
        model_dir = _model_dir(config.model)
        if config.backend == "torch":
            return cls(model_dir, config)
        directory, name = cached_export(model_dir, quantization=quantization, kind="cross-encoder")
        return cls(directory, config, onnx_file=name)

    def text_of(self, product: Product | Mapping[str, Any]) -> str:
        """The product text the model reads (the configured template)."""
        if not isinstance(product, Product):
            product = Product.from_dict(product)
        return self.config.text.render(product)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Relevance probabilities of ``texts`` for ``query``, ``(len(texts),)`` float32."""
        return self.score_pairs([(query, t) for t in texts])

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Relevance probabilities of (query, text) pairs, ``(len(pairs),)`` float32."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        with self._lock:  # one tokenizer: threads take turns (see SentenceEncoder)
            scores = self.model.predict(
                self._clipped(pairs), batch_size=self.config.batch_size, show_progress_bar=False, convert_to_numpy=True
            )
        return np.asarray(scores, dtype=np.float32).reshape(len(pairs))

    def _clipped(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """``pairs`` with each text cut after the words the token limit would drop anyway.

        The tokenizer truncates the longer of query and text first, so a text keeps more counted
        words (each at least one token) than both the limit and its query's tokens: it stays the
        longer of the two and keeps every token it would have kept whole (``shopmatch.text.clip``).
        """
        limit = self.model.max_seq_length  # the limit in force: the configured one, or one saved with the model
        if not limit:
            return list(pairs)
        query_tokens: dict[str, int] = {}
        out = []
        for query, text in pairs:
            if query not in query_tokens:
                query_tokens[query] = len(
                    self.model.tokenizer(query, add_special_tokens=False, verbose=False)["input_ids"]
                )
            out.append((query, clip_words(text, max(limit, query_tokens[query] + 1))))
        return out

    def save(self, directory: str | Path) -> None:
        """Copy the model in use (only its ONNX file, for ONNX backends) into ``directory``."""
        keep = Path(self.onnx_file).name if self.onnx_file else None

        def skipped(folder: str, names: list[str]) -> list[str]:
            skip = [n for n in names if n.startswith("checkpoint-") or n == "runs"]
            if Path(folder).name == "onnx":
                skip += [n for n in names if n.endswith(".onnx") and n != keep]
            return skip

        shutil.copytree(self.model_dir, directory, dirs_exist_ok=True, ignore=skipped)

    @classmethod
    def load(cls, directory: str | Path, config: RerankConfig) -> CrossEncoderReranker:
        return cls.from_config(config, saved_dir=directory)
