"""SearchPipeline: a catalog, its retrievers, their fusion, and the index directory they live in.

Example:
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.config import PipelineConfig
    >>> lexical_only = PipelineConfig(retrievers=("lexical",))
    >>> pipe = SearchPipeline.build([Product("1", "USB-C cable"), Product("2", "HDMI cable")], lexical_only)
    >>> [r.product_id for r in pipe.search("usb c", k=5)[0]]
    ['1']

An index directory holds ``manifest.json`` (kind ``shopmatch-index``, format version, the
pipeline config), ``products.jsonl`` + ``offsets.npy`` + ``ids.txt`` (the catalog copy) and
one folder per retriever: ``lexical/`` (BM25F score matrix), ``dense/`` (vector index and the
exported ONNX encoder), ``word_vectors/``, and ``rerank/`` (the cross-encoder) when the
pipeline re-ranks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.baselines.word_vectors import WordVectorRetriever
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import IndexFormatError
from shopmatch.product_store import DiskProducts, MemoryProducts
from shopmatch.query.exclusion import demote_excluded, excluded_rows, first_not_excluded
from shopmatch.query.feedback import expanded_vectors
from shopmatch.query.negation import parse_exclusions
from shopmatch.rerank.blend import blended_scores, ranks_of
from shopmatch.rerank.cross_encoder import CrossEncoderReranker
from shopmatch.rerank.stage import rerank_hits
from shopmatch.retrieval.base import SearchHits
from shopmatch.retrieval.dense import DenseRetriever
from shopmatch.retrieval.fusion import FusedHits, fuse, single_source, truncated
from shopmatch.retrieval.lexical import LexicalRetriever
from shopmatch.store import atomic_directory, read_manifest, write_manifest

logger = logging.getLogger(__name__)

INDEX_KIND = "shopmatch-index"
INDEX_FORMAT_VERSION = 3  # 1: lexical only; 2: several retrievers + fusion; 3: + re-ranker


@dataclass
class SearchResult:
    """One ranked product: its id, score, 1-based rank, the product record, and where it stood
    in each retriever (``sources``: name → ``{"rank", "score"}``, rank/score None if not returned).

    With a re-ranker, ``score`` is its relevance probability for the top ``rerank.top_n`` results
    (the fused score beyond them), and ``sources`` also holds ``fusion`` (the place before
    re-ranking) and ``rerank``."""

    product_id: str
    score: float
    rank: int
    product: dict[str, Any] = field(repr=False)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "product_id": self.product_id,
            "score": round(self.score, 6),
            "retrievers": self.sources,
            "product": self.product,
        }


class SearchPipeline:
    """The search stages over one catalog; build it, save it, load it, search it."""

    def __init__(
        self,
        config: PipelineConfig,
        products: MemoryProducts | DiskProducts,
        retrievers: dict[str, LexicalRetriever | DenseRetriever | WordVectorRetriever],
        reranker: CrossEncoderReranker | None = None,
    ) -> None:
        self.config = config
        self.products = products
        self.retrievers = retrievers
        self.reranker = reranker

    def __len__(self) -> int:
        return len(self.products)

    @property
    def lexical(self) -> LexicalRetriever | None:
        return self.retrievers.get("lexical")  # type: ignore[return-value]

    @property
    def dense(self) -> DenseRetriever | None:
        return self.retrievers.get("dense")  # type: ignore[return-value]

    @classmethod
    def build(
        cls, products: Sequence[Product], config: PipelineConfig | None = None, *, backend: str = "numpy"
    ) -> SearchPipeline:
        """Index ``products`` in memory with ``config`` (defaults need no configuration)."""
        config = config or PipelineConfig()
        retrievers: dict[str, Any] = {}
        for name in config.retrievers:
            started = time.perf_counter()
            if name == "lexical":
                retrievers[name] = LexicalRetriever.build(products, config.lexical, backend=backend)
            elif name == "dense":
                retrievers[name] = DenseRetriever.build(products, config.dense)
            else:
                retrievers[name] = WordVectorRetriever.build(
                    products, config.word_vectors, text=config.dense.text, index=config.dense.index
                )
            logger.info(
                "built %s retriever over %d products in %.1f s", name, len(products), time.perf_counter() - started
            )
        reranker = CrossEncoderReranker.from_config(config.rerank) if config.rerank.enabled else None
        return cls(config, MemoryProducts(products), retrievers, reranker)

    def save(self, directory: str | Path, **manifest_extra: Any) -> Path:
        """Write the index directory atomically (a temporary sibling renamed into place);
        ``manifest_extra`` entries are added to its ``manifest.json``."""
        directory = Path(directory)
        if not isinstance(self.products, MemoryProducts):
            raise ValueError("this pipeline was loaded from disk; build it again to save a copy")
        with atomic_directory(directory) as tmp:
            self.products.save(tmp)
            for name, retriever in self.retrievers.items():
                retriever.save(tmp / name)
            if self.reranker is not None:
                self.reranker.save(tmp / "rerank")
            write_manifest(
                tmp,
                kind=INDEX_KIND,
                format_version=INDEX_FORMAT_VERSION,
                config=self.config.to_dict(),
                products=len(self.products),
                **manifest_extra,
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
            if manifest["format_version"] == 1:
                config = replace(config, retrievers=("lexical",))
            retrievers: dict[str, Any] = {}
            for name in config.retrievers:
                if name == "lexical":
                    retrievers[name] = LexicalRetriever.load(directory / name, mmap=mmap, backend=backend)
                elif name == "dense":
                    retrievers[name] = DenseRetriever.load(directory / name, config.dense, mmap=mmap)
                else:
                    retrievers[name] = WordVectorRetriever.load(directory / name, mmap=mmap)
            reranker = None
            if config.rerank.enabled:
                reranker = CrossEncoderReranker.load(directory / "rerank", config.rerank)
            products = DiskProducts(directory)
        except (OSError, ValueError, KeyError) as err:
            raise IndexFormatError(f"{directory}: damaged index ({type(err).__name__}: {err}); rebuild it") from None
        for name, retriever in retrievers.items():
            size = retriever.num_docs if name == "lexical" else len(retriever.index)
            if size != len(products):
                raise IndexFormatError(
                    f"{directory}: damaged index ({len(products)} products but {size} in {name}/); rebuild it"
                )
        return cls(config, products, retrievers, reranker)

    def retrieve(self, queries: Sequence[str], k: int = 10) -> FusedHits:
        """Top ``k`` catalog rows per query: each retriever's candidates, fused (the bi-encoder's
        searched again with pseudo-relevance feedback, ``[feedback]``), then the top
        ``rerank.top_n`` re-ranked when the pipeline has a re-ranker, then the products that
        mention what a query excludes moved after the others (``[negation]``)."""
        queries = list(queries)
        depth = max(k, self.config.candidates)
        keep = max(k, self.config.rerank.top_n) if self.reranker is not None else k
        negation = self.config.negation
        if negation.enabled and any(parse_exclusions(q) for q in queries):
            keep = depth  # the products without the excluded thing may come from below the top k
        fused = self._first_stage(queries, depth, keep)
        if self.reranker is not None:
            fused = self._rerank(queries, fused, keep)
        return truncated(demote_excluded(fused, queries, self.products.record, negation), k)

    def _first_stage(self, queries: list[str], depth: int, keep: int) -> FusedHits:
        """Each retriever's top ``depth``, fused, ``keep`` per query; with feedback, the
        bi-encoder's list comes from a second search with the moved query vectors."""
        runs, vectors, unreadable = self._retriever_runs(queries, depth)
        feedback = self.config.feedback
        if vectors is not None and feedback.active:
            moved = self._moved_vectors(queries, vectors, self._fused(runs, max(keep, feedback.docs)))
            runs["dense"] = self.dense.search_vectors(moved, unreadable, k=depth)
        return self._fused(runs, keep)

    def _retriever_runs(self, queries: list[str], depth: int):
        """Each retriever's top ``depth``, and the bi-encoder's query vectors and unreadable
        queries (``None`` without one), so that feedback encodes nothing twice."""
        runs, vectors, unreadable = {}, None, None
        for name, retriever in self.retrievers.items():
            if name == "dense":
                vectors, unreadable = retriever.encode(queries)
                runs[name] = retriever.search_vectors(vectors, unreadable, k=depth)
            else:
                runs[name] = retriever.search(queries, k=depth)
        return runs, vectors, unreadable

    def _fused(self, runs: dict[str, SearchHits], keep: int) -> FusedHits:
        if len(runs) == 1:
            ((name, hits),) = runs.items()
            return single_source(hits, name, keep)
        return fuse(runs, keep, self.config.fusion)

    def _moved_vectors(self, queries: list[str], vectors: np.ndarray, first: FusedHits) -> np.ndarray:
        """The query vectors moved towards their top ``feedback.docs`` first-pass products (those
        that mention what the query excludes are not feedback)."""
        found, docs = [], self.config.feedback.docs
        for q, query in enumerate(queries):
            ranked = first.rows[q][first.rows[q] >= 0]
            rows = first_not_excluded(query, ranked, self.products.record, self.config.negation, docs)
            found.append(self.dense.index.vectors_of(np.asarray(rows, dtype=np.int64)))
        return expanded_vectors(vectors, found, self.config.feedback.weight)

    def _rerank(self, queries: list[str], fused: FusedHits, k: int) -> FusedHits:
        """Re-order each query's top ``rerank.top_n`` rows by the cross-encoder; keep ``k``."""
        assert self.reranker is not None
        return rerank_hits(self.reranker, queries, fused, k, self.products.record)

    def _query_vector(self, query: str) -> np.ndarray:
        """The bi-encoder's vector for ``query``: moved by feedback when it is on (rerank mode)."""
        if not self.config.feedback.active:
            return self.dense.encode([query])[0][0]
        depth = max(self.config.candidates, self.config.feedback.docs)
        runs, vectors, unreadable = self._retriever_runs([query], depth)
        if unreadable[0]:
            return vectors[0]
        first = self._fused(runs, depth)  # all of them: the demoted ones must not be the feedback
        return self._moved_vectors([query], vectors, first)[0]

    def search(self, queries: str | Sequence[str], k: int = 10) -> list[list[SearchResult]]:
        """Ranked results for each query (a single string is a batch of one)."""
        if isinstance(queries, str):
            queries = [queries]
        hits = self.retrieve(queries, k)
        return [self._results(hits, i) for i in range(len(hits))]

    def _results(self, hits: FusedHits, q: int) -> list[SearchResult]:
        out = []
        for i, (row, score) in enumerate(hits.query(q)):
            out.append(
                SearchResult(self.products.id_of(row), score, i + 1, self.products.record(row), hits.places(q, i))
            )
        return out

    def search_ids(self, queries: Sequence[str], k: int = 100) -> list[list[tuple[str, float]]]:
        """(product_id, score) per query, without loading product records (for evaluation)."""
        hits = self.retrieve(queries, k)
        return [[(self.products.id_of(r), s) for r, s in hits.query(i)] for i in range(len(hits))]

    def score_candidates(self, query: str, product_ids: Sequence[str]) -> np.ndarray:
        """Scores of the given products for ``query`` (rerank mode); unknown ids score -inf.

        Each retriever ranks the candidates; with several retrievers the candidate rankings are
        fused as in search. Products the lexical retriever does not match count as not returned
        by it (score 0 when it is the only retriever). With a re-ranker, its probabilities
        (blended with that fused order when ``rerank.fusion_weight`` is set). Products that mention
        what the query excludes (``[negation]``) score below all the others.
        """
        rows = [self.products.row_of(pid) for pid in product_ids]
        known = [r for r in rows if r is not None]
        out = np.full(len(product_ids), -np.inf, dtype=np.float64)
        if not known:
            return out
        if self.reranker is not None:
            texts = [self.reranker.text_of(self.products.record(row)) for row in known]
            final = self.reranker.score(query, texts).astype(np.float64)
            weight = self.config.rerank.fusion_weight
            if weight:
                first_stage = self._first_stage_scores(query, known)
                final = blended_scores(final, weight, ranks_of(first_stage))
        else:
            final = self._first_stage_scores(query, known)
        excluded = excluded_rows(query, known, self.products.record, self.config.negation)
        if excluded.any():  # below every product that does not mention the excluded thing
            final = np.where(excluded, final - (final.max() - final.min() + 1.0), final)
        out[[i for i, row in enumerate(rows) if row is not None]] = final
        return out

    def _first_stage_scores(self, query: str, known: list[int]) -> np.ndarray:
        """Fused retriever scores of catalog rows ``known`` (0 for a row no retriever returns);
        with feedback, the bi-encoder scores them with the query vector ``search`` would use."""
        runs = {}
        for name, retriever in self.retrievers.items():
            if name == "dense":
                scores = retriever.score_rows(query, known, self._query_vector(query))
            else:
                scores = retriever.score_rows(query, known)
            keep = scores > 0 if name == "lexical" else np.ones(len(known), dtype=bool)
            order = np.argsort(-scores[keep], kind="stable")
            kept_rows = np.asarray(known, dtype=np.int64)[keep][order]
            runs[name] = SearchHits(scores[keep][order][None, :].astype(np.float32), kept_rows[None, :])
        if len(runs) == 1:
            fused = next(iter(runs.values()))
        else:
            fused = fuse(runs, len(known), self.config.fusion)
        score_of = dict(fused.query(0))
        return np.array([score_of.get(row, 0.0) for row in known], dtype=np.float64)
