"""Vector indexes for dense retrieval: exact (numpy, the reference) and approximate (FAISS HNSW)."""

from shopmatch.index.base import VectorIndex, VectorIndexConfig
from shopmatch.index.exact import ExactIndex
from shopmatch.index.factory import build_vector_index, load_vector_index
from shopmatch.index.hnsw import HNSWIndex

__all__ = ["ExactIndex", "HNSWIndex", "VectorIndex", "VectorIndexConfig", "build_vector_index", "load_vector_index"]
