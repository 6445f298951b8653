"""Bi-encoder on sentence-transformers, run by PyTorch or by ONNX Runtime (fp32 or int8).

Product texts are encoded longest first in chunks (a progress bar per chunk), so each batch
holds texts of similar length and little padding is computed; vectors come back in input order.

Example:
    >>> enc = SentenceEncoder.from_config(EncoderConfig(backend="torch"))  # doctest: +SKIP
    >>> enc.encode_queries(["sofa"]).shape                                 # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shopmatch.encoders.config import EncoderConfig, detect_quantization_target
from shopmatch.encoders.models import resolve_model_dir
from shopmatch.encoders.onnx_export import cached_export, onnx_file_name, onnx_model_kwargs
from shopmatch.extras import MODEL_RUNTIME, require
from shopmatch.progress import track

logger = logging.getLogger(__name__)
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are local; never reach for the Hugging Face hub

CHUNK_BATCHES = 32  # batches per progress step
UNKNOWN_CACHE_SIZE = 20_000  # texts whose [UNK] share is kept (the least recently asked are dropped)


def length_sorted_order(texts: Sequence[str]) -> np.ndarray:
    """Indices of ``texts`` from longest to shortest (stable for equal lengths)."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    return np.argsort(-lengths, kind="stable")


def _find_onnx_file(directory: Path, quantization: str | None) -> str | None:
    """The ONNX file saved in an index: the requested one, else the only int8 one there
    (an index built with ``quantization = "auto"`` on another CPU keeps the file it was built with)."""
    name = onnx_file_name(directory, quantization)
    if name is None and quantization is not None:
        found = sorted((directory / "onnx").glob("model_*int8_*.onnx"))
        name = f"onnx/{found[0].name}" if len(found) == 1 else None
    return name


