"""An index directory: the catalog copy, one folder per retriever, the re-ranker, the manifest.

This is the immutable base segment of the in-process backend. It is built from products,
written atomically (a temporary sibling renamed into place) and loaded memory-mapped.

An index directory holds ``manifest.json`` (kind ``shopmatch-index``, format version, the
pipeline config), ``products.jsonl`` + ``offsets.npy`` + ``ids.txt`` (the catalog copy), one
folder per retriever named as in ``[pipeline] retrievers`` (``lexical/`` holds the BM25F score
matrix, ``dense/`` the vector index and the exported ONNX encoder, ``word_vectors/``),
``rerank/`` (the cross-encoder) when the pipeline re-ranks, ``spelling/`` (the catalog's word
counts for spelling correction, :mod:`shopmatch.query.spelling`), ``pinyin/`` (the pinyin index, for
catalogs with Chinese titles) and ``suggest/`` (the completions of ``/suggest``). An index written
before ``spelling/`` existed loads and searches without correction until it is indexed again (or
:meth:`StaticIndex.with_spelling` adds a model built from its products); one saved before
``pinyin/`` and ``suggest/`` existed loads without them. ``intent/`` holds the category-intent model
(:mod:`shopmatch.query.intent`) when the catalog has categories and the pipeline a bi-encoder;
an index written before it trains one on first use.

Example:
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.config import PipelineConfig
    >>> index = StaticIndex.build([Product("1", "USB-C cable")], PipelineConfig(retrievers=("lexical",)))
    >>> len(index), list(index.retrievers)
    (1, ['lexical'])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.backends.inprocess.products import DiskProducts, MemoryProducts
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError, IndexFormatError
from shopmatch.filters import FilterColumns
from shopmatch.query.intent import IntentModel
from shopmatch.query.pinyin import PinyinIndex
from shopmatch.query.spelling import Speller, SpellingModel
from shopmatch.query.suggest import Suggester
from shopmatch.rank.feature_groups import check_groups
from shopmatch.rank.model import Ranker, configured_ranker
from shopmatch.rank.product_table import ProductTable, TableCache, build_table
from shopmatch.rerank.cross_encoder import CrossEncoderReranker
from shopmatch.retrieval.base import Retriever
from shopmatch.retrieval.registry import retriever_class
from shopmatch.store import atomic_directory, read_manifest, write_manifest
from shopmatch.text.chinese import segmenter

logger = logging.getLogger(__name__)

INDEX_KIND = "shopmatch-index"
INDEX_FORMAT_VERSION = 3  # 1: lexical only; 2: several retrievers + fusion; 3: + re-ranker


def read_index_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of an index directory this version can read.

    Raises:
        IndexFormatError: not an index, damaged, or written in a newer format.
    """
    return read_manifest(directory, kind=INDEX_KIND, supported_version=INDEX_FORMAT_VERSION)


