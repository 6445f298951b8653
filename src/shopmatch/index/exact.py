"""Exact inner-product search with numpy: the reference every approximate index is measured against.

Example:
    >>> import numpy as np
    >>> index = ExactIndex(dim=2)
    >>> index.add(np.array([7, 9]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> index.search(np.array([[0.6, 0.8]]), k=1).rows.tolist()
    [[9]]
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from shopmatch.hits import SearchHits
from shopmatch.index.base import IdTable, check_ids, check_vectors

SMALL_BATCH = 16  # queries scored with single-threaded BLAS (see _blas_threads)
SCORE_BLOCK = 1 << 24  # query × vector scores computed at once (64 MiB of float32)
CONVERT_BLOCK = 1 << 16  # float16 vectors converted to float32 this many at a time


_controller = None


def _blas_threads(n_queries: int):
    """One BLAS thread for a few queries, all of them for batches.

    A query's vector is computed by ONNX Runtime just before the search; ORT's threads keep
    spinning for a moment after it returns, and a multi-threaded BLAS product then fights them
    for the cores: measured on 2 cores, encode + search took 7.2 ms instead of 2.6 ms.
    """
    global _controller
    if n_queries >= SMALL_BATCH:
        return contextlib.nullcontext()
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` largest scores of each row, best first."""
    k = min(k, scores.shape[1])
    if k == 0:
        empty = np.zeros((len(scores), 0))
        return empty.astype(np.int64), empty.astype(np.float32)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


class ExactIndex:
    """Brute-force search over all vectors (float32 or float16 storage)."""

    kind = "exact"

    def __init__(self, dim: int, *, dtype: str = "float32") -> None:
        self._dim = dim
        self.dtype = np.dtype(dtype)
        self.vectors = np.zeros((0, dim), dtype=self.dtype)
        self.table = IdTable(np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.table)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def num_deleted(self) -> int:
        return self.table.num_deleted

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under ``ids``; an id already present gets the new vector."""
        vectors = check_vectors(vectors, self._dim)
        ids = check_ids(ids, len(vectors))
        self.table.append(ids)
        self.vectors = np.concatenate([self.vectors, vectors.astype(self.dtype)])

    def delete(self, ids: np.ndarray) -> int:
        """Remove ``ids``; returns how many were present."""
        return len(self.table.delete(ids))

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids`` as float32 (KeyError for an unknown id)."""
        vectors = self.vectors.view(np.ndarray) if isinstance(self.vectors, np.memmap) else self.vectors
        return np.asarray(vectors[self.table.slots(ids)], dtype=np.float32)  # memmap's indexing: µs of Python

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """Inner products of each query with every slot, ``(n_queries, n_slots)``; deleted slots -inf."""
        queries = check_vectors(queries, self._dim, "queries")
        if self.dtype == np.float32:
            out = queries @ np.asarray(self.vectors).T
        else:
            out = np.empty((len(queries), len(self.vectors)), dtype=np.float32)
            for start in range(0, len(self.vectors), CONVERT_BLOCK):
                block = np.asarray(self.vectors[start : start + CONVERT_BLOCK], dtype=np.float32)
                out[:, start : start + len(block)] = queries @ block.T
        if self.table.num_deleted:
            out[:, ~self.table.alive] = -np.inf
        return out

    def search(self, queries: np.ndarray, k: int) -> SearchHits:
        """Top ``k`` ids and inner products per query; ``-1`` pads when fewer than ``k`` are live."""
        queries = check_vectors(queries, self._dim, "queries")
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        per_block = max(1, SCORE_BLOCK // max(1, len(self.vectors)))
        live = len(self.table)
        for start in range(0, len(queries), per_block):
            with _blas_threads(len(queries)):
                block = self.scores(queries[start : start + per_block])
            slots, values = top_k(block, min(k, live))
            end = start + len(block)
            rows[start:end, : slots.shape[1]] = self.table.ids[slots]
            scores[start:end, : slots.shape[1]] = values
        return SearchHits(scores, rows)

    def save(self, directory: Path) -> None:
        np.save(directory / "vectors.npy", np.asarray(self.vectors))
        self.table.save(directory)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> ExactIndex:
        vectors = np.load(directory / "vectors.npy", mmap_mode="r" if mmap else None)
        index = cls(vectors.shape[1], dtype=str(vectors.dtype))
        index.vectors = vectors
        index.table = IdTable.load(directory)
        if len(index.table.ids) != len(vectors):
            raise ValueError(f"{directory}: {len(vectors)} vectors but {len(index.table.ids)} ids")
        return index
