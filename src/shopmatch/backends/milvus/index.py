"""An index whose catalog lives in Milvus: loading a catalog into it, searching it, writing to it.

The local index directory holds only what a worker runs: ``manifest.json`` (kind
``shopmatch-milvus-index``: the URI and collection), the exported query encoder (``dense/encoder``),
the re-ranker (``rerank/``), and what query understanding counted from the loaded catalog: the
spelling model (``spelling/``), the pinyin index (``pinyin/``), the suggestions (``suggest/``) and
the category-intent centroids (``intent/``, catalogs with categories and a bi-encoder);
copy the directory to each worker (a worker opened by URI alone searches queries as typed). The
pipeline config, the term statistics and every product are in Milvus, so any number of workers
on any number of machines serve the same collection, and a write through one is seen by all
(as their consistency level allows).

Loading a catalog (:meth:`MilvusIndex.build`) is resumable: the statistics are computed and
stored first, then the products are written in batches by primary key (an upsert, so a batch
written twice is still one copy of each product), and the number of products done is recorded
after each batch. Run the same command again after a crash and it goes on from there.

Example::

    index = MilvusIndex.build("catalog.jsonl", "shop-index", PipelineConfig.from_toml("milvus.toml"))
    index.search(Query("usb cable")).results[0].product_id
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.backends.base import WriteResult, parse_products
from shopmatch.backends.config import BackendConfig
from shopmatch.backends.kinds import MILVUS_INDEX_KIND
from shopmatch.backends.milvus.documents import lexical_vector, product_rows
from shopmatch.backends.milvus.snapshot import MilvusSnapshot
from shopmatch.backends.milvus.statistics import TermStatistics, analyze
from shopmatch.backends.milvus.store import MilvusError, MilvusStore
from shopmatch.backends.milvus.vocabulary import Vocabulary
from shopmatch.catalog import Product, read_catalog
from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError, DataError, IndexFormatError
from shopmatch.explain import explain_product
from shopmatch.progress import track
from shopmatch.query.intent import IntentModel
from shopmatch.query.pinyin import PinyinIndex
from shopmatch.query.query import Query
from shopmatch.query.spelling import Speller, SpellingModel, words_of
from shopmatch.query.suggest import Suggester
from shopmatch.rank.feature_groups import check_groups
from shopmatch.rank.model import Ranker, configured_ranker
from shopmatch.rerank.cross_encoder import CrossEncoderReranker
from shopmatch.search import SearchPage, search
from shopmatch.store import atomic_directory, read_manifest, write_manifest
from shopmatch.text.chinese import segmenter
from shopmatch.text.fields import FIELD_GETTERS

logger = logging.getLogger(__name__)


MILVUS_INDEX_VERSION = 1
SUPPORTED_RETRIEVERS = ("lexical", "dense")
STATS_CHECK_SECONDS = 5.0
LIVE_ORDINALS = 2**40  # products written after the catalog load sort after it on ties


def milvus_config(config: PipelineConfig, **backend: Any) -> PipelineConfig:
    """``config`` with its ``[backend]`` settings overridden (``uri``, ``collection``, …), kind milvus."""
    settings = {**config.backend.to_dict(), **{k: v for k, v in backend.items() if v is not None}, "kind": "milvus"}
    return replace(config, backend=BackendConfig.from_dict(settings))


def _stored_config(config: PipelineConfig) -> dict[str, Any]:
    """The config as stored in Milvus and the manifest: never the token."""
    data = config.to_dict()
    data["backend"] = {**data["backend"], "token": ""}
    return data


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check(config: PipelineConfig) -> None:
    unsupported = [name for name in config.retrievers if name not in SUPPORTED_RETRIEVERS]
    if unsupported:
        raise ConfigError(
            f"the Milvus backend runs the {' and '.join(SUPPORTED_RETRIEVERS)} retrievers, not {', '.join(unsupported)}"
        )


class MilvusIndex:
    """The served form of a Milvus index: search, explain, get, upsert, delete, reweight.

    The same methods as the in-process live index, so the CLI and the service use either.
    """

    def __init__(
        self,
        directory: Path,
        config: PipelineConfig,
        store: MilvusStore,
        retrievers: dict[str, Any],
        reranker: CrossEncoderReranker | None,
        spelling: SpellingModel | None = None,
        pinyin: PinyinIndex | None = None,
        suggester: Suggester | None = None,
        intent: IntentModel | None = None,
    ) -> None:
        self.directory = directory
        self.config = config
        self.store = store
        self.retrievers = retrievers
        self.reranker = reranker
        self.spelling = spelling
        self.pinyin = pinyin  # the loaded catalog's pinyin → Chinese terms (None: no Chinese, or no directory)
        self.suggester = suggester  # the completions of /suggest (None: no directory)
        self._intent = intent  # the category centroids of the loaded catalog (None: none, or no directory)
        self._written_words: frozenset[str] = frozenset()  # words of products this worker upserted
        self._speller: Speller | None = None
        self.ranker: Ranker | None = configured_ranker(config.ranker.model)
        check_groups(self.ranker, self, config.ranker.model)  # intent features need an intent model
        self.last_compaction_error: str | None = None
        self._stats_checked = 0.0
        self._lock = threading.Lock()
        self._load_statistics()

    @property
    def backend(self) -> BackendConfig:
        return self.config.backend

    # ---- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: str | Path, *, uri: str | None = None, collection: str | None = None) -> MilvusIndex:
        """Open a Milvus index directory (``uri``/``collection`` override the manifest's); the
        models come from the directory."""
        directory = Path(directory)
        manifest = read_manifest(directory, kind=MILVUS_INDEX_KIND, supported_version=MILVUS_INDEX_VERSION)
        local = milvus_config(PipelineConfig.from_dict(manifest["config"]), uri=uri, collection=collection)
        return cls._connected(local.backend, directory)

    @classmethod
    def connect(cls, uri: str, collection: str = "shopmatch", *, token: str = "") -> MilvusIndex:
        """Open an index with nothing but its URI and collection name: the config and statistics
        come from Milvus, the encoder (and any re-ranker) from the model names in the config (the
        bundled model needs nothing else; it is exported here once and cached). A worker whose
        encoder does not give the vectors the catalog was loaded with is refused."""
        backend = BackendConfig(kind="milvus", uri=uri, collection=collection, token=token)
        return cls._connected(backend, None)

    @classmethod
    def _connected(cls, backend: BackendConfig, directory: Path | None) -> MilvusIndex:
        where = str(directory) if directory is not None else f"{backend.uri} ({backend.collection})"
        store = MilvusStore(backend)
        if not store.exists():
            raise IndexFormatError(f"{where}: collection {backend.collection!r} is not in Milvus at {backend.uri}")
        stored = store.get_meta("config")
        if stored is None:
            raise IndexFormatError(f"{where}: collection {backend.collection!r} holds no config; load it again")
        config = PipelineConfig.from_dict(stored)
        config = replace(
            config, backend=replace(config.backend, uri=backend.uri, collection=backend.collection, token=backend.token)
        )
        load = store.get_meta("load") or {}
        if load.get("status") != "done":
            raise IndexFormatError(
                f"{where}: the catalog load into {backend.collection!r} did not finish "
                f"({load.get('written', 0):,} of {load.get('total', 0):,} products); "
                "run shopmatch index again to resume"
            )
        retrievers = _query_side(directory, config)
        _check_encoder(store, retrievers, where)
        reranker = _reranker(directory, config)
        spelling = pinyin = suggester = intent = None
        if directory is not None and (directory / "spelling").is_dir():
            spelling = SpellingModel.load(directory / "spelling")
        if directory is not None and (directory / "suggest").is_dir():
            pinyin, suggester = PinyinIndex.load(directory / "pinyin"), Suggester.load(directory / "suggest")
        if directory is not None and (directory / "intent").is_dir():
            intent = IntentModel.load(directory / "intent", config.intent)
        return cls(directory, config, store, retrievers, reranker, spelling, pinyin, suggester, intent)

    def with_config(self, config: PipelineConfig) -> MilvusIndex:
        """This index searched with other query-time settings (fusion, feedback, negation,
        candidates, a subset of the retrievers)."""
        missing = [name for name in config.retrievers if name not in self.retrievers]
        if missing:
            raise ConfigError(f"the index has no {', '.join(missing)} retriever; it has {', '.join(self.retrievers)}")
        config = replace(config, backend=self.backend)
        retrievers = {name: self.retrievers[name] for name in config.retrievers}
        index = MilvusIndex(
            self.directory,
            config,
            self.store,
            retrievers,
            self.reranker,
            self.spelling,
            self.pinyin,
            self.suggester,
            self._intent,
        )
        index._written_words = self._written_words
        return index

    @property
    def intent(self) -> IntentModel | None:
        """The category-intent model (None: ``[intent] enabled = false``, no bi-encoder, a catalog
        without categories, or a worker opened by URI alone)."""
        if self._intent is None or not self.config.intent.enabled or "dense" not in self.retrievers:
            return None
        return self._intent.with_config(self.config.intent)

    @property
    def speller(self) -> Speller | None:
        """What corrects query spelling: the model counted when the catalog was loaded (None:
        ``[spelling] enabled = false``, or no ``spelling/`` in the directory). The words of
        products this worker upserted since are never corrected; another worker's writes are not
        seen until the catalog is loaded again."""
        if self.spelling is None or not self.config.spelling.enabled:
            return None
        if self._speller is None:
            self._speller = Speller(self.spelling, self.config.spelling)
        return self._speller.knowing(self._written_words) if self._written_words else self._speller

    def _load_statistics(self) -> None:
        header = self.store.get_meta("statistics") or {}
        version = int(header.get("version", 0))
        vocabulary = Vocabulary.load(self.store, version)
        self.statistics = TermStatistics(
            version,
            int(header.get("num_docs", 0)),
            dict(header.get("average_lengths", {})),
            vocabulary.document_frequencies,
        )
        self.vocabulary = vocabulary
        self._stats_checked = time.monotonic()

    def _current_statistics(self) -> None:
        """Pick up statistics a reweight published (checked at most every few seconds)."""
        if time.monotonic() - self._stats_checked < STATS_CHECK_SECONDS:
            return
        self._stats_checked = time.monotonic()
        header = self.store.get_meta("statistics") or {}
        if int(header.get("version", 0)) != self.statistics.version:
            with self._lock:
                self._load_statistics()

    # ---- reading ---------------------------------------------------------------------------------

    def snapshot(self) -> MilvusSnapshot:
        """The searcher's view for one search."""
        self._current_statistics()
        return MilvusSnapshot(self)

    def search(self, query: Query) -> SearchPage:
        return search(self.snapshot(), [query])[0]

    def explain(self, query: str, product_id: str, *, spelling: bool = True) -> dict[str, Any] | None:
        return explain_product(self.snapshot(), query, product_id, spelling=spelling)

    def get(self, product_id: str) -> dict[str, Any] | None:
        found = self.store.get([product_id], ["record"])
        return found[0]["record"] if found else None

    def __len__(self) -> int:
        return self.store.count()

    def stats(self) -> dict[str, Any]:
        products = self.store.count()
        stale = self.store.count("not counted")
        return {
            "backend": "milvus",
            "collection": self.backend.collection,
            "products": products,
            "statistics_version": self.statistics.version,
            "statistics_products": self.statistics.num_docs,
            "written_since_statistics": stale,
            "statistics_drift": round(self.drift(products, stale), 4),
        }

    def drift(self, products: int, stale: int) -> float:
        """How far the statistics are from the catalog: the larger of the share of products written
        under older statistics (or since them) and the relative change in the product count."""
        base = max(self.statistics.num_docs, 1)
        return max(stale / max(products, 1), abs(products - self.statistics.num_docs) / base)

    # ---- writing ---------------------------------------------------------------------------------

    def upsert(self, records: Sequence[Mapping[str, Any]]) -> WriteResult:
        """Add or replace products (validated first: a bad record rejects the whole batch);
        durable in Milvus's log when this returns."""
        products = parse_products(records)
        if not products:
            raise DataError("no products to upsert", path="request", field="products")
        products = list({p.id: p for p in products}.values())  # the last of a repeated id wins
        ordinals = [LIVE_ORDINALS + time.time_ns() // 1000 + i for i in range(len(products))]
        dense = _encode(self.retrievers, products)
        self.store.upsert(
            product_rows(products, ordinals, self.config, self.statistics, self.vocabulary, dense, counted=False)
        )
        if self.spelling is not None:
            texts = ("\n".join(get(p) for get in FIELD_GETTERS.values()) for p in products)
            self._written_words = self._written_words | frozenset(w for text in texts for w in words_of(text))
        return WriteResult(time.time_ns() // 1_000_000, upserted=[p.id for p in products])

    def delete(self, product_ids: Sequence[str]) -> WriteResult:
        """Delete products; ids that are not in the catalog come back in ``not_found``."""
        wanted = list(dict.fromkeys(product_ids))
        found = {row["id"] for row in self.store.get(wanted, ["ordinal"])}
        present = [pid for pid in wanted if pid in found]
        if present:
            self.store.delete(present)
        return WriteResult(
            time.time_ns() // 1_000_000, deleted=present, not_found=[pid for pid in wanted if pid not in found]
        )

    def compact(self) -> dict[str, Any]:
        """Reweight (the in-process backend's compaction folds its delta; here the statistics catch up)."""
        return self.reweight()

    def reweight(self) -> dict[str, Any]:
        """Compute the term statistics again over every product and rewrite the sparse vectors.

        Products written meanwhile may keep the older weights until the next reweight.
        """
        started = time.perf_counter()
        config = self.config
        if "lexical" not in config.retrievers:
            return {"products": self.store.count(), "statistics_version": self.statistics.version, "seconds": 0.0}
        last_pk = self.vocabulary.last_pk
        version = self.statistics.version + 1
        scanned = (Product.from_dict(row["record"]) for row in self.store.scan(self.store.products, ["record"]))
        analyses = (analyze(p, config.lexical) for p in track(scanned, description="Term statistics"))
        statistics = TermStatistics.of(analyses, version=version)  # one pass, nothing kept per product
        vocabulary = self.vocabulary
        vocabulary.register(statistics.df)
        self.store.add_terms(
            [
                {"term": term, "dim": dim, "df": df, "version": version}
                for term, df in statistics.df.items()
                for dim in vocabulary.dims(term)
            ]
        )
        rewritten, batch = 0, []
        fields = self.store.product_fields
        for row in track(self.store.scan(self.store.products, fields), description="Reweighting"):
            batch.append(row)
            if len(batch) >= self.backend.batch_size:
                rewritten += self._rewrite(batch, statistics, version)
                batch = []
        rewritten += self._rewrite(batch, statistics, version)
        self.store.put_meta("statistics", statistics.header())
        self.store.drop_terms_before(version, up_to_pk=last_pk)
        with self._lock:
            self._load_statistics()
        seconds = time.perf_counter() - started
        logger.info("reweighted %d products (statistics version %d) in %.1f s", rewritten, version, seconds)
        return {"products": rewritten, "statistics_version": version, "seconds": round(seconds, 2)}

    def _rewrite(self, rows: list[dict[str, Any]], statistics: TermStatistics, version: int) -> int:
        """Rewrite scanned products' sparse vectors under new statistics; a product deleted or
        replaced since the scan is left to its writer (it weighted it)."""
        if not rows:
            return 0
        current = {row["id"]: row["record"] for row in self.store.get([r["id"] for r in rows], ["record"])}
        batch = []
        for row in rows:
            if current.get(row["id"]) != row["record"]:
                continue
            counts = analyze(Product.from_dict(row["record"]), self.config.lexical)
            vector = lexical_vector(counts, self.config, statistics, self.vocabulary)
            batch.append({**row, "lexical": vector, "stats_version": version, "counted": True})
        if batch:
            self.store.upsert(batch)
        return len(batch)

    def close(self) -> None:
        self.store.close()

    # ---- building --------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        catalog: str | Path,
        directory: str | Path,
        config: PipelineConfig,
        *,
        on_error: str = "raise",
        spelling_queries: Sequence[str] = (),
    ) -> MilvusIndex:
        """Load a catalog file into Milvus (resuming an unfinished load of the same file and config)
        and write the local index directory (``on_error="skip"``: skip bad rows, as read_catalog;
        ``spelling_queries``: logged queries that found clicks, whose words spelling never corrects)."""
        _check(config)
        catalog, directory = Path(catalog), Path(directory)
        products = read_catalog(catalog, on_error=on_error).products
        if not products:
            raise DataError("no products to index", path=catalog)
        fingerprint = _fingerprint(catalog)
        store = MilvusStore(config.backend)
        stored = _stored_config(config)
        load = store.get_meta("load") if store.exists() else None
        resuming = (
            load is not None
            and load.get("fingerprint") == fingerprint
            and load.get("config") == stored
            and load.get("status") != "done"
        )
        retrievers = _query_side(None, config)  # the encoder, exported below
        if resuming:
            done = int(load["done"])
            logger.info("resuming the load of %s after %d products", catalog, int(load.get("written", 0)))
        else:
            done = 0
            dense = retrievers.get("dense")
            store.create(
                dense_dim=dense.encoder.dim if dense is not None else None, lexical="lexical" in config.retrievers
            )
            store.put_meta("config", stored)
            store.put_meta("encoder", {"model": config.dense.encoder.model, "probe": _probe(retrievers)})
            load = {
                "fingerprint": fingerprint,
                "config": stored,
                "status": "statistics",
                "done": 0,
                "total": len(products),
            }
            store.put_meta("load", load)
        if load.get("status") == "statistics":
            _write_statistics(store, products, config)
            load = {**load, "status": "products"}
            store.put_meta("load", load)
        header = store.get_meta("statistics") or {}
        vocabulary = Vocabulary.load(store, int(header["version"]))
        statistics = TermStatistics(
            int(header["version"]),
            int(header["num_docs"]),
            dict(header["average_lengths"]),
            vocabulary.document_frequencies,
        )
        batches = _load_batches(retrievers, products, config.backend.batch_size)
        categorized = "dense" in retrievers and config.intent.enabled and any(p.category for p in products)
        vectors = np.zeros((len(products), retrievers["dense"].encoder.dim), np.float32) if categorized else None
        if vectors is not None:  # a resumed load: the batches written before, encoded again for the centroids
            for rows in track(batches[:done], total=done, description="Encoding for category intent"):
                vectors[rows] = _encode(retrievers, [products[i] for i in rows])
        written = sum(len(rows) for rows in batches[:done])
        for number in track(range(done, len(batches)), total=len(batches) - done, description="Loading into Milvus"):
            rows = batches[number]
            batch = [products[i] for i in rows]
            dense = _encode(retrievers, batch)
            if vectors is not None:
                vectors[rows] = dense
            store.upsert(product_rows(batch, rows.tolist(), config, statistics, vocabulary, dense, counted=True))
            written += len(rows)
            store.put_meta("load", {**load, "done": number + 1, "written": written})
        store.flush()
        store.put_meta("load", {**load, "done": len(batches), "written": written, "status": "done"})
        spelling = SpellingModel.build(products, queries=spelling_queries) if config.spelling.enabled else None
        intent = None
        if vectors is not None:  # the centroids of the categories, as an in-process index trains them
            intent = IntentModel.train([p.category for p in products], vectors, config.intent)
        segment = segmenter().cut  # as Milvus documents are analysed: jieba's own dictionary
        pinyin = PinyinIndex.build(products, segment)
        suggester = Suggester.build(products, pinyin, segment)
        _write_directory(
            directory, config, retrievers, products=len(products), understanding=(spelling, pinyin, suggester, intent)
        )
        store.close()
        return cls.open(directory)


def _write_statistics(store: MilvusStore, products: Sequence[Product], config: PipelineConfig) -> None:
    """The catalog's term statistics and vocabulary (dimensions ``0 .. V-1``), stored in Milvus."""
    if "lexical" not in config.retrievers:
        store.put_meta("statistics", TermStatistics(1).header())
        return
    analyses = (analyze(p, config.lexical) for p in track(products, total=len(products), description="Term statistics"))
    statistics = TermStatistics.of(analyses, version=1)
    store.drop_terms_before(2)  # a load interrupted while writing the vocabulary writes it again
    store.add_terms(
        [{"term": t, "dim": dim, "df": df, "version": 1} for dim, (t, df) in enumerate(statistics.df.items())]
    )
    store.put_meta("statistics", statistics.header())


def _load_batches(retrievers: Mapping[str, Any], products: Sequence[Product], size: int) -> list[np.ndarray]:
    """The catalog rows written together: the encoder's chunks when there is a bi-encoder (so the
    vectors are those of the whole catalog encoded at once), else runs of ``size`` rows."""
    dense = retrievers.get("dense")
    if dense is None:
        return [np.arange(start, min(start + size, len(products))) for start in range(0, len(products), size)]
    return dense.encoder.document_chunks(dense.product_texts(products, dense.config.text))


def _encode(retrievers: Mapping[str, Any], products: Sequence[Product]) -> np.ndarray | None:
    dense = retrievers.get("dense")
    return None if dense is None else dense.document_vectors(products)


def _query_side(directory: Path | None, config: PipelineConfig) -> dict[str, Any]:
    """The retrievers' query side (analysis, the encoder) with no index of their own: Milvus holds it."""
    from shopmatch.retrieval.lexical import LexicalRetriever

    out: dict[str, Any] = {}
    for name in config.retrievers:
        if name == "lexical":
            out[name] = LexicalRetriever(config.lexical, model=None)
        elif name == "dense":
            from shopmatch.encoders.sentence_encoder import SentenceEncoder
            from shopmatch.retrieval.dense import DenseRetriever

            exported = directory / "dense" / "encoder" if directory is not None else None
            onnx_dir = exported if exported is not None and exported.is_dir() else None
            if directory is not None and config.dense.encoder.backend != "torch" and onnx_dir is None:
                raise IndexFormatError(f"{directory}: the exported encoder (dense/encoder) is missing")
            encoder = SentenceEncoder.from_config(config.dense.encoder, onnx_dir=onnx_dir)
            out[name] = DenseRetriever(config.dense, encoder, index=None)
        else:
            raise ConfigError(f"the Milvus backend has no {name!r} retriever")
    return out


def _reranker(directory: Path | None, config: PipelineConfig) -> CrossEncoderReranker | None:
    if not config.rerank.enabled:
        return None
    if directory is None:
        return CrossEncoderReranker.from_config(config.rerank)
    return CrossEncoderReranker.load(directory / "rerank", config.rerank)


ENCODER_PROBE = "shopmatch encoder probe: stainless steel water bottle 750 ml"


def _probe(retrievers: Mapping[str, Any]) -> list[float] | None:
    dense = retrievers.get("dense")
    return None if dense is None else dense.encoder.encode_queries([ENCODER_PROBE])[0].astype(float).tolist()


def _check_encoder(store: MilvusStore, retrievers: Mapping[str, Any], where: str) -> None:
    """Refuse a worker whose query encoder is not the one that encoded the catalog."""
    probe, stored = _probe(retrievers), (store.get_meta("encoder") or {}).get("probe")
    if probe is None or stored is None:
        return
    cosine = float(np.dot(probe, stored) / (np.linalg.norm(probe) * np.linalg.norm(stored)))
    if cosine < ENCODER_AGREEMENT:
        raise IndexFormatError(
            f"{where}: this worker's encoder gives other vectors than the one that loaded the catalog "
            f"(cosine {cosine:.4f} on a probe sentence); serve the index directory, which holds that encoder"
        )


ENCODER_AGREEMENT = 0.999


def _write_directory(
    directory: Path,
    config: PipelineConfig,
    retrievers: Mapping[str, Any],
    *,
    products: int,
    understanding: tuple[SpellingModel | None, PinyinIndex | None, Suggester, IntentModel | None] | None = None,
) -> None:
    with atomic_directory(directory) as tmp:
        if understanding is not None:
            spelling, pinyin, suggester, intent = understanding
            if intent is not None:
                intent.save(tmp / "intent")
            if spelling is not None:
                spelling.save(tmp / "spelling")
            if pinyin is not None:  # a catalog with Chinese titles
                pinyin.save(tmp / "pinyin")
            suggester.save(tmp / "suggest")
        dense = retrievers.get("dense")
        if dense is not None and dense.encoder.backend != "torch":
            dense.encoder.save_onnx(tmp / "dense" / "encoder")
        if config.rerank.enabled:
            CrossEncoderReranker.from_config(config.rerank).save(tmp / "rerank")
        write_manifest(
            tmp,
            kind=MILVUS_INDEX_KIND,
            format_version=MILVUS_INDEX_VERSION,
            config=_stored_config(config),
            products=products,
        )


__all__ = ["MILVUS_INDEX_KIND", "MilvusError", "MilvusIndex", "milvus_config"]