class StaticIndex:
    """The products, retrievers and re-ranker of one index directory (or of one being built)."""

    def __init__(
        self,
        config: PipelineConfig,
        products: MemoryProducts | DiskProducts,
        retrievers: dict[str, Retriever],
        reranker: CrossEncoderReranker | None = None,
        spelling: SpellingModel | None = None,
        *,
        pinyin: PinyinIndex | None = None,
        suggester: Suggester | None = None,
        intent: IntentModel | _Lazy | None = None,
        tables: TableCache | None = None,
    ) -> None:
        self.config = config
        self.products = products
        self.retrievers = retrievers
        self.reranker = reranker
        self.spelling = spelling
        self.pinyin = pinyin  # the catalog's pinyin → Chinese terms (None: no Chinese)
        self.suggester = suggester  # the completions of /suggest (None: an index saved before them)
        self.ranker: Ranker | None = configured_ranker(config.ranker.model)  # beside the index, not in it
        # the category-intent model; None: trained on first use (an index written before intent
        # models, or compacted), and then shared with with_config's copies
        self._intent = intent if isinstance(intent, _Lazy) else _Lazy(intent, trained=intent is not None)
        self._tables = tables or TableCache()  # the ranker's product table, shared with with_config's copies
        check_groups(self.ranker, self, config.ranker.model)  # e.g. intent features need an intent model

    @property
    def intent(self) -> IntentModel | None:
        """The category-intent model searched with (None: off, no categories, or no bi-encoder)."""
        if not self.config.intent.enabled or "dense" not in self.retrievers:
            return None
        if not self._intent.trained:
            self._intent.model = self._trained_intent()
            self._intent.trained = True
        model = self._intent.model
        return None if model is None else model.with_config(self.config.intent)

    def _trained_intent(self, queries: tuple[np.ndarray, np.ndarray] | None = None) -> IntentModel | None:
        categories = [self.products.record(row).get("category") for row in range(len(self.products))]
        if not any(categories):
            return None
        vectors = self.retrievers["dense"].vectors_of(np.arange(len(self.products)))
        return IntentModel.train(categories, vectors, self.config.intent, queries=queries)

    def with_clicked_queries(self, pairs: Sequence[tuple[str, str]]) -> StaticIndex:
        """This index with its category-intent model trained again with shoppers' queries: each
        ``(query text, product id)`` pair — a click, a purchase, a judged match — adds the query's
        bi-encoder vector to the centroids of the product's categories (:meth:`IntentModel.train`).
        Pairs whose product is not in the index, or whose query the encoder cannot read, are left
        out; an index without an intent model (no categories, no bi-encoder, or off) comes back as it is."""
        if self.intent is None or not pairs:
            return self
        rows = [self.products.row_of(product_id) for _, product_id in pairs]
        kept = [(text, row) for (text, _), row in zip(pairs, rows, strict=True) if row is not None]
        vectors = self.retrievers["dense"].prepare([text for text, _ in kept])
        readable = [(vector, row) for vector, (_, row) in zip(vectors, kept, strict=True) if vector is not None]
        if not readable:
            return self
        queries = (np.stack([v for v, _ in readable]), np.array([r for _, r in readable], dtype=np.int64))
        model = self._trained_intent(queries)
        return StaticIndex(
            self.config,
            self.products,
            self.retrievers,
            self.reranker,
            self.spelling,
            pinyin=self.pinyin,
            suggester=self.suggester,
            intent=model,
            tables=self._tables,
        )

    def __len__(self) -> int:
        return len(self.products)

    def ranker_table(self) -> ProductTable:
        """The ranker's per-product arrays (:mod:`shopmatch.rank.product_table`), built on first use
        (seconds for a large catalog) and kept."""
        lexical = self.retrievers.get("lexical")
        analyzer = lexical.analyzer if lexical is not None else None
        return self._tables.get(lexical, lambda: build_table(len(self), self.products.record, analyzer))

    @property
    def ranker_table_built(self) -> bool:
        """Whether :meth:`ranker_table` was built (a ranker has searched this index)."""
        return bool(self._tables)

    def with_config(self, config: PipelineConfig) -> StaticIndex:
        """This index searched with other query-time settings (fusion, feedback, negation,
        candidates, or a subset of its retrievers); nothing is indexed again."""
        missing = [name for name in config.retrievers if name not in self.retrievers]
        if missing:
            raise ConfigError(f"the index has no {', '.join(missing)} retriever; it has {', '.join(self.retrievers)}")
        retrievers = {name: self.retrievers[name] for name in config.retrievers}
        index = StaticIndex(
            config,
            self.products,
            retrievers,
            self.reranker,
            self.spelling,
            pinyin=self.pinyin,
            suggester=self.suggester,
            intent=self._intent,
            tables=self._tables,
        )
        if self.spelling is not None and config.spelling == self.config.spelling:
            index.__dict__["speller"] = self.speller  # the same settings: keep its lookup tables
        return index

    def with_spelling(self, model: SpellingModel | None = None) -> StaticIndex:
        """This index with a spelling model (None: one built from its products, seconds; nothing
        else is indexed again) — e.g. for an index written before ``spelling/`` existed."""
        if model is None:
            model = SpellingModel.build([Product.from_dict(self.products.record(r)) for r in range(len(self))])
        return StaticIndex(
            self.config,
            self.products,
            self.retrievers,
            self.reranker,
            model,
            pinyin=self.pinyin,
            suggester=self.suggester,
            intent=self._intent,
            tables=self._tables,
        )

    @cached_property
    def speller(self) -> Speller | None:
        """What corrects query spelling (None: ``[spelling] enabled = false`` or no model)."""
        if self.spelling is None or not self.config.spelling.enabled:
            return None
        return Speller(self.spelling, self.config.spelling)

    @cached_property
    def columns(self) -> FilterColumns:
        """The filterable fields of every product (read once, when a search first filters or counts facets)."""
        return FilterColumns([self.products.record(row) for row in range(len(self.products))])

    @classmethod
    def build(
        cls, products: Sequence[Product], config: PipelineConfig | None = None, *, backend: str = "numpy"
    ) -> StaticIndex:
        """Index ``products`` in memory with ``config`` (defaults need no configuration)."""
        config = config or PipelineConfig()
        retrievers: dict[str, Retriever] = {}
        for name in config.retrievers:
            started = time.perf_counter()
            retrievers[name] = retriever_class(name).build(products, config, backend=backend)
            logger.info(
                "built %s retriever over %d products in %.1f s", name, len(products), time.perf_counter() - started
            )
        reranker = CrossEncoderReranker.from_config(config.rerank) if config.rerank.enabled else None
        lexical = retrievers.get("lexical")
        segment = segmenter(getattr(lexical, "user_words", ())).cut
        pinyin = PinyinIndex.build(products, segment)
        suggester = Suggester.build(products, pinyin, segment)
        index = cls(
            config,
            MemoryProducts(products),
            retrievers,
            reranker,
            SpellingModel.build(products),
            pinyin=pinyin,
            suggester=suggester,
        )
        index.intent  # noqa: B018 - trained now, at index time, and saved with the index
        return index

    def save(self, directory: str | Path, **manifest_extra: Any) -> Path:
        """Write the index directory atomically; ``manifest_extra`` entries are added to its manifest."""
        directory = Path(directory)
        if not isinstance(self.products, MemoryProducts):
            raise ValueError("this index was loaded from disk; build it again to save a copy")
        with atomic_directory(directory) as tmp:
            self.products.save(tmp)
            for name, retriever in self.retrievers.items():
                retriever.save(tmp / name)
            if self.reranker is not None:
                self.reranker.save(tmp / "rerank")
            if self.spelling is not None:
                self.spelling.save(tmp / "spelling")
            if self.pinyin is not None:
                self.pinyin.save(tmp / "pinyin")
            if self.suggester is not None:
                self.suggester.save(tmp / "suggest")
            intent = self._intent.model if self._intent.trained else None
            if intent is not None:
                intent.save(tmp / "intent")
            write_manifest(
                tmp,
                kind=INDEX_KIND,
                format_version=INDEX_FORMAT_VERSION,
                config=self.config.to_dict(),
                products=len(self.products),
                intent=intent is not None if self._intent.trained else None,
                **manifest_extra,
            )
        logger.info("wrote index %s (%d products)", directory, len(self.products))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, backend: str = "numpy", mmap: bool = True) -> StaticIndex:
        """Load an index directory (arrays memory-mapped).

        Args:
            backend: ``"numpy"`` answers at once; ``"numba"`` compiles bm25s' kernels while
                loading (seconds) and is faster per query on large catalogs.

        Raises:
            IndexFormatError: not an index, damaged, or written in a newer format.
        """
        directory = Path(directory)
        manifest = read_index_manifest(directory)
        try:
            config = PipelineConfig.from_dict(manifest["config"])
            if manifest["format_version"] == 1:
                config = replace(config, retrievers=("lexical",))
            retrievers = {
                name: retriever_class(name).load(directory / name, config, mmap=mmap, backend=backend)
                for name in config.retrievers
            }
            reranker = None
            if config.rerank.enabled:
                reranker = CrossEncoderReranker.load(directory / "rerank", config.rerank)
            products = DiskProducts(directory)
            spelling = SpellingModel.load(directory / "spelling") if (directory / "spelling").is_dir() else None
            pinyin = PinyinIndex.load(directory / "pinyin")
            suggester = Suggester.load(directory / "suggest")
            intent: IntentModel | _Lazy | None = None  # an index written before intent models: trained when used
            if manifest.get("intent") is not None:
                has = bool(manifest["intent"]) and (directory / "intent").is_dir()
                intent = IntentModel.load(directory / "intent", config.intent) if has else _Lazy(None, trained=True)
        except (OSError, ValueError, KeyError) as err:
            raise IndexFormatError(f"{directory}: damaged index ({type(err).__name__}: {err}); rebuild it") from None
        for name, retriever in retrievers.items():
            if len(retriever) != len(products):
                raise IndexFormatError(
                    f"{directory}: damaged index ({len(products)} products but {len(retriever)} in {name}/); rebuild it"
                )
        if spelling is None:
            logger.info("%s has no spelling/ model: queries are searched as typed (index it again)", directory)
        return cls(config, products, retrievers, reranker, spelling, pinyin=pinyin, suggester=suggester, intent=intent)


class _Lazy:
    """A model trained on first use (``trained`` False until then), shared by an index's copies."""

    def __init__(self, model: IntentModel | None = None, *, trained: bool = False) -> None:
        self.model = model
        self.trained = trained
