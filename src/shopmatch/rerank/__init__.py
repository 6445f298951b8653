"""Re-ranking: a cross-encoder reads the query and each candidate product together."""

from shopmatch.rerank.config import RerankConfig
from shopmatch.rerank.cross_encoder import CrossEncoderReranker

__all__ = ["CrossEncoderReranker", "RerankConfig"]
