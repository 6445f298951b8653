"""Export a sentence-transformers model (bi-encoder or cross-encoder) to ONNX (fp32) and quantize
it dynamically to int8.

Uses sentence-transformers' own ONNX backend (optimum underneath) for the export and
``export_dynamic_quantized_onnx_model`` (ONNX Runtime's dynamic quantization) for int8; no
graph code of our own. The result is a complete model directory (tokenizer, pooling,
``onnx/model.onnx`` and, for int8, ``onnx/model_q*int8_<target>.onnx``) that
:class:`~shopmatch.encoders.SentenceEncoder` loads without exporting again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from shopmatch.errors import ConfigError

logger = logging.getLogger(__name__)

FP32_FILE = "onnx/model.onnx"
MODEL_KINDS = ("bi-encoder", "cross-encoder")


def _model_class(kind: str):
    if kind not in MODEL_KINDS:
        raise ValueError(f"model kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    from sentence_transformers import CrossEncoder, SentenceTransformer

    return CrossEncoder if kind == "cross-encoder" else SentenceTransformer


def onnx_file_name(directory: Path, quantization: str | None) -> str | None:
    """The ONNX file of ``directory`` for a precision, relative to it (None if not exported)."""
    if quantization is None:
        return FP32_FILE if (directory / FP32_FILE).is_file() else None
    found = sorted((directory / "onnx").glob(f"model_*int8_{quantization}.onnx"))
    return f"onnx/{found[0].name}" if found else None


def onnx_model_kwargs(onnx_file: str, *, spinning: bool) -> dict:
    """``model_kwargs`` that load the exported ``onnx_file`` on the CPU, for sentence-transformers'
    ``backend="onnx"``, with ONNX Runtime's thread spinning on or off.

    ONNX Runtime's worker threads keep spinning for a while after each run (its default). That
    makes the next run start sooner, but when PyTorch runs next in the same process — the pooling
    and mean-token head after an exported transformer — the spinning threads hold the cores it
    needs. Measured (``bench/onnx_spinning.py``): re-rankers with the mean-token head are faster
    with spinning off, query encoding is faster with it on.

    Example:
        >>> kwargs = onnx_model_kwargs("onnx/model.onnx", spinning=False)
        >>> kwargs["session_options"].get_session_config_entry("session.intra_op.allow_spinning")
        '0'
        >>> CrossEncoder(model_dir, backend="onnx", model_kwargs=kwargs)  # doctest: +SKIP
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return {"file_name": onnx_file, "provider": "CPUExecutionProvider", "session_options": options}


def export_onnx(
    model_dir: str | Path, out_dir: str | Path, *, quantization: str | None = None, kind: str = "bi-encoder"
) -> str:
    """Write an ONNX copy of the model in ``model_dir`` to ``out_dir``; returns the ONNX file's name.

    Args:
        quantization: ``None`` for fp32, or the CPU target of dynamic int8 quantization
            (``avx2``, ``avx512``, ``avx512_vnni``, ``arm64``).
        kind: ``bi-encoder`` (a SentenceTransformer) or ``cross-encoder`` (a CrossEncoder).

    Example:
        >>> export_onnx("my-model", "cache/my-model-onnx", quantization="avx2")  # doctest: +SKIP
        'onnx/model_quint8_avx2.onnx'
    """
    from sentence_transformers import export_dynamic_quantized_onnx_model

    model_class = _model_class(kind)
    out_dir = Path(out_dir)
    if (name := onnx_file_name(out_dir, quantization)) is not None:
        return name
    started = time.perf_counter()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # optimum's export warns about deprecated arguments it passes itself
    if onnx_file_name(out_dir, None) is None:
        model = model_class(str(model_dir), backend="onnx", device="cpu", local_files_only=True)
        model.save_pretrained(str(out_dir))
    else:
        model = model_class(
            str(out_dir), backend="onnx", device="cpu", local_files_only=True, model_kwargs={"file_name": FP32_FILE}
        )
    if quantization is not None:
        previous = logging.root.manager.disable
        logging.disable(logging.INFO)  # onnxruntime logs one line per tensor it quantizes
        try:
            export_dynamic_quantized_onnx_model(model, quantization, str(out_dir))
        finally:
            logging.disable(previous)
    name = onnx_file_name(out_dir, quantization)
    if name is None:
        raise ConfigError(f"ONNX export of {model_dir} did not produce a model file in {out_dir}")
    logger.info("exported %s to %s/%s in %.1f s", model_dir, out_dir, name, time.perf_counter() - started)
    return name


def cache_root() -> Path:
    """Where exported models are kept between runs: ``$SHOPMATCH_CACHE`` or ``~/.cache/shopmatch``."""
    root = (
        os.environ.get("SHOPMATCH_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "shopmatch"
    )
    return Path(root)


def _fingerprint(model_dir: Path) -> str:
    digest = hashlib.sha1(str(model_dir.resolve()).encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def cached_export(
    model_dir: str | Path, *, quantization: str | None = None, kind: str = "bi-encoder"
) -> tuple[Path, str]:
    """The ONNX export of ``model_dir`` from the cache, exported there first if missing.

    Returns the cached model directory and the ONNX file name inside it. A changed model
    directory (any file's size or time) gets a new entry; entries are complete or absent
    (exported to a temporary folder, then renamed).
    """
    model_dir = Path(model_dir)
    suffix = "" if kind == "bi-encoder" else f"-{kind}"
    target = cache_root() / "onnx" / f"{model_dir.name}-{_fingerprint(model_dir)}-{quantization or 'fp32'}{suffix}"
    if target.is_dir() and (name := onnx_file_name(target, quantization)) is not None:
        return target, name
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        name = export_onnx(model_dir, staging, quantization=quantization, kind=kind)
        if quantization is not None:
            (staging / FP32_FILE).unlink(missing_ok=True)
        try:
            staging.rename(target)
        except OSError:  # another process got there first
            if onnx_file_name(target, quantization) is None:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, name
