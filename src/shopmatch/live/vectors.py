"""One way to embed queries and products for both vector retrievers (dense, word vectors).

The live index needs the vectors a retriever would have stored for a new product, and a query's
vector once per request (searched in the base index and in the delta, filtered or not).

Example:
    >>> query_vector(pipeline.dense, "usb cable").shape       # doctest: +SKIP
    (384,)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopmatch.baselines.word_vectors import WordVectorRetriever
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.retrieval.dense import DenseRetriever

VECTOR_RETRIEVERS = ("dense", "word_vectors")


def query_vector(retriever: DenseRetriever | WordVectorRetriever, query: str) -> np.ndarray | None:
    """The query's unit vector, or None when the retriever cannot read it (it would return nothing:
    too many unknown tokens for the bi-encoder, no known word for word vectors)."""
    if isinstance(retriever, DenseRetriever):
        if retriever.encoder.unknown_share([query])[0] > retriever.config.max_unknown:
            return None
        return retriever.encoder.encode_queries([query])[0].astype(np.float32)
    vector = retriever.encode_queries([query])[0]
    return vector.astype(np.float32) if vector.any() else None


def product_vectors(
    retriever: DenseRetriever | WordVectorRetriever, config: PipelineConfig, products: Sequence[Product]
) -> np.ndarray:
    """The vectors the retriever's index holds for ``products`` (encoded now)."""
    texts = [config.dense.text.render(p) for p in products]
    encode = retriever.encoder.encode_documents if isinstance(retriever, DenseRetriever) else retriever.encode_documents
    return encode(texts).astype(np.float32)
