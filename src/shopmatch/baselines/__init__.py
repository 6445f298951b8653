"""Classic matchers from the literature, in the same interfaces as the main models."""

from shopmatch.baselines.word_vectors import WordVectorConfig, WordVectorRetriever

__all__ = ["WordVectorConfig", "WordVectorRetriever"]
