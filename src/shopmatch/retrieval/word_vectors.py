"""Averaged word vectors + cosine similarity: the classic unsupervised semantic matcher.

word2vec (gensim) is trained on the catalog's own text (the product text template of the
dense stage, analyzed like BM25 input: stemmed English words, jieba words and single
characters for Chinese); a product or query
is the mean of its words' vectors, normalized; products are found by cosine similarity in
an exact or HNSW vector index. A query with no known word returns nothing.

Saved without pickle: ``words.txt`` (one word per line), ``word_vectors.npy`` and ``vectors/``.

Example:
    >>> from shopmatch.catalog import Product
    >>> products = [Product(str(i), t) for i, t in enumerate(["red sofa", "leather sofa", "garden hose"] * 5)]
    >>> wv = WordVectorRetriever.build(products, WordVectorConfig(dim=8, min_count=1, epochs=5))
    >>> wv.search_texts(["sofa"], k=2).rows.shape
    (1, 2)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shopmatch.catalog import Product
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.extras import require
from shopmatch.index.base import VectorIndex, VectorIndexConfig
from shopmatch.index.factory import build_vector_index, load_vector_index, save_vector_index
from shopmatch.retrieval.vectors import VectorRetriever
from shopmatch.settings import ConfigSection, setting
from shopmatch.text.tokenize import Analyzer

if TYPE_CHECKING:
    from shopmatch.config import PipelineConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WordVectorConfig(ConfigSection):
    """word2vec training settings (``[word_vectors]``).

    Attributes:
        dim: vector size. window: context words on each side. min_count: rarer words are dropped.
        epochs: passes over the catalog. skip_gram: skip-gram instead of CBOW.
        seed, workers: training is reproducible with ``workers = 1``.
    """

    SECTION = "word_vectors"

    dim: int = setting(100, minimum=1)
    window: int = setting(5, minimum=1)
    min_count: int = setting(2, minimum=1)
    epochs: int = setting(20, minimum=1)
    skip_gram: bool = True
    seed: int = 0
    workers: int = setting(1, minimum=1)


def word_analyzer() -> Analyzer:
    """The analyzer of word-vector text: stemmed English words, jieba words and characters for Chinese."""
    return Analyzer(stem=True, stopwords=True, chinese="jieba+char", identifiers=False)


def train_word2vec(sentences: Sequence[Sequence[str]], config: WordVectorConfig) -> tuple[list[str], np.ndarray]:
    """Word2vec (gensim) on analyzed ``sentences``: the vocabulary and its ``(words, dim)``
    float32 vectors. Every word-vector model of the project trains through here."""
    require("baselines", "training word vectors", ("gensim",))
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences=sentences,
        vector_size=config.dim,
        window=config.window,
        min_count=config.min_count,
        sg=int(config.skip_gram),
        epochs=config.epochs,
        seed=config.seed,
        workers=config.workers,
    )
    return list(model.wv.index_to_key), np.asarray(model.wv.vectors, dtype=np.float32)


def mean_word_vectors(
    token_lists: Sequence[Sequence[str]], word_ids: Mapping[str, int], word_vectors: np.ndarray
) -> np.ndarray:
    """Each token list's unit-length mean word vector, ``(n, dim)`` float32 (zero: no known word)."""
    out = np.zeros((len(token_lists), word_vectors.shape[1]), dtype=np.float32)
    for i, tokens in enumerate(token_lists):
        ids = [word_ids[t] for t in tokens if t in word_ids]
        if ids:
            mean = word_vectors[ids].mean(axis=0)
            norm = float(np.linalg.norm(mean))
            if norm > 0:
                out[i] = mean / norm
    return out


class WordVectorRetriever(VectorRetriever):
    """Mean word2vec vectors + cosine similarity, searched in a vector index."""

    name = "word_vectors"

    def __init__(
        self,
        words: list[str],
        word_vectors: np.ndarray,
        index: VectorIndex,
        *,
        text: ProductTextTemplate | None = None,
        index_config: VectorIndexConfig | None = None,
    ) -> None:
        self.words = words
        self.word_vectors = word_vectors
        self.word_ids = {w: i for i, w in enumerate(words)}
        self.index = index
        self.text = text or ProductTextTemplate()
        self._index_config = index_config or VectorIndexConfig()
        self.analyzer = word_analyzer()

    @classmethod
    def build(
        cls,
        products: Sequence[Product],
        config: PipelineConfig | WordVectorConfig | None = None,
        *,
        backend: str = "numpy",
        text: ProductTextTemplate | None = None,
        index: VectorIndexConfig | None = None,
    ) -> WordVectorRetriever:
        """Train word2vec on the products' texts and index their mean vectors; ``config`` is a
        pipeline config (its ``[word_vectors]``, ``[dense.text]`` and ``[dense.index]``) or the
        ``[word_vectors]`` section alone (with ``text`` and ``index``)."""
        if config is None or isinstance(config, WordVectorConfig):
            settings = config or WordVectorConfig()
        else:
            settings, text, index = config.word_vectors, config.dense.text, config.dense.index
        text = text or ProductTextTemplate()
        index = index or VectorIndexConfig()
        sentences = word_analyzer().many([text.render(p) for p in products])
        started = time.perf_counter()
        words, vectors = train_word2vec(sentences, settings)
        logger.info(
            "word2vec: %d words from %d products in %.1f s", len(words), len(products), time.perf_counter() - started
        )
        retriever = cls(words, vectors, index=None, text=text, index_config=index)  # type: ignore[arg-type]
        doc_vectors = retriever._mean_vectors(sentences)
        retriever.index = build_vector_index(np.arange(len(products)), doc_vectors, index)
        return retriever

    def _mean_vectors(self, token_lists: Sequence[list[str]]) -> np.ndarray:
        return mean_word_vectors(token_lists, self.word_ids, self.word_vectors)

    @property
    def index_config(self) -> VectorIndexConfig:
        return self._index_config

    def with_index(self, index: VectorIndex) -> WordVectorRetriever:
        return WordVectorRetriever(
            self.words, self.word_vectors, index, text=self.text, index_config=self._index_config
        )

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Unit mean word vectors of product texts, as the index holds them."""
        return self._mean_vectors(self.analyzer.many(list(texts)))

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Unit mean word vectors of queries (zero rows for queries with no known word)."""
        return self._mean_vectors(self.analyzer.many(list(queries)))

    def query_vectors(self, queries: Sequence[str]) -> list[np.ndarray | None]:
        """Each query's mean word vector; ``None`` for a query with no known word."""
        return [v if v.any() else None for v in self.encode_queries(queries)]

    def document_vectors(self, products: Sequence[Product]) -> np.ndarray:
        return self.encode_documents([self.text.render(p) for p in products])

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "words.txt").write_text("".join(w + "\n" for w in self.words), encoding="utf-8")
        np.save(directory / "word_vectors.npy", self.word_vectors)
        save_vector_index(self.index, directory / "vectors")

    @classmethod
    def load(
        cls, directory: str | Path, config: PipelineConfig | None = None, *, mmap: bool = True, backend: str = "numpy"
    ) -> WordVectorRetriever:
        directory = Path(directory)
        words = (directory / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
        vectors = np.load(directory / "word_vectors.npy", mmap_mode="r" if mmap else None)
        if len(words) != len(vectors):
            raise ValueError(f"{directory}: {len(words)} words but {len(vectors)} word vectors")
        text = config.dense.text if config is not None else None
        index_config = config.dense.index if config is not None else None
        index = load_vector_index(directory / "vectors", mmap=mmap)
        return cls(words, vectors, index, text=text, index_config=index_config)
