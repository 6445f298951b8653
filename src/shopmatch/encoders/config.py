"""Settings of a dense encoder: which model, which runtime, batch size, input length.

Example:
    >>> EncoderConfig.from_dict({"backend": "torch", "batch_size": 16}).batch_size
    16
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shopmatch.encoders.models import DEFAULT_MODEL
from shopmatch.settings import ConfigSection, setting

BACKENDS = ("torch", "onnx", "onnx-int8")
QUANTIZATION_TARGETS = ("auto", "avx2", "avx512", "avx512_vnni", "arm64")


def detect_quantization_target() -> str:
    """The int8 target that suits this CPU: ``avx512_vnni`` where the CPU has VNNI (measured
    2.5× PyTorch fp32 here, against 1.7× for ``avx2``), ``arm64`` on ARM, else ``avx2``."""
    import platform

    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "avx2"
    return "avx512_vnni" if " avx512_vnni" in flags else "avx2"


@dataclass(frozen=True)
class EncoderConfig(ConfigSection):
    """How to run the bi-encoder.

    Attributes:
        model: a bundled model name (``all-MiniLM-L6-v2``) or a local model directory.
        backend: ``torch`` (sentence-transformers on PyTorch), ``onnx`` (ONNX Runtime, fp32) or
            ``onnx-int8`` (ONNX Runtime, dynamically quantized to int8; the fastest on CPU).
        quantization: the CPU family the int8 model is tuned for; ``auto`` picks this machine's
            (see :func:`detect_quantization_target`); ``avx2`` is the safe choice for any x86.
        batch_size: texts per forward pass when encoding products.
        max_length: token limit of product texts (``None``: the model's own limit); longer
            texts are truncated and counted in a log line. 64 is the default because on
            esci-us-150 it was both faster and better than 128 and 256 (docs/configuration.md, ``[dense]``).
        query_prefix, document_prefix: prepended to queries / product texts (e.g. ``"query: "``
            for E5-style models).
    """

    SECTION = "dense"

    model: str = DEFAULT_MODEL
    backend: str = setting("onnx-int8", choices=BACKENDS)
    quantization: str = setting("auto", choices=QUANTIZATION_TARGETS)
    batch_size: int = setting(32, minimum=1)
    max_length: int | None = setting(64, minimum=8)
    query_prefix: str = ""
    document_prefix: str = ""
