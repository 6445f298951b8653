"""Pipeline configuration: which stages run and how, read from TOML and saved with the index.

With no file the pipeline is hybrid: BM25F + the bundled all-MiniLM-L6-v2 bi-encoder (int8
ONNX), fused by reciprocal rank fusion. A config file (see ``configs/``)::

    [pipeline]
    retrievers = ["lexical", "dense"]   # any of: lexical, dense, word_vectors
    candidates = 100                    # results each retriever hands to fusion

    [fusion]
    method = "rrf"                      # or "weighted"
    weights = { lexical = 1.0, dense = 1.0 }

    [lexical]
    k1 = 0.75

    [dense]
    model = "all-MiniLM-L6-v2"          # or a local model directory
    backend = "onnx-int8"               # or "onnx", "torch"

    [dense.index]
    kind = "auto"                       # exact below 50,000 products, HNSW above

    [rerank]
    model = "my-reranker"               # a trained cross-encoder directory ("" = no re-ranking)
    top_n = 50                          # fused candidates re-ranked per query

    [negation]
    enabled = true                      # "… without chicken": products with chicken go last
    fields = ["title"]

    [feedback]
    enabled = true                      # the bi-encoder searches again, moved towards its first results
    docs = 5
    weight = 1.0

Example:
    >>> cfg = PipelineConfig.from_dict({"pipeline": {"retrievers": ["lexical"]}, "lexical": {"k1": 1.5}})
    >>> cfg.retrievers, cfg.lexical.k1
    (('lexical',), 1.5)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopmatch.errors import ConfigError
from shopmatch.query.exclusion import NegationConfig
from shopmatch.query.feedback import FeedbackConfig
from shopmatch.rerank.config import RerankConfig
from shopmatch.retrieval.dense import DenseConfig
from shopmatch.retrieval.fusion import FusionConfig
from shopmatch.retrieval.lexical import LexicalConfig
from shopmatch.retrieval.registry import RETRIEVER_NAMES
from shopmatch.retrieval.word_vectors import WordVectorConfig

RETRIEVERS = RETRIEVER_NAMES
SECTIONS = ("pipeline", "fusion", "lexical", "dense", "word_vectors", "rerank", "negation", "feedback")


@dataclass(frozen=True)
class PipelineConfig:
    """All stages of a search pipeline.

    Attributes:
        retrievers: first-stage retrievers, fused when there are several.
        candidates: how many results each retriever passes to fusion (at least ``k``).
        negation: the exclusion stage (``… without chicken``), after fusion and re-ranking.
        feedback: pseudo-relevance feedback for the bi-encoder (a second dense search).
    """

    retrievers: tuple[str, ...] = ("lexical", "dense")
    candidates: int = 100
    fusion: FusionConfig = field(default_factory=FusionConfig)
    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    dense: DenseConfig = field(default_factory=DenseConfig)
    word_vectors: WordVectorConfig = field(default_factory=WordVectorConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    negation: NegationConfig = field(default_factory=NegationConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)

    def __post_init__(self) -> None:
        retrievers = self.retrievers
        if isinstance(retrievers, str) or not retrievers:
            raise ConfigError(f"pipeline.retrievers must be a non-empty list, got {retrievers!r}")
        unknown = [r for r in retrievers if r not in RETRIEVERS]
        if unknown:
            raise ConfigError(f"unknown retriever(s) {unknown}; known: {', '.join(RETRIEVERS)}")
        if len(set(retrievers)) != len(retrievers):
            raise ConfigError(f"pipeline.retrievers lists a retriever twice: {list(retrievers)}")
        object.__setattr__(self, "retrievers", tuple(retrievers))
        if not isinstance(self.candidates, int) or isinstance(self.candidates, bool) or self.candidates < 1:
            raise ConfigError(f"pipeline.candidates must be a positive integer, got {self.candidates!r}")
        unknown_weights = set(self.fusion.weights) - set(RETRIEVERS)
        if unknown_weights:
            raise ConfigError(f"fusion weights name unknown retriever(s) {sorted(unknown_weights)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": {"retrievers": list(self.retrievers), "candidates": self.candidates},
            "fusion": self.fusion.to_dict(),
            "lexical": self.lexical.to_dict(),
            "dense": self.dense.to_dict(),
            "word_vectors": self.word_vectors.to_dict(),
            "rerank": self.rerank.to_dict(),
            "negation": self.negation.to_dict(),
            "feedback": self.feedback.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        unknown = set(data) - set(SECTIONS)
        if unknown:
            raise ConfigError(f"unknown config section(s) {sorted(unknown)}; known: {list(SECTIONS)}")
        for name in SECTIONS:
            if not isinstance(data.get(name, {}), Mapping):
                raise ConfigError(f"[{name}] must be a table")
        stages = dict(data.get("pipeline", {}))
        unknown = set(stages) - {"retrievers", "candidates"}
        if unknown:
            raise ConfigError(f"unknown pipeline setting(s) {sorted(unknown)}; known: ['candidates', 'retrievers']")
        return cls(
            retrievers=tuple(stages.get("retrievers", cls.retrievers)),
            candidates=stages.get("candidates", cls.candidates),
            fusion=FusionConfig.from_dict(data.get("fusion", {})),
            lexical=LexicalConfig.from_dict(data.get("lexical", {})),
            dense=DenseConfig.from_dict(data.get("dense", {})),
            word_vectors=WordVectorConfig.from_dict(data.get("word_vectors", {})),
            rerank=RerankConfig.from_dict(data.get("rerank", {})),
            negation=NegationConfig.from_dict(data.get("negation", {})),
            feedback=FeedbackConfig.from_dict(data.get("feedback", {})),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> PipelineConfig:
        """Read a TOML config file; errors name the file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: invalid TOML: {err}") from None
        try:
            return cls.from_dict(data)
        except (ConfigError, TypeError) as err:
            raise ConfigError(f"{path}: {err}") from None
