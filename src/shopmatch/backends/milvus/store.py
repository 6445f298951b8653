"""The collections of one Milvus index and the reads and writes shopmatch makes on them.

An index named ``shop`` is three collections:

- ``shop_products``: per product its ``id`` (primary key), ``ordinal`` (its catalog line: the
  tie-break order of the in-process index), ``stats_version`` (the term statistics its sparse
  vector was weighted with), ``counted`` (whether those statistics counted it: false for a
  product written since, which the drift counts), ``lexical`` (the BM25F sparse vector,
  :mod:`~shopmatch.backends.milvus.statistics`), ``dense`` (the bi-encoder vector), the filter
  fields (``brand``, ``color``: case-folded; ``category``: every folded path prefix; ``price``,
  ``rating``) with scalar indexes, and ``record`` (the product as JSON);
- ``shop_terms``: the vocabulary, one row per (term, sparse dimension), with the term's document
  frequency under the current statistics;
- ``shop_meta``: small JSON documents: the pipeline config, the statistics header, the bulk load's
  progress.

Sparse dimensions are shopmatch's own term ids, never hashes. The statistics' terms get
``0 .. V-1``. A term first seen in a later write gets a dimension from a block its writer claimed
(:meth:`MilvusStore.claim_block`: blocks are numbered by the order Milvus assigned their claims'
primary keys, so two writers never share one). Two writers adding the same new term at once give
it two dimensions; a query weights all of a term's dimensions, so every product still scores
exactly.

Example::

    store = MilvusStore(BackendConfig(kind="milvus", uri="shop.db", collection="shop"))
    store.create(dense_dim=384)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from shopmatch.backends.config import BackendConfig
from shopmatch.errors import ShopmatchError

logger = logging.getLogger(__name__)

MAX_ID_CHARS = 512
MAX_TEXT_CHARS = 4096
MAX_CATEGORY_LEVELS = 8
FIRST_NEW_TERM_DIM = 2**31  # new terms' blocks start here; the statistics' terms are below
BLOCK_SIZE = 2**16
EMPTY_DOCUMENT_DIM = 2**32 - 1  # Milvus refuses an empty sparse vector; no query has this term
PLACEHOLDER = [0.0, 0.0]  # Milvus needs a vector field in every collection, even a table of settings
PRODUCT_FIELDS = ("ordinal", "record")


class MilvusError(ShopmatchError):
    """Milvus refused or failed a request (the message says which and why)."""


def expression_literal(value: str) -> str:
    """A string as a Milvus expression literal (quotes and backslashes escaped)."""
    return json.dumps(value, ensure_ascii=False)


class MilvusStore:
    """A client of one index's collections (thread-safe: the gRPC client is)."""

    def __init__(self, config: BackendConfig) -> None:
        from shopmatch.extras import require

        require("milvus", "the Milvus backend")
        from pymilvus import MilvusClient

        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # it logs every error it also raises
        if config.uri.endswith(".db"):  # embedded Milvus Lite lacks AllocTimestamp, which iterators try first
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        self.config = config
        self.products = f"{config.collection}_products"
        self.terms = f"{config.collection}_terms"
        self.meta = f"{config.collection}_meta"
        try:
            self.client = MilvusClient(uri=config.uri, token=config.secret)
        except Exception as error:
            raise MilvusError(f"cannot connect to Milvus at {config.uri}: {_reason(error)}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    # ---- collections -----------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the index's collections are there (loaded for searching if they are)."""
        names = (self.products, self.terms, self.meta)
        if not all(self._call("read", name, self.client.has_collection, name) for name in names):
            return False
        for name in names:
            self._call("load", name, self.client.load_collection, name, replica_number=self.config.replicas)
        return True

    def drop(self) -> None:
        for name in (self.products, self.terms, self.meta):
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def create(self, *, dense_dim: int | None, lexical: bool = True) -> None:
        """(Re)create the three collections, empty, indexed and loaded."""
        from pymilvus import DataType, MilvusClient

        self.drop()
        config = self.config
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_ID_CHARS)
        schema.add_field("ordinal", DataType.INT64)
        schema.add_field("stats_version", DataType.INT64)
        schema.add_field("counted", DataType.BOOL)
        if lexical:
            schema.add_field("lexical", DataType.SPARSE_FLOAT_VECTOR)
        if dense_dim:
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dense_dim)
        schema.add_field("brand", DataType.VARCHAR, max_length=MAX_TEXT_CHARS)
        schema.add_field("color", DataType.VARCHAR, max_length=MAX_TEXT_CHARS)
        schema.add_field(
            "category",
            DataType.ARRAY,
            element_type=DataType.VARCHAR,
            max_capacity=MAX_CATEGORY_LEVELS,
            max_length=MAX_TEXT_CHARS,
        )
        schema.add_field("price", DataType.FLOAT, nullable=True)
        schema.add_field("rating", DataType.FLOAT, nullable=True)
        schema.add_field("record", DataType.JSON)
        index = self.client.prepare_index_params()
        if lexical:
            index.add_index("lexical", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        if dense_dim:
            index.add_index("dense", **config.dense_index_params())
        self._create(self.products, schema, index, num_shards=config.shards)
        self._scalar_indexes(("brand", "color", "category", "price", "rating", "counted"))

        terms = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=False)
        terms.add_field("pk", DataType.INT64, is_primary=True)
        terms.add_field("term", DataType.VARCHAR, max_length=65_535)
        terms.add_field("dim", DataType.INT64)
        terms.add_field("df", DataType.INT64)
        terms.add_field("version", DataType.INT64)  # the statistics whose df this row holds
        terms.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
        self._create(self.terms, terms, self._placeholder_index())

        meta = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        meta.add_field("value", DataType.JSON)
        meta.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
        self._create(self.meta, meta, self._placeholder_index())

    def _scalar_indexes(self, fields: Sequence[str]) -> None:
        """Inverted indexes on the filter fields, where the server has them (Milvus Lite has none
        on arrays: it then filters that field by scanning)."""
        self.client.release_collection(self.products)
        for name in fields:
            index = self.client.prepare_index_params()
            index.add_index(name, index_type="INVERTED")
            try:
                self.client.create_index(self.products, index)
            except Exception as error:
                logger.info("no scalar index on %s.%s (%s): filters on it scan", self.products, name, _reason(error))
        self.client.load_collection(self.products, replica_number=self.config.replicas)

    def _placeholder_index(self):
        index = self.client.prepare_index_params()
        index.add_index("placeholder", index_type="FLAT", metric_type="L2")
        return index

    def _create(self, name: str, schema, index, **options: Any) -> None:
        try:
            self.client.create_collection(
                name, schema=schema, index_params=index, consistency_level=self.config.consistency, **options
            )
            self.client.load_collection(name, replica_number=self.config.replicas)
        except Exception as error:
            raise MilvusError(f"cannot create collection {name!r} at {self.config.uri}: {_reason(error)}") from None

    # ---- metadata --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> dict[str, Any] | None:
        rows = self._call(
            "read",
            self.meta,
            self.client.query,
            self.meta,
            filter=f"key == {expression_literal(key)}",
            output_fields=["value"],
            consistency_level="Strong",
        )
        return rows[0]["value"] if rows else None

    def put_meta(self, key: str, value: Mapping[str, Any]) -> None:
        self._call(
            "write",
            self.meta,
            self.client.upsert,
            self.meta,
            [{"key": key, "value": dict(value), "placeholder": PLACEHOLDER}],
        )

    # ---- vocabulary ------------------------------------------------------------------------------

    def add_terms(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert vocabulary rows (``term``, ``dim``, ``df``, ``version``)."""
        data = [{**row, "placeholder": PLACEHOLDER} for row in rows]
        for start in range(0, len(data), 5_000):
            self._call("write", self.terms, self.client.insert, self.terms, data[start : start + 5_000])

    def drop_terms_before(self, version: int, *, up_to_pk: int | None = None) -> None:
        """Delete the vocabulary rows of older statistics (after a reweight published new ones),
        only those up to ``up_to_pk`` (terms registered since keep their row)."""
        expression = f"dim >= 0 and version < {version}"
        if up_to_pk is not None:
            expression += f" and pk <= {up_to_pk}"
        self._call("write", self.terms, self.client.delete, self.terms, filter=expression)

    def vocabulary(self, *, after_pk: int = -1) -> Iterator[dict[str, Any]]:
        """Every vocabulary row (``pk``, ``term``, ``dim``, ``df``), or those added after ``after_pk``."""
        expression = "dim >= 0" if after_pk < 0 else f"dim >= 0 and pk > {after_pk}"
        yield from self.scan(self.terms, ["pk", "term", "dim", "df", "version"], expression)

    def terms_named(self, terms: Sequence[str]) -> list[dict[str, Any]]:
        """The vocabulary rows of these terms (a term may have several dimensions)."""
        if not terms:
            return []
        literal = "[" + ", ".join(expression_literal(t) for t in terms) + "]"
        return self._call(
            "read",
            self.terms,
            self.client.query,
            self.terms,
            filter=f"term in {literal}",
            output_fields=["pk", "term", "dim", "df", "version"],
            consistency_level="Strong",
        )

    def claim_block(self) -> int:
        """A block of ``BLOCK_SIZE`` sparse dimensions no other writer will use.

        A claim is a row of the terms collection with ``dim = -1``; its block number is how many
        claims have a smaller primary key (Milvus assigns them in order, and a strong read after the
        insert sees every earlier claim), so numbers are unique and dense.
        """
        with self._lock:
            result = self._call(
                "write",
                self.terms,
                self.client.insert,
                self.terms,
                [{"term": "", "dim": -1, "df": 0, "version": 0, "placeholder": PLACEHOLDER}],
            )
            pk = int(result["ids"][0])
            rows = self._call(
                "read",
                self.terms,
                self.client.query,
                self.terms,
                filter=f"dim == -1 and pk < {pk}",
                output_fields=["count(*)"],
                consistency_level="Strong",
            )
        block = int(rows[0]["count(*)"])
        start = FIRST_NEW_TERM_DIM + block * BLOCK_SIZE
        if start + BLOCK_SIZE > EMPTY_DOCUMENT_DIM:
            raise MilvusError(f"{self.terms}: no sparse dimensions left for new terms; run shopmatch reweight")
        return start

    # ---- products --------------------------------------------------------------------------------

    @property
    def product_fields(self) -> list[str]:
        """Every field of the products collection."""
        described = self._call("read", self.products, self.client.describe_collection, self.products)
        return [f["name"] for f in described["fields"]]

    def upsert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self._call("write", self.products, self.client.upsert, self.products, list(rows))

    def delete(self, product_ids: Sequence[str]) -> None:
        self._call("write", self.products, self.client.delete, self.products, ids=list(product_ids))

    def get(self, product_ids: Sequence[str], fields: Sequence[str] = PRODUCT_FIELDS) -> list[dict[str, Any]]:
        """The rows of these products that exist (in no particular order)."""
        if not product_ids:
            return []
        return self._call(
            "read", self.products, self.client.get, self.products, ids=list(product_ids), output_fields=list(fields)
        )

    def count(self, expression: str = "") -> int:
        rows = self._call(
            "read", self.products, self.client.query, self.products, filter=expression, output_fields=["count(*)"]
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def search(
        self,
        field: str,
        vectors: Sequence[Any],
        limit: int,
        *,
        expression: str = "",
        params: Mapping[str, Any] | None = None,
        fields: Sequence[str] = PRODUCT_FIELDS,
    ) -> list[list[dict[str, Any]]]:
        """Each query vector's hits (``id``, ``distance``, ``entity``) in ``field``, best first."""
        return self._call(
            "search",
            self.products,
            self.client.search,
            self.products,
            data=list(vectors),
            anns_field=field,
            limit=limit,
            filter=expression,
            output_fields=list(fields),
            search_params=dict(params or {}),
        )

    def scan(
        self, collection: str, fields: Sequence[str], expression: str = "", batch: int = 1_000
    ) -> Iterator[dict[str, Any]]:
        """Every row of ``collection`` matching ``expression``, in batches."""
        iterator = self._call(
            "read",
            collection,
            self.client.query_iterator,
            collection,
            batch_size=batch,
            filter=expression,
            output_fields=list(fields),
        )
        try:
            while rows := self._call("read", collection, iterator.next):
                yield from rows
        finally:
            iterator.close()

    def flush(self) -> None:
        for name in (self.products, self.terms, self.meta):
            self._call("write", name, self.client.flush, name)

    def _call(self, what: str, collection: str, method, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except MilvusError:
            raise
        except Exception as error:
            raise MilvusError(
                f"Milvus {what} on {collection!r} at {self.config.uri} failed: {_reason(error)}"
            ) from None


def _reason(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    return message.strip() or type(error).__name__
