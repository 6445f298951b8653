"""Text encoders for dense retrieval: sentence-transformers (PyTorch) and ONNX Runtime (fp32, int8)."""

from shopmatch.encoders.base import Encoder
from shopmatch.encoders.config import EncoderConfig
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.encoders.sentence_encoder import SentenceEncoder

__all__ = ["Encoder", "EncoderConfig", "ProductTextTemplate", "SentenceEncoder"]
