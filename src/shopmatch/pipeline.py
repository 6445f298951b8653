"""SearchPipeline: the Python API of an index — build it, save it, load it, search it.

It holds a :class:`~shopmatch.backends.inprocess.static.StaticIndex` (the catalog, the
retrievers, the re-ranker) or, for an index directory that points into Milvus, a
:class:`~shopmatch.backends.milvus.index.MilvusIndex`, and searches it through
:mod:`shopmatch.search`, the same searcher the CLI and the HTTP service use.

Example:
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.config import PipelineConfig
    >>> lexical_only = PipelineConfig(retrievers=("lexical",))
    >>> pipe = SearchPipeline.build([Product("1", "USB-C cable"), Product("2", "HDMI cable")], lexical_only)
    >>> [r.product_id for r in pipe.search("usb c", k=5)[0]]
    ['1']

See :mod:`shopmatch.backends.inprocess.static` for what an index directory holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.backends.inprocess.products import DiskProducts, MemoryProducts
from shopmatch.backends.inprocess.snapshot import Snapshot
from shopmatch.backends.inprocess.static import INDEX_FORMAT_VERSION, INDEX_KIND, StaticIndex
from shopmatch.backends.kinds import MILVUS_INDEX_KIND, index_kind
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import ShopmatchError
from shopmatch.explain import explain_product
from shopmatch.query.query import Query
from shopmatch.query.suggest import Suggestion, matching_products
from shopmatch.rank.model import Ranker
from shopmatch.rerank.cross_encoder import CrossEncoderReranker
from shopmatch.retrieval.base import Retriever
from shopmatch.search import SearchPage, SearchResult, score_candidates, search

if TYPE_CHECKING:
    from shopmatch.backends.milvus.index import MilvusIndex

__all__ = ["INDEX_FORMAT_VERSION", "INDEX_KIND", "SearchPipeline", "SearchResult"]


class SearchPipeline:
    """The search stages over one catalog (see the module docstring)."""

    def __init__(
        self,
        config: PipelineConfig,
        products: MemoryProducts | DiskProducts,
        retrievers: dict[str, Retriever],
        reranker: CrossEncoderReranker | None = None,
    ) -> None:
        self.index = StaticIndex(config, products, retrievers, reranker)

    @classmethod
    def of(cls, index: StaticIndex | MilvusIndex) -> SearchPipeline:
        pipeline = cls.__new__(cls)
        pipeline.index = index
        return pipeline

    @property
    def config(self) -> PipelineConfig:
        return self.index.config

    @property
    def products(self) -> MemoryProducts | DiskProducts:
        """The catalog copy of an in-process index (a Milvus index holds its products in Milvus)."""
        if not isinstance(self.index, StaticIndex):
            raise ShopmatchError("a Milvus index keeps its products in Milvus: use missing() or search")
        return self.index.products

    @property
    def retrievers(self) -> dict[str, Retriever]:
        return self.index.retrievers

    @property
    def reranker(self) -> CrossEncoderReranker | None:
        return self.index.reranker

    def __len__(self) -> int:
        return len(self.index)

    @property
    def snapshot(self) -> IndexSnapshot:
        """The index as the searcher reads it (in-process: nothing deleted, no delta)."""
        if isinstance(self.index, StaticIndex):
            return self._static_snapshot
        return self.index.snapshot()

    @cached_property
    def _static_snapshot(self) -> Snapshot:
        return Snapshot.of(self.index)

    def missing(self, product_ids: Sequence[str]) -> list[str]:
        """Which of these products the index does not hold."""
        rows = self.snapshot.rows_of(product_ids)
        return [pid for pid, row in zip(product_ids, rows, strict=True) if row is None]

    def with_config(self, **settings: Any) -> SearchPipeline:
        """The same index searched with other query-time settings, e.g. ``feedback=FeedbackConfig(...)``
        or ``retrievers=("lexical",)`` (what needs no re-indexing: fusion, negation, feedback,
        candidates, a subset of the retrievers)."""
        return SearchPipeline.of(self.index.with_config(replace(self.config, **settings)))

    def with_ranker(self, directory: str | Path | None) -> SearchPipeline:
        """The same index with the learned ranker in ``directory`` (None: this pipeline); nothing is
        indexed again.

        Raises:
            RankerError: the directory is not a readable ranker (the message names the file).
        """
        if directory is None:
            return self
        return self.with_config(ranker=replace(self.config.ranker, model=str(directory)))

    @property
    def ranker(self) -> Ranker | None:
        """The learned ranker (``[ranker] model``), if any."""
        return self.index.ranker

    @classmethod
    def build(
        cls, products: Sequence[Product], config: PipelineConfig | None = None, *, backend: str = "numpy"
    ) -> SearchPipeline:
        """Index ``products`` in memory with ``config`` (defaults need no configuration)."""
        return cls.of(StaticIndex.build(products, config, backend=backend))

    def save(self, directory: str | Path, **manifest_extra: Any) -> Path:
        """Write the index directory atomically; ``manifest_extra`` entries are added to its manifest."""
        if not isinstance(self.index, StaticIndex):
            raise ShopmatchError("a Milvus index is saved in Milvus as it is written")
        return self.index.save(directory, **manifest_extra)

    @classmethod
    def load(cls, directory: str | Path, *, backend: str = "numpy", mmap: bool = True) -> SearchPipeline:
        """Load an index directory (arrays memory-mapped; see :meth:`StaticIndex.load`), or open
        the Milvus index it points to."""
        if index_kind(directory) == MILVUS_INDEX_KIND:
            from shopmatch.backends.milvus.index import MilvusIndex

            return cls.of(MilvusIndex.open(directory))
        return cls.of(StaticIndex.load(directory, backend=backend, mmap=mmap))

    def search_pages(self, queries: Sequence[Query | str]) -> list[SearchPage]:
        """One :class:`SearchPage` per query (results, total, facets, what the search did)."""
        return search(self.snapshot, queries)

    def search(self, queries: str | Query | Sequence[str | Query], k: int = 10) -> list[list[SearchResult]]:
        """Ranked results for each query (a single query is a batch of one); ``k`` applies to
        queries given as text."""
        if isinstance(queries, (str, Query)):
            queries = [queries]
        pages = self.search_pages([Query(q, k=k) if isinstance(q, str) else q for q in queries])
        return [page.results for page in pages]

    def search_ids(self, queries: Sequence[str], k: int = 100) -> list[list[tuple[str, float]]]:
        """(product_id, score) per query (for evaluation)."""
        return [[(r.product_id, r.score) for r in results] for results in self.search(list(queries), k)]

    def score_candidates(self, query: str | Query, product_ids: Sequence[str]) -> np.ndarray:
        """Scores of the given products for ``query`` (rerank mode); see :func:`shopmatch.search.score_candidates`."""
        return score_candidates(self.snapshot, query, product_ids)

    def suggest(self, prefix: str, limit: int = 10, *, clicked: Mapping[str, int] | None = None) -> list[Suggestion]:
        """Completions of ``prefix`` from the index's suggestions, as ``GET /suggest`` answers them
        (``clicked``: query → clicks, e.g. :func:`~shopmatch.query.suggest.clicked_queries` of an
        events log).

        Raises:
            ShopmatchError: the index has no suggestions (built before them, or in Milvus).
        """
        suggester = getattr(self.index, "suggester", None)
        if suggester is None:
            raise ShopmatchError("this index has no suggestions (built before them, or kept in Milvus); rebuild it")
        if clicked:
            lexical = self.retrievers.get("lexical")
            count = (lambda text: matching_products(lexical, text)) if lexical is not None else None
            suggester = suggester.with_queries(clicked, count)
        return suggester.suggest(prefix, limit)

    def explain(self, query: str, product_id: str, *, spelling: bool = True) -> dict[str, Any] | None:
        """Why ``product_id`` matches ``query`` (None: no such product)."""
        return explain_product(self.snapshot, query, product_id, spelling=spelling)
