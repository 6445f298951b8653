"""Field-aware BM25 (BM25F) over bm25s.

Each product field (title, brand, color, category, bullets, attributes, description) is
tokenized separately. Term frequencies are length-normalized per field, weighted, summed,
and saturated once (BM25F, Robertson et al. 2004; Zaragoza et al. 2004):

    tf~(t, d) = Σ_f  w_f · tf_f(t, d) / (1 − b_f + b_f · len_f(d) / avglen_f)
    score(q, d) = Σ_{t ∈ q}  idf(t) · tf~(t, d) / (k1 + tf~(t, d))
    idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))           (Lucene's BM25 idf)

As in bm25s, every (term, product) score is computed once at index time into a sparse
matrix, so a query only sums a few columns. The matrix is handed to a ``bm25s.BM25`` object,
which does the retrieval (numpy or numba backend) and the saving/memory-mapped loading.
With a single field of weight 1 this is exactly bm25s' Lucene BM25 (when every product has
at least one term in that field: the average length counts only products that have the field).

Example:
    >>> from shopmatch.catalog import Product
    >>> products = [Product("1", "USB-C cable 6ft"), Product("2", "Cast iron skillet 12in")]
    >>> bm25 = LexicalRetriever.build(products, LexicalConfig())
    >>> bm25.search_texts(["12 inch skillet"], k=1).rows.tolist()
    [[1]]
"""

from __future__ import annotations

import json
import logging
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import scipy.sparse as sp

from shopmatch.catalog import Product
from shopmatch.errors import ConfigError
from shopmatch.hits import SearchHits, top_by_score
from shopmatch.progress import track
from shopmatch.query.synonyms import WeightedTerms, term_weights
from shopmatch.retrieval.base import Retriever, Segment
from shopmatch.retrieval.lexical_segment import LexicalSegment, idf, lexical_term_weights
from shopmatch.settings import ConfigSection, setting
from shopmatch.text.chinese import USER_DICT_MODES, catalog_words
from shopmatch.text.fields import FIELD_NAMES, field_text
from shopmatch.text.highlight import highlight
from shopmatch.text.tokenize import CHINESE_MODES, Analyzer

if TYPE_CHECKING:
    from shopmatch.config import PipelineConfig

logger = logging.getLogger(__name__)

BACKENDS = ("numpy", "numba")
EXPLAINED_FIELDS = ("title", "brand", "color", "category", "bullets", "attributes", "description")
MAX_EXPLAINED_CHARS = 600
USER_WORDS_FILE = "user_words.txt"  # jieba's extra words, one a line


@dataclass(frozen=True)
class FieldWeight(ConfigSection):
    """Weight and length normalization of one field in BM25F."""

    SECTION = "field"

    weight: float = setting(1.0, minimum=0.0)
    b: float = setting(0.75, minimum=0.0, maximum=1.0)


def _default_fields() -> dict[str, FieldWeight]:
    # Tuned on esci-us-150 by coordinate ascent (bench/experiments/tune_bm25.py): +0.017 NDCG@10 on all 150
    # queries, +0.005 held out by 5-fold CV. What held in every fold: k1 ≈ 0.75, more weight on
    # category, less on bullets. Same values as configs/bm25.toml.
    return {
        "title": FieldWeight(3.0, 1.0),
        "brand": FieldWeight(0.1, 0.5),
        "color": FieldWeight(0.3, 0.5),
        "category": FieldWeight(1.5, 1.0),
        "bullets": FieldWeight(0.2, 0.75),
        "attributes": FieldWeight(0.5, 0.75),
        "description": FieldWeight(0.3, 0.75),
    }