class SentenceEncoder:
    """A sentence-transformers model behind the :class:`~shopmatch.encoders.Encoder` interface.

    Args:
        model_dir: the model directory to load (for ONNX backends, one holding ``onnx_file``).
        backend: ``torch``, ``onnx`` or ``onnx-int8``.
        onnx_file: the ONNX file inside ``model_dir`` (ONNX backends only).
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        backend: str = "torch",
        onnx_file: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_dir = Path(model_dir)
        self.backend = backend
        self.onnx_file = onnx_file
        if backend == "torch":
            self.model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        else:
            if onnx_file is None:
                raise ValueError("an ONNX backend needs onnx_file")
            self.model = SentenceTransformer(
                str(model_dir),
                backend="onnx",
                device="cpu",
                local_files_only=True,
                model_kwargs=onnx_model_kwargs(onnx_file, spinning=True),
            )
        if max_length is not None:
            self.model.max_seq_length = min(max_length, self._position_limit())
        self.batch_size = batch_size
        # Hugging Face fast tokenizers fail when two threads use one at once ("Already borrowed"):
        # a server's thread pool takes turns (the model itself already uses every core).
        self._lock = threading.RLock()
        self._unknown: OrderedDict[str, float] = OrderedDict()  # text -> its [UNK] share (see unknown_share)
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix

    @classmethod
    def from_config(cls, config: EncoderConfig, *, onnx_dir: str | Path | None = None) -> SentenceEncoder:
        """Load the encoder ``config`` describes.

        For ONNX backends the exported model is read from ``onnx_dir`` (an index's ``encoder/``
        folder) when given; otherwise from the export cache (:func:`cached_export`), exporting
        it there on first use.
        """
        require("semantic", "the bi-encoder", MODEL_RUNTIME)
        kwargs = dict(
            batch_size=config.batch_size,
            max_length=config.max_length,
            query_prefix=config.query_prefix,
            document_prefix=config.document_prefix,
        )
        if config.backend == "torch":
            return cls(resolve_model_dir(config.model), backend="torch", **kwargs)
        quantization = None
        if config.backend == "onnx-int8":
            quantization = detect_quantization_target() if config.quantization == "auto" else config.quantization
        if onnx_dir is not None:
            name = _find_onnx_file(Path(onnx_dir), quantization)
            if name is None:
                raise ValueError(f"{onnx_dir}: no exported {config.backend} model")
            return cls(onnx_dir, backend=config.backend, onnx_file=name, **kwargs)
        directory, name = cached_export(resolve_model_dir(config.model), quantization=quantization)
        return cls(directory, backend=config.backend, onnx_file=name, **kwargs)

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def max_length(self) -> int:
        """Token limit of inputs (longer ones are truncated)."""
        return int(self.model.max_seq_length)

    def _position_limit(self) -> int:
        config = getattr(self.model[0], "auto_model", None)
        config = getattr(config, "config", None)
        return int(getattr(config, "max_position_embeddings", 512) or 512)

    def unknown_share(self, texts: Sequence[str]) -> np.ndarray:
        """Share of each text's tokens the model does not know (``[UNK]``), in [0, 1].

        all-MiniLM-L6-v2 has almost no Chinese characters: a Chinese query is nearly all
        ``[UNK]`` and its vector is noise, so the dense retriever skips such queries. The adaptive
        fusion asks it per query for the texts of the dense list's first products: the shares of
        the :data:`UNKNOWN_CACHE_SIZE` most recently asked texts are kept, since tokenizing a
        product's text costs about 0.2 ms.
        """
        tokenizer = self.model.tokenizer
        unk = getattr(tokenizer, "unk_token_id", None)
        out = np.zeros(len(texts), dtype=np.float32)
        if unk is None or not texts:
            return out
        with self._lock:
            shares = {}
            for text in texts:
                if text in self._unknown:
                    shares[text] = self._unknown[text]
                    self._unknown.move_to_end(text)  # the least recently asked are dropped first
            missing = [text for text in dict.fromkeys(texts) if text not in shares]
            if missing:
                ids = tokenizer(missing, add_special_tokens=False, truncation=True, max_length=self.max_length)
                for text, tokens in zip(missing, ids["input_ids"], strict=True):
                    shares[text] = sum(t == unk for t in tokens) / len(tokens) if tokens else 0.0
                    self._unknown[text] = shares[text]
                while len(self._unknown) > UNKNOWN_CACHE_SIZE:
                    self._unknown.popitem(last=False)
        for i, text in enumerate(texts):
            out[i] = shares[text]
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors of queries, ``(len(texts), dim)``."""
        return self._encode([self.query_prefix + t for t in texts])

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors of product texts, longest first in batches, with progress."""
        chunks = self.document_chunks(texts)
        texts = [self.document_prefix + t for t in texts]
        self._log_truncation(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in track(chunks, total=len(chunks), description="encoding products"):
            out[rows] = self._encode([texts[i] for i in rows])
        return out

    def document_chunks(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The rows :meth:`encode_documents` encodes together, chunk by chunk.

        An int8 model quantizes activations with one scale per batch, so a product's vector
        depends on the products encoded with it; encoding one of these chunks on its own gives the
        vectors the whole list would (a catalog loaded in these chunks matches one encoded at once).
        """
        order = length_sorted_order([self.document_prefix + t for t in texts])
        chunk = self.batch_size * CHUNK_BATCHES
        return [order[start : start + chunk] for start in range(0, len(order), chunk)]

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_truncated(self, texts: Sequence[str]) -> int:
        """How many texts exceed the token limit (a WordPiece/BPE token covers at least one
        character, so only texts longer than the limit in characters are tokenized)."""
        limit = self.max_length
        long = [t for t in texts if len(t) > limit - 2]
        if not long:
            return 0
        tokenizer = self.model.tokenizer
        counted = 0
        for start in range(0, len(long), 4096):
            with self._lock:
                ids = tokenizer(long[start : start + 4096], add_special_tokens=True, truncation=False, verbose=False)[
                    "input_ids"
                ]
            counted += sum(len(x) > limit for x in ids)
        return counted

    def _log_truncation(self, texts: Sequence[str]) -> None:
        truncated = self.count_truncated(texts)
        if truncated:
            logger.info(
                "%d of %d product texts are longer than %d tokens and were truncated",
                truncated,
                len(texts),
                self.max_length,
            )

    def save_onnx(self, directory: str | Path) -> str:
        """Copy the exported model (only the ONNX file in use) to ``directory``; returns its file name."""
        import shutil

        if self.backend == "torch" or self.onnx_file is None:
            raise ValueError("a torch encoder has no exported ONNX model")
        keep = Path(self.onnx_file).name

        def other_onnx_files(folder: str, names: list[str]) -> list[str]:
            return [n for n in names if n.endswith(".onnx") and n != keep] if Path(folder).name == "onnx" else []

        shutil.copytree(self.model_dir, directory, dirs_exist_ok=True, ignore=other_onnx_files)
        return self.onnx_file
