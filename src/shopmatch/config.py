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

    [ranker]
    model = "my-ranker"                 # a trained LambdaMART ranker directory ("" = none)
    top_n = 100                         # candidates it re-orders per query

    [personalize]
    model = "my-personalizer"           # a trained personalizer directory ("" = none)
    profiles = "profiles.json"          # shopper profiles (shopmatch events profiles)

    [negation]
    enabled = true                      # "… without chicken": products with chicken go last
    fields = ["title"]

    [feedback]
    enabled = true                      # the bi-encoder searches again, moved towards its first results
    docs = 5
    weight = 1.0

    [spelling]
    enabled = true                      # correct misspelled query words from the catalog's words
    max_edit_distance = 2
    dictionary = "english"              # English words the catalog lacks are kept ("none": no guard)

    [pinyin]
    enabled = true                      # "pingguo shouji", "pgsj" → 苹果手机 (catalogs with Chinese)

    [synonyms]
    file = "synonyms.txt"               # Solr-format synonyms, applied to the BM25F query ("" = none)
    weight = 0.5                        # a synonym's terms weigh this much, the query's own 1

    [intent]
    enabled = true                      # predict the query's categories, boost the products in them
    weight = 0.0                        # boost: the intent score (0..1) times this added to the fused score

    [backend]
    kind = "inprocess"                  # or "milvus", with uri = "shop.db" or "http://host:19530"

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

from shopmatch.backends.config import BackendConfig
from shopmatch.errors import ConfigError
from shopmatch.personalize.config import PersonalizeConfig
from shopmatch.query.exclusion import NegationConfig
from shopmatch.query.feedback import FeedbackConfig
from shopmatch.query.intent import IntentConfig
from shopmatch.query.pinyin import PinyinConfig
from shopmatch.query.spelling import SpellingConfig
from shopmatch.query.synonyms import SynonymsConfig
from shopmatch.rank.config import RankerConfig
from shopmatch.rerank.config import RerankConfig
from shopmatch.retrieval.dense import DenseConfig
from shopmatch.retrieval.fusion import FusionConfig
from shopmatch.retrieval.lexical import LexicalConfig
from shopmatch.retrieval.registry import RETRIEVER_NAMES
from shopmatch.retrieval.word_vectors import WordVectorConfig
from shopmatch.settings import ConfigSection, setting

RETRIEVERS = RETRIEVER_NAMES
SECTIONS = (
    "pipeline",
    "fusion",
    "lexical",
    "dense",
    "word_vectors",
    "rerank",
    "ranker",
    "personalize",
    "negation",
    "feedback",
    "spelling",
    "pinyin",
    "synonyms",
    "intent",
    "backend",
)


@dataclass(frozen=True)
class PipelineConfig(ConfigSection):
    """All stages of a search pipeline.

    Attributes:
        retrievers: first-stage retrievers, fused when there are several (``[pipeline]``).
        candidates: how many results each retriever passes to fusion, and how many fused
            candidates a query keeps (at least ``k``) (``[pipeline]``).
        fusion, lexical, dense, word_vectors, rerank: each stage's own section.
        ranker: the learned ranker (LambdaMART) over the candidates, after re-ranking.
        personalize: shopper profiles and the personalizer, after the ranker (a query with a ``user_id``).
        negation: the exclusion stage (``… without chicken``), after fusion and re-ranking.
        feedback: pseudo-relevance feedback for the bi-encoder (a second dense search).
        spelling: spelling correction of query words, from the words the index counted.
        pinyin: pinyin queries read as the catalog's Chinese terms (catalogs with Chinese titles).
        synonyms: query-time synonyms added to the BM25F query.
        intent: category intent: predicted categories and their boost.
        backend: where the index lives: in this process (the default) or in Milvus.
    """

    SECTION = "pipeline"

    retrievers: tuple[str, ...] = ("lexical", "dense")
    candidates: int = setting(100, minimum=1)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    dense: DenseConfig = field(default_factory=DenseConfig)
    word_vectors: WordVectorConfig = field(default_factory=WordVectorConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    ranker: RankerConfig = field(default_factory=RankerConfig)
    personalize: PersonalizeConfig = field(default_factory=PersonalizeConfig)
    negation: NegationConfig = field(default_factory=NegationConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    spelling: SpellingConfig = field(default_factory=SpellingConfig)
    pinyin: PinyinConfig = field(default_factory=PinyinConfig)
    synonyms: SynonymsConfig = field(default_factory=SynonymsConfig)
    intent: IntentConfig = field(default_factory=IntentConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)

    def check(self) -> None:
        retrievers = self.retrievers
        if not retrievers:
            raise ConfigError(f"pipeline.retrievers must be a non-empty list, got {list(retrievers)!r}")
        unknown = [r for r in retrievers if r not in RETRIEVERS]
        if unknown:
            raise ConfigError(f"unknown retriever(s) {unknown}; known: {', '.join(RETRIEVERS)}")
        if len(set(retrievers)) != len(retrievers):
            raise ConfigError(f"pipeline.retrievers lists a retriever twice: {list(retrievers)}")
        unknown_weights = set(self.fusion.weights) - set(RETRIEVERS)
        if unknown_weights:
            raise ConfigError(f"fusion weights name unknown retriever(s) {sorted(unknown_weights)}")

    def to_dict(self) -> dict[str, Any]:
        """The TOML layout: ``[pipeline]`` holds the retrievers and candidates, every stage its own table."""
        flat = super().to_dict()
        return {"pipeline": {"retrievers": flat.pop("retrievers"), "candidates": flat.pop("candidates")}, **flat}

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
        return super().from_dict({**stages, **{name: data[name] for name in SECTIONS[1:] if name in data}})

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
