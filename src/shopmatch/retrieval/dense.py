"""Dense retrieval with a two-tower bi-encoder: products and queries embedded into one space,
nearest products found in a vector index.

A dense retriever directory holds ``vectors/`` (the vector index) and, for ONNX backends,
``encoder/`` (the exported model, so loading never exports again).

Example:
    >>> from shopmatch.catalog import Product
    >>> products = [Product("1", "Leather sofa"), Product("2", "Garden hose")]
    >>> dense = DenseRetriever.build(products, DenseConfig())        # doctest: +SKIP
    >>> dense.search(["couch"], k=1).rows.tolist()                    # doctest: +SKIP
    [[0]]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.catalog import Product
from shopmatch.encoders.config import EncoderConfig
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.encoders.sentence_encoder import SentenceEncoder
from shopmatch.errors import ConfigError
from shopmatch.index.base import VectorIndex, VectorIndexConfig
from shopmatch.index.factory import build_vector_index, load_vector_index, save_vector_index
from shopmatch.retrieval.base import SearchHits

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenseConfig:
    """The bi-encoder (``[dense]``), the product text it reads (``[dense.text]``) and the
    vector index (``[dense.index]``)."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    text: ProductTextTemplate = field(default_factory=ProductTextTemplate)
    index: VectorIndexConfig = field(default_factory=VectorIndexConfig)
    max_unknown: float = 0.5

    def __post_init__(self) -> None:
        value = self.max_unknown
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"dense.max_unknown must be a number in [0, 1], got {value!r}")

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


class DenseRetriever:
    """Bi-encoder + vector index over a catalog; ids in the index are catalog rows."""

    def __init__(self, config: DenseConfig, encoder: SentenceEncoder, index: VectorIndex) -> None:
        self.config = config
        self.encoder = encoder
        self.index = index

    @classmethod
    def build(cls, products: Sequence[Product], config: DenseConfig, *, encoder: SentenceEncoder | None = None):
        """Encode every product and index the vectors (rows 0..n-1)."""
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

    def search(self, queries: Sequence[str], k: int = 10) -> SearchHits:
        """Top ``k`` catalog rows per query by cosine similarity.

        Queries the model cannot read (more than ``max_unknown`` of their tokens unknown to its
        vocabulary, e.g. Chinese for the bundled English model) get no results rather than noise.
        """
        return self.search_vectors(*self.encode(queries), k=k)

    def encode(self, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The queries' unit vectors, and which of them the model cannot read (see ``search``)."""
        queries = list(queries)
        return self.encoder.encode_queries(queries), self.encoder.unknown_share(queries) > self.config.max_unknown

    def search_vectors(self, vectors: np.ndarray, unreadable: np.ndarray, k: int = 10) -> SearchHits:
        """Top ``k`` catalog rows per query vector; the unreadable queries get none."""
        hits = self.index.search(vectors, k)
        if unreadable.any():
            hits.rows[unreadable] = -1
            hits.scores[unreadable] = 0.0
        return hits

    def score_rows(self, query: str, rows: Sequence[int], vector: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of ``query`` (or its given ``vector``) to catalog rows (rerank mode)."""
        vectors = self.index.vectors_of(np.asarray(rows, dtype=np.int64))
        return vectors @ (self.encoder.encode_queries([query])[0] if vector is None else vector)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        save_vector_index(self.index, directory / "vectors")
        if self.encoder.backend != "torch":
            self.encoder.save_onnx(directory / "encoder")

    @classmethod
    def load(cls, directory: str | Path, config: DenseConfig, *, mmap: bool = True) -> DenseRetriever:
        """Load a saved dense retriever; the encoder comes from ``encoder/`` (ONNX) or ``config``."""
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
