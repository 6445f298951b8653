"""Retrievers: lexical (field-aware BM25) now; dense and fusion come next."""

from shopmatch.retrieval.base import Retriever, SearchHits
from shopmatch.retrieval.lexical import LexicalConfig, LexicalRetriever

__all__ = ["LexicalConfig", "LexicalRetriever", "Retriever", "SearchHits"]
