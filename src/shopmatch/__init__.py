"""shopmatch: e-commerce search relevance.

Example:
    >>> from shopmatch import Product, SearchPipeline
    >>> pipe = SearchPipeline.build([Product("1", "Cast iron skillet 12 inch"), Product("2", "Oven mitt")])
    >>> pipe.search('12" skillet', k=3)[0][0].product_id
    '1'
"""

from shopmatch.catalog import Catalog, Product, read_catalog, write_catalog
from shopmatch.config import PipelineConfig
from shopmatch.encoders import EncoderConfig, ProductTextTemplate, SentenceEncoder
from shopmatch.errors import ConfigError, DataError, IndexFormatError, ShopmatchError
from shopmatch.eval.evaluator import EvalResult, evaluate_rerank, evaluate_retrieval
from shopmatch.eval.metrics import pair_metrics, ranking_metrics
from shopmatch.index import ExactIndex, HNSWIndex, VectorIndexConfig
from shopmatch.judgments import GainMap, Judgment, Judgments, Pair, read_judgments, read_pairs
from shopmatch.pipeline import SearchPipeline
from shopmatch.query.query import Query
from shopmatch.retrieval.dense import DenseConfig, DenseRetriever
from shopmatch.retrieval.fusion import FusionConfig, fuse
from shopmatch.retrieval.lexical import FieldWeight, LexicalConfig, LexicalRetriever
from shopmatch.retrieval.word_vectors import WordVectorConfig, WordVectorRetriever
from shopmatch.search import SearchPage, SearchResult
from shopmatch.text.tokenize import Analyzer

__all__ = [
    "Analyzer",
    "DenseConfig",
    "DenseRetriever",
    "EncoderConfig",
    "ExactIndex",
    "FusionConfig",
    "HNSWIndex",
    "ProductTextTemplate",
    "SentenceEncoder",
    "VectorIndexConfig",
    "WordVectorConfig",
    "WordVectorRetriever",
    "fuse",
    "Catalog",
    "ConfigError",
    "DataError",
    "EvalResult",
    "FieldWeight",
    "GainMap",
    "IndexFormatError",
    "Judgment",
    "Judgments",
    "LexicalConfig",
    "LexicalRetriever",
    "Pair",
    "PipelineConfig",
    "Product",
    "Query",
    "SearchPage",
    "SearchPipeline",
    "SearchResult",
    "ShopmatchError",
    "evaluate_rerank",
    "evaluate_retrieval",
    "pair_metrics",
    "ranking_metrics",
    "read_catalog",
    "read_judgments",
    "read_pairs",
    "write_catalog",
]
