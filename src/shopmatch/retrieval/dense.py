"""Dense retrieval with a two-tower bi-encoder: products and queries embedded into one space,
nearest products found in a vector index.

A dense retriever directory holds ``vectors/`` (the vector index) and, for ONNX backends,
``encoder/`` (the exported model, so loading never exports again).

Example:
    >>> from shopmatch.catalog import Product
    >>> products = [Product("1", "Leather sofa"), Product("2", "Garden hose")]
    >>> dense = DenseRetriever.build(products, DenseConfig())        # doctest: +SKIP
    >>> dense.search_texts(["couch"], k=1).rows.tolist()              # doctest: +SKIP
    [[0]]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.catalog import Product
from shopmatch.encoders.config import EncoderConfig
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.encoders.sentence_encoder import SentenceEncoder
from shopmatch.errors import ConfigError
from shopmatch.index.base import VectorIndex, VectorIndexConfig
from shopmatch.index.factory import build_vector_index, load_vector_index, save_vector_index
from shopmatch.retrieval.vectors import VectorRetriever
from shopmatch.settings import ConfigSection, setting

if TYPE_CHECKING:
    from shopmatch.config import PipelineConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenseConfig(ConfigSection):
    """The bi-encoder (``[dense]``, its settings written in the section itself), the product text
    it reads (``[dense.text]``) and the vector index (``[dense.index]``).

    Attributes:
        max_unknown: a query whose share of tokens unknown to the model's vocabulary is above this
            (Chinese for the bundled English model) gets no dense results rather than noise.
    """

    SECTION = "dense"

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    text: ProductTextTemplate = field(default_factory=ProductTextTemplate)
    index: VectorIndexConfig = field(default_factory=VectorIndexConfig)
    max_unknown: float = setting(0.5, minimum=0.0, maximum=1.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.encoder.to_dict(),
            "max_unknown": self.max_unknown,
            "text": self.text.to_dict(),
            "index": self.index.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DenseConfig:
        data = dict(data)
        known = {f.name for f in fields(EncoderConfig)} | {"max_unknown", "text", "index"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown dense setting(s) {sorted(unknown)}; known: {sorted(known)}")
        max_unknown = data.pop("max_unknown", 0.5)
        text = data.pop("text", {})
        index = data.pop("index", {})
        if not isinstance(text, Mapping) or not isinstance(index, Mapping):
            raise ConfigError("[dense.text] and [dense.index] must be tables")
        return cls(
            EncoderConfig.from_dict(data),
            ProductTextTemplate.from_dict(text),
            VectorIndexConfig.from_dict(index),
            max_unknown,
        )


class DenseRetriever(VectorRetriever):
    """Bi-encoder + vector index over a catalog; ids in the index are catalog rows."""

    name = "dense"
    feedback = True

    def __init__(self, config: DenseConfig, encoder: SentenceEncoder, index: VectorIndex) -> None:
        self.config = config
        self.encoder = encoder
        self.index = index

    @classmethod
    def describe(cls, config: PipelineConfig) -> str:
        return f"dense {config.dense.encoder.model} ({config.dense.encoder.backend})"

    @classmethod
    def build(
        cls,
        products: Sequence[Product],
        config: PipelineConfig | DenseConfig,
        *,
        backend: str = "numpy",
        encoder: SentenceEncoder | None = None,
    ) -> DenseRetriever:
        """Encode every product and index the vectors (rows 0..n-1); ``config`` is a pipeline
        config or its ``[dense]`` section alone."""
        config = _section(config)
        encoder = encoder or SentenceEncoder.from_config(config.encoder)
        started = time.perf_counter()
        vectors = encoder.encode_documents(cls.product_texts(products, config.text))
        encoded = time.perf_counter()
        index = build_vector_index(np.arange(len(products)), vectors, config.index)
        logger.info(
            "dense: encoded %d products in %.1f s (%.0f/s), %s index built in %.1f s",
            len(products),
            encoded - started,
            len(products) / max(encoded - started, 1e-9),
            index.kind,
            time.perf_counter() - encoded,
        )
        return cls(config, encoder, index)

    @staticmethod
    def product_texts(products: Sequence[Product], template: ProductTextTemplate) -> list[str]:
        return [template.render(p) for p in products]

    @property
    def index_config(self) -> VectorIndexConfig:
        return self.config.index

    def with_index(self, index: VectorIndex) -> DenseRetriever:
        return DenseRetriever(self.config, self.encoder, index)

    def query_vectors(self, queries: Sequence[str]) -> list[np.ndarray | None]:
        """Each query's unit vector; ``None`` for a query the model cannot read (more than
        ``max_unknown`` of its tokens unknown to its vocabulary, e.g. Chinese for the bundled
        English model): it gets no results rather than noise.

        Queries are encoded one at a time: int8 ONNX models quantize activations with one scale
        per batch, so a query's vector would otherwise depend on the other queries of its batch.
        """
        queries = list(queries)
        unreadable = self.encoder.unknown_share(queries) > self.config.max_unknown
        out: list[np.ndarray | None] = []
        for query, skip in zip(queries, unreadable, strict=True):
            out.append(None if skip else self.encoder.encode_queries([query])[0].astype(np.float32))
        return out

    scores_pairs = True
    model_name = "bi-encoder"

    def pair_scores(self, pairs: Sequence[tuple[str, Mapping[str, Any]]]) -> np.ndarray:
        """Cosine similarity of each (query, product record) pair (explanations)."""
        queries = self.encoder.encode_queries([q or " " for q, _ in pairs])
        texts = [self.config.text.render(Product.from_dict(record)) for _, record in pairs]
        return (queries * self.encoder.encode_documents(texts)).sum(axis=1)

    def document_vectors(self, products: Sequence[Product]) -> np.ndarray:
        return self.encoder.encode_documents(self.product_texts(products, self.config.text)).astype(np.float32)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        save_vector_index(self.index, directory / "vectors")
        if self.encoder.backend != "torch":
            self.encoder.save_onnx(directory / "encoder")

    @classmethod
    def load(
        cls, directory: str | Path, config: PipelineConfig | DenseConfig, *, mmap: bool = True, backend: str = "numpy"
    ) -> DenseRetriever:
        """Load a saved dense retriever; the encoder comes from ``encoder/`` (ONNX) or ``config``."""
        config = _section(config)
        directory = Path(directory)
        if config.encoder.backend == "torch":
            encoder = SentenceEncoder.from_config(config.encoder)
        else:
            if not (directory / "encoder").is_dir():
                raise ValueError(f"{directory}: the exported encoder (encoder/) is missing")
            encoder = SentenceEncoder.from_config(config.encoder, onnx_dir=directory / "encoder")
        index = load_vector_index(directory / "vectors", mmap=mmap, ef_search=config.index.ef_search)
        if index.dim != encoder.dim:
            raise ValueError(f"{directory}: vectors have {index.dim} dimensions, the encoder {encoder.dim}")
        return cls(config, encoder, index)


def _section(config: PipelineConfig | DenseConfig) -> DenseConfig:
    return config if isinstance(config, DenseConfig) else config.dense