@dataclass(frozen=True)
class LexicalConfig(ConfigSection):
    """Configuration of the field-aware BM25 retriever (``[lexical]``).

    Attributes:
        fields: Field name → :class:`FieldWeight` (or just its weight); fields of weight 0 are
            not indexed.
        k1: Term-frequency saturation.
        stem, stopwords, chinese, identifiers, traditional: passed to
            :class:`~shopmatch.text.Analyzer` (``traditional``: fold traditional Chinese to
            simplified; an index saved before this setting existed keeps it off).
        user_dict: the catalog words jieba keeps whole, found when the index is built and
            saved with it: ``"brands"`` (the Chinese names of the brands), ``"brands+terms"``
            (also frequent stand-alone title terms) or ``"off"``.
    """

    SECTION = "lexical"

    fields: Mapping[str, FieldWeight] = field(default_factory=_default_fields)
    k1: float = setting(0.75, minimum=0.0)
    stem: bool = True
    stopwords: bool = True
    chinese: str = setting("jieba+char", choices=CHINESE_MODES)
    identifiers: bool = True
    traditional: bool = True
    user_dict: str = setting("brands", choices=USER_DICT_MODES)

    def check(self) -> None:
        unknown = set(self.fields) - set(FIELD_NAMES)
        if unknown:
            raise ConfigError(f"unknown field(s) {sorted(unknown)}; known: {', '.join(FIELD_NAMES)}")
        if not any(f.weight > 0 for f in self.fields.values()):
            raise ConfigError("at least one field needs a weight > 0")
        if not (self.k1 > 0):
            raise ConfigError(f"lexical.k1 must be > 0, got {self.k1}")

    def analyzer(self, user_words: Sequence[str] = ()) -> Analyzer:
        return Analyzer(
            stem=self.stem,
            stopwords=self.stopwords,
            chinese=self.chinese,
            identifiers=self.identifiers,
            traditional=self.traditional,
            user_words=tuple(user_words),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LexicalConfig:
        """As :meth:`ConfigSection.from_dict`; a field may be given as its weight alone (``title = 3``)."""
        data = dict(data)
        fields = data.get("fields")
        if isinstance(fields, Mapping):
            data["fields"] = {name: _field_table(name, value) for name, value in fields.items()}
        return super().from_dict(data)


def _field_table(name: str, value: Any) -> Mapping[str, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"weight": value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"lexical.fields.{name}: expected a weight or {{weight, b}}, got {value!r}")
    return value


class LexicalRetriever(Retriever):
    """Field-aware BM25 search over a catalog; see the module docstring for the scoring.

    Build with :meth:`build`, then :meth:`search_texts` (or :meth:`prepare` + :meth:`search`);
    :meth:`save`/:meth:`load` a directory. A prepared query is its list of analyzed terms.
    """

    name = "lexical"

    def __init__(
        self,
        config: LexicalConfig,
        model: Any,
        *,
        backend: str = "numpy",
        average_lengths: Mapping[str, float] | None = None,
        user_words: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.model = model  # a bm25s.BM25 holding the precomputed score matrix
        self.user_words = tuple(user_words)  # the catalog's words jieba keeps whole ([lexical] user_dict)
        self.analyzer = config.analyzer(self.user_words)
        self.backend = backend
        # Mean token count per field over the products that have it (the BM25F length norm);
        # None for indexes written before it was saved. Live updates score new products with it.
        self.average_lengths = dict(average_lengths) if average_lengths is not None else None

    def __len__(self) -> int:
        return self.num_docs

    @property
    def num_docs(self) -> int:
        return int(self.model.scores["num_docs"])

    @property
    def vocab(self) -> Mapping[str, int]:
        return self.model.vocab_dict

    @classmethod
    def build(
        cls,
        products: Sequence[Product],
        config: PipelineConfig | LexicalConfig | None = None,
        *,
        backend: str = "numpy",
    ) -> LexicalRetriever:
        """Tokenize every field of every product and precompute the BM25F score matrix
        (``config``: a pipeline config, or its ``[lexical]`` section alone)."""
        config = _section(config)
        user_words = catalog_words(products, config.user_dict)
        analyzer = config.analyzer(user_words)
        fields = {name: fw for name, fw in config.fields.items() if fw.weight > 0}
        vocab: dict[str, int] = {}
        rows = {name: array("i") for name in fields}  # 4 bytes a posting, not a list's 8 + objects
        cols = {name: array("i") for name in fields}
        short_cache: dict[str, list[int]] = {}  # brands, colors, categories repeat a lot
        for row, product in enumerate(track(products, total=len(products), description="Tokenizing")):
            for name in fields:
                text = field_text(product, name)
                if not text:
                    continue
                ids = short_cache.get(text) if len(text) < 64 else None
                if ids is None:
                    ids = [vocab.setdefault(tok, len(vocab)) for tok in analyzer(text)]
                    if len(text) < 64 and len(short_cache) < 500_000:
                        short_cache[text] = ids
                rows[name].extend(repeat(row, len(ids)))
                cols[name].extend(ids)
        scores, average_lengths = _bm25f_matrix(len(products), len(vocab), fields, rows, cols, config.k1)
        model = _bm25s_model(scores, vocab, len(products), backend)
        logger.info("lexical index: %d products, %d terms, %d postings", len(products), len(vocab), len(scores["data"]))
        return cls(config, model, backend=backend, average_lengths=average_lengths, user_words=user_words)

    def document_frequency(self, term: str) -> int:
        """How many products contain ``term`` in a weighted field (0 for an unknown term)."""
        col = self.vocab.get(term)
        if col is None:
            return 0
        indptr = self._columns[2]
        return int(indptr[col + 1] - indptr[col])

    def idf(self, term: str) -> float:
        """A term's idf with this index's statistics (live segments score with it too)."""
        return idf(self.num_docs, self.document_frequency(term))

    def analyze_query(self, query: str) -> list[str]:
        """The terms of a query that the index knows (unknown terms cannot match)."""
        return [t for t in self.analyzer(query) if t in self.vocab]

    # ---- queries ---------------------------------------------------------------------------------

    def prepare(self, queries: Sequence[str]) -> list[list[str]]:
        """Each query's analyzed terms (those the index does not know cannot match here, but a
        live segment may hold them)."""
        return [self.analyzer(q) for q in queries]

    def search_texts(self, queries: Sequence[str], k: int = 10, *, weight_mask: np.ndarray | None = None) -> SearchHits:
        """:meth:`search` for query texts."""
        return self.search(self.prepare(queries), k, weight_mask)

    def search(self, prepared: Sequence[Sequence[str]], k: int = 10, allowed: np.ndarray | None = None) -> SearchHits:
        """Top ``k`` rows for each prepared query; products that match no query term are not returned.

        Args:
            prepared: each query's terms (:meth:`prepare`).
            k: Results per query.
            allowed: Optional ``(num_docs,)`` mask (bool, or weights multiplied into the scores:
                0 filters a product out).

        Returns:
            :class:`SearchHits` of shape ``(len(prepared), k)``.
        """
        _require_prepared(prepared)
        n = len(prepared)
        k = max(int(k), 1)
        out = SearchHits.empty(n, k)
        token_ids = [[self.vocab[t] for t in terms if t in self.vocab] for terms in prepared]
        todo = [i for i, ids in enumerate(token_ids) if ids]
        if not todo or self.num_docs == 0:
            return out
        depth = min(k, self.num_docs)
        mask = None if allowed is None else np.asarray(allowed, dtype=np.float32)
        kwargs: dict[str, Any] = {"k": depth, "show_progress": False, "weight_mask": mask}
        if self.backend == "numba":
            kwargs["n_threads"] = 1
        else:
            kwargs["backend_selection"] = "numpy"
        weighted = [i for i in todo if isinstance(prepared[i], WeightedTerms) and prepared[i].weights]
        if weighted:  # synonyms: a weighted sum of the terms' columns, which bm25s cannot do
            for i in weighted:
                found = self._weighted_top(term_weights(prepared[i]), depth, mask)
                out.rows[i, : len(found.rows[0])] = found.rows[0]
                out.scores[i, : len(found.rows[0])] = found.scores[0]
            todo = [i for i in todo if i not in set(weighted)]
            if not todo:
                return out
        found_rows, found_scores = self.model.retrieve([token_ids[i] for i in todo], **kwargs)
        found_rows = np.where(found_scores > 0, found_rows, -1)
        out.scores[todo, :depth] = np.where(found_rows >= 0, found_scores, 0.0)
        out.rows[todo, :depth] = found_rows
        return out

    def _weighted_top(self, weights: Mapping[str, float], k: int, mask: np.ndarray | None) -> SearchHits:
        """Top ``k`` rows by ``Σ_t weight(t) · score(t, row)`` (rows no term matches left out)."""
        data, indices, indptr = self._columns
        scores = np.zeros(self.num_docs, dtype=np.float32)
        for term, weight in weights.items():
            col = self.vocab.get(term)
            if col is not None and weight > 0:
                start, end = int(indptr[col]), int(indptr[col + 1])
                scores[indices[start:end]] += np.float32(weight) * data[start:end]
        if mask is not None:
            scores *= mask
        rows = np.flatnonzero(scores > 0)
        return top_by_score(rows, scores[rows], k)

    def score_rows(self, prepared: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """BM25F scores of one prepared query for the given rows (NaN where no query term matches):
        what :meth:`search` would give them, read from the query terms' columns at those rows only."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.full(len(rows), np.nan, dtype=np.float32)
        if not len(rows) or self.num_docs == 0:
            return out
        _require_prepared([prepared])
        if not self._sorted_columns:
            return self._searched_scores(prepared, rows)
        data, indices, indptr = self._columns
        if isinstance(prepared, WeightedTerms) and prepared.weights:  # as _weighted_top sums them
            scores = np.zeros(len(rows), dtype=np.float32)
            columns = [(self.vocab[t], np.float32(w)) for t, w in term_weights(prepared).items() if t in self.vocab]
            columns = [(col, weight) for col, weight in columns if weight > 0]
        else:  # as bm25s sums them: each term (a repeated one again) in query order
            scores = np.zeros(len(rows), dtype=np.dtype(self.model.dtype))
            columns = [(self.vocab[t], None) for t in prepared if t in self.vocab]
        if columns:
            weighted = columns[0][1] is not None
            _add_column_scores(
                data,
                indices,
                indptr,
                np.array([col for col, _ in columns], dtype=np.int64),
                np.array([weight if weighted else 1.0 for _, weight in columns], dtype=np.float32),
                weighted,
                rows,
                scores,
            )
        found = scores > 0
        out[found] = scores[found]
        return out

    @cached_property
    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The score matrix's ``data``, ``indices``, ``indptr`` (column-major: one column per term) as
        plain arrays: slicing a memory-mapped array costs microseconds of Python per call, and the
        hot paths slice it per query term."""
        return tuple(np.asarray(self.model.scores[key]).view(np.ndarray) for key in ("data", "indices", "indptr"))

    @cached_property
    def _sorted_columns(self) -> bool:
        """Whether each term's column lists its rows in increasing order (bm25s builds it so), and
        nothing is added to every score (BM25 variants with a non-occurrence score)."""
        if getattr(self.model, "nonoccurrence_array", None) is not None:
            return False
        indices, indptr = self.model.scores["indices"], self.model.scores["indptr"]
        rising = np.diff(np.asarray(indices, dtype=np.int64)) > 0
        starts = np.asarray(indptr[1:-1], dtype=np.int64)  # where a column begins: no order across it
        rising[starts[(starts > 0) & (starts <= len(rising))] - 1] = True
        return bool(rising.all())

    def _searched_scores(self, prepared: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """:meth:`score_rows` by a search allowed to return only ``rows``."""
        out = np.full(len(rows), np.nan, dtype=np.float32)
        mask = np.zeros(self.num_docs, dtype=np.float32)
        mask[rows] = 1.0
        hits = self.search([prepared], k=len(set(rows.tolist())), allowed=mask)
        score_of = dict(hits.query(0))
        for i, row in enumerate(rows.tolist()):
            if row in score_of:
                out[i] = score_of[row]
        return out

    def term_scores(self, query: str, row: int) -> dict[str, float]:
        """Each query term's contribution to one product's score (for explanations)."""
        return self.explain(self.analyzer(query), row)["terms"]

    def explain(self, prepared: Sequence[str], row: int) -> dict[str, Any]:
        """``{"terms": {term: its share of the row's score}}`` (a synonym's share times its weight)."""
        out: dict[str, float] = {}
        data, indices, indptr = self._columns
        for term, weight in term_weights(prepared).items():
            col = self.vocab.get(term)
            if col is None:
                continue
            start, end = int(indptr[col]), int(indptr[col + 1])
            hit = np.searchsorted(indices[start:end], row)
            if hit < end - start and indices[start + hit] == row:
                out[term] = weight * float(data[start + hit])
        return {"terms": out}

    def matched_fields(self, prepared: Sequence[str], record: Mapping[str, Any]) -> dict[str, Any]:
        """Per field of the product: the query terms it holds and its highlighted text."""
        product = Product.from_dict(record)
        wanted = set(prepared)
        fields: dict[str, Any] = {}
        for name in EXPLAINED_FIELDS:
            text = field_text(product, name) if name != "category" else " > ".join(product.category)
            if not text:
                continue
            text = text[:MAX_EXPLAINED_CHARS]
            field_terms = set(self.analyzer(text))
            found = [t for t in dict.fromkeys(prepared) if t in field_terms]
            fields[name] = {"matched": found, "highlight": highlight(text, wanted, self.analyzer)}
        return fields

    # ---- live updates ----------------------------------------------------------------------------

    def documents(self, products: Sequence[Product]) -> list[dict[str, float]]:
        """Each product's BM25F weighted term frequencies, normalized with this index's average
        field lengths, so its scores can be merged with this index's."""
        return [lexical_term_weights(self, product) for product in products]

    def segment(self, documents: Sequence[Mapping[str, float]]) -> LexicalSegment:
        return LexicalSegment(documents, self.idf, self.config.k1)

    def compacted(self, keep: np.ndarray, segment: Segment, products: Sequence[Product]) -> LexicalRetriever:
        """The statistics change with the catalog: the index is built again from ``products``."""
        return LexicalRetriever.build(products, self.config, backend="numpy")

    # ---- persistence -----------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write the score matrix (``.npy``, no pickle), vocabulary and config to ``directory``."""
        directory = Path(directory)
        self.model.save(directory, show_progress=False)
        (directory / "lexical_config.json").write_text(json.dumps(self.config.to_dict(), indent=2))
        if self.average_lengths is not None:
            (directory / "field_lengths.json").write_text(json.dumps(self.average_lengths, indent=2))
        if self.user_words:
            (directory / USER_WORDS_FILE).write_text("".join(f"{w}\n" for w in self.user_words), encoding="utf-8")

    @classmethod
    def load(
        cls, directory: str | Path, config: PipelineConfig | None = None, *, mmap: bool = True, backend: str = "numpy"
    ) -> LexicalRetriever:
        """Load a saved retriever (its own ``lexical_config.json``); arrays are memory-mapped unless
        ``mmap=False``.

        ``backend="numba"`` compiles bm25s' numba kernels here, with one warm-up query (several
        seconds, once per process), and then answers faster on large catalogs: use it for
        servers and benchmarks.
        """
        import bm25s

        if backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
        directory = Path(directory)
        saved = json.loads((directory / "lexical_config.json").read_text())
        own = LexicalConfig.from_dict(saved)
        if "traditional" not in saved:  # indexed before the folding existed: its terms are unfolded
            own = replace(own, traditional=False)
        words_file = directory / USER_WORDS_FILE
        user_words = words_file.read_text(encoding="utf-8").split() if words_file.is_file() else ()
        model = bm25s.BM25.load(directory, mmap=mmap, backend=backend, show_progress=False)
        lengths_file = directory / "field_lengths.json"
        average_lengths = json.loads(lengths_file.read_text()) if lengths_file.is_file() else None
        retriever = cls(own, model, backend=backend, average_lengths=average_lengths, user_words=user_words)
        if backend == "numba" and retriever.num_docs and len(retriever.vocab):
            retriever.model.retrieve([[0]], k=1, show_progress=False, n_threads=1)  # compile now, not on a request
        return retriever


def _section(config: PipelineConfig | LexicalConfig | None) -> LexicalConfig:
    if config is None:
        return LexicalConfig()
    return config if isinstance(config, LexicalConfig) else config.lexical


def _require_prepared(prepared: Sequence[Any]) -> None:
    if isinstance(prepared, str) or any(isinstance(p, str) for p in prepared):
        raise TypeError("search() takes prepared queries (lists of terms); use search_texts() for query texts")


def _bm25f_matrix(
    num_docs: int,
    vocab_size: int,
    fields: Mapping[str, FieldWeight],
    rows: Mapping[str, Sequence[int]],
    cols: Mapping[str, Sequence[int]],
    k1: float,
) -> tuple[dict, dict[str, float]]:
    """The BM25F score of every (product, term) that occurs, as bm25s' CSC arrays, and each
    field's average length."""
    shape = (num_docs, vocab_size)
    weighted_tf = sp.csr_matrix(shape, dtype=np.float32)
    average_lengths: dict[str, float] = {}
    for name, fw in fields.items():
        r = np.asarray(rows[name], dtype=np.int32)  # zero-copy from array('i')
        c = np.asarray(cols[name], dtype=np.int32)
        if r.size == 0:
            continue
        counts = sp.csr_matrix((np.ones(r.size, dtype=np.float32), (r, c)), shape=shape)
        counts.sum_duplicates()
        lengths = np.bincount(r, minlength=num_docs).astype(np.float32)
        average = float(lengths[lengths > 0].mean())
        average_lengths[name] = average
        norm = 1.0 - fw.b + fw.b * lengths / average
        norm[norm == 0] = 1.0
        weighted_tf = weighted_tf + sp.diags((fw.weight / norm).astype(np.float32)) @ counts
    weighted_tf = weighted_tf.tocsc()
    weighted_tf.eliminate_zeros()
    weighted_tf.sort_indices()
    df = np.diff(weighted_tf.indptr).astype(np.float64)
    idf = np.log1p((num_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    tf = weighted_tf.data
    term_of_entry = np.repeat(np.arange(vocab_size), np.diff(weighted_tf.indptr))
    data = idf[term_of_entry] * tf / (k1 + tf)
    matrix = {
        "data": data.astype(np.float32),
        "indices": weighted_tf.indices.astype(np.int32),
        "indptr": weighted_tf.indptr.astype(np.int64),
        "num_docs": num_docs,
    }
    return matrix, average_lengths


def _bm25s_model(scores: dict, vocab: dict[str, int], num_docs: int, backend: str):
    import bm25s

    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
    model = bm25s.BM25(method="lucene", backend=backend)
    model.scores = scores
    model.vocab_dict = vocab
    model.unique_token_ids_set = set(vocab.values())
    model.nonoccurrence_array = None  # only BM25L/BM25+ use it
    return model


@numba.njit(cache=True, nogil=True)
def _add_column_scores(data, indices, indptr, columns, weights, weighted, rows, scores):  # pragma: no cover
    # scores[i] += (weights[c] ·) the stored score of (rows[i], columns[c]), term by term in order
    for c in range(columns.shape[0]):
        start, end = indptr[columns[c]], indptr[columns[c] + 1]
        stored = indices[start:end]  # the column's rows, sorted
        for i in range(rows.shape[0]):
            low = start + np.searchsorted(stored, rows[i])
            if low < end and indices[low] == rows[i]:
                scores[i] += weights[c] * data[low] if weighted else data[low]
