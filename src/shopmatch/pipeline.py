"""SearchPipeline: a catalog, its retrievers, and the index directory they live in.

Example:
    >>> from shopmatch.catalog import Product
    >>> pipe = SearchPipeline.build([Product("1", "USB-C cable"), Product("2", "HDMI cable")])
    >>> [r.product_id for r in pipe.search("usb c", k=5)[0]]
    ['1']

An index directory holds ``manifest.json`` (kind ``shopmatch-index``, format version, config),
``products.jsonl`` + ``offsets.npy`` + ``ids.txt`` (the catalog copy) and ``lexical/`` (the
BM25F score matrix as ``.npy`` files and its vocabulary).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import IndexFormatError
from shopmatch.product_store import DiskProducts, MemoryProducts
from shopmatch.retrieval.lexical import LexicalRetriever
from shopmatch.store import atomic_directory, read_manifest, write_manifest

logger = logging.getLogger(__name__)

INDEX_KIND = "shopmatch-index"
INDEX_FORMAT_VERSION = 1


@dataclass
class SearchResult:
    """One ranked product: its id, score, 1-based rank and the product record."""

    product_id: str
    score: float
    rank: int
    product: dict[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "product_id": self.product_id,
            "score": round(self.score, 6),
            "product": self.product,
        }


class SearchPipeline:
    """The search stages over one catalog; build it, save it, load it, search it."""

    def __init__(
        self, config: PipelineConfig, products: MemoryProducts | DiskProducts, lexical: LexicalRetriever
    ) -> None:
        self.config = config
        self.products = products
        self.lexical = lexical

    def __len__(self) -> int:
        return len(self.products)

    @classmethod
    def build(
        cls, products: Sequence[Product], config: PipelineConfig | None = None, *, backend: str = "numpy"
    ) -> SearchPipeline:
        """Index ``products`` in memory with ``config`` (defaults need no configuration)."""
        config = config or PipelineConfig()
        lexical = LexicalRetriever.build(products, config.lexical, backend=backend)
        return cls(config, MemoryProducts(products), lexical)

    def save(self, directory: str | Path) -> Path:
        """Write the index directory atomically (a temporary sibling renamed into place)."""
        directory = Path(directory)
        if not isinstance(self.products, MemoryProducts):
            raise ValueError("this pipeline was loaded from disk; build it again to save a copy")
        with atomic_directory(directory) as tmp:
            self.products.save(tmp)
            self.lexical.save(tmp / "lexical")
            write_manifest(
                tmp,
                kind=INDEX_KIND,
                format_version=INDEX_FORMAT_VERSION,
                config=self.config.to_dict(),
                products=len(self.products),
            )
        logger.info("wrote index %s (%d products)", directory, len(self.products))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, backend: str = "numpy", mmap: bool = True) -> SearchPipeline:
        """Load an index directory (arrays memory-mapped).

        Args:
            backend: ``"numpy"`` answers at once; ``"numba"`` compiles bm25s' kernels while
                loading (seconds) and is faster per query on large catalogs.

        Raises:
            IndexFormatError: not an index, damaged, or written in a newer format.
        """
        directory = Path(directory)
        manifest = read_manifest(directory, kind=INDEX_KIND, supported_version=INDEX_FORMAT_VERSION)
        try:
            config = PipelineConfig.from_dict(manifest["config"])
            lexical = LexicalRetriever.load(directory / "lexical", mmap=mmap, backend=backend)
            products = DiskProducts(directory)
        except (OSError, ValueError, KeyError) as err:
            raise IndexFormatError(f"{directory}: damaged index ({type(err).__name__}: {err}); rebuild it") from None
        if len(products) != lexical.num_docs:
            raise IndexFormatError(
                f"{directory}: damaged index ({len(products)} products but {lexical.num_docs} in lexical/); rebuild it"
            )
        return cls(config, products, lexical)

    def search(self, queries: str | Sequence[str], k: int = 10) -> list[list[SearchResult]]:
        """Ranked results for each query (a single string is a batch of one)."""
        if isinstance(queries, str):
            queries = [queries]
        hits = self.lexical.search(list(queries), k=k)
        return [self._results(hits.query(i)) for i in range(len(hits))]

    def _results(self, pairs: list[tuple[int, float]]) -> list[SearchResult]:
        return [
            SearchResult(self.products.id_of(row), score, rank, self.products.record(row))
            for rank, (row, score) in enumerate(pairs, start=1)
        ]

    def search_ids(self, queries: Sequence[str], k: int = 100) -> list[list[tuple[str, float]]]:
        """(product_id, score) per query, without loading product records (for evaluation)."""
        hits = self.lexical.search(list(queries), k=k)
        return [[(self.products.id_of(r), s) for r, s in hits.query(i)] for i in range(len(hits))]

    def score_candidates(self, query: str, product_ids: Sequence[str]) -> np.ndarray:
        """Scores of the given products for ``query`` (rerank mode); unknown ids score -inf.

        Products the query does not match score 0.
        """
        rows = [self.products.row_of(pid) for pid in product_ids]
        known = [r for r in rows if r is not None]
        out = np.full(len(product_ids), -np.inf, dtype=np.float64)
        if not known:
            return out
        mask = np.zeros(self.lexical.num_docs, dtype=np.float32)
        mask[known] = 1.0
        hits = self.lexical.search([query], k=len(known), weight_mask=mask)
        score_of = dict(hits.query(0))
        for i, row in enumerate(rows):
            if row is not None:
                out[i] = score_of.get(row, 0.0)
        return out
