"""Text processing: normalization, tokenization (English, Chinese, identifiers), field texts."""

from shopmatch.text.normalize import normalize
from shopmatch.text.tokenize import Analyzer

__all__ = ["Analyzer", "normalize"]
