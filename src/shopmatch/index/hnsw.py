"""Approximate inner-product search with a FAISS HNSW graph (float32 or float16 storage).

Deleted ids are tombstones: a bitmap selector makes the graph search skip them. The graph
is written with ``faiss.write_index`` (no pickle) and memory-mapped on load.

Example:
    >>> import numpy as np
    >>> index = HNSWIndex(dim=2, m=8)
    >>> index.add(np.array([7, 9]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> index.search(np.array([[0.6, 0.8]]), k=1).rows.tolist()
    [[9]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopmatch.extras import require
from shopmatch.hits import SearchHits
from shopmatch.index.base import IdTable, check_ids, check_vectors
from shopmatch.progress import track

ADD_CHUNK = 20_000
FILE = "hnsw.faiss"


def _faiss():
    require("semantic", "the HNSW vector index", ("faiss",))
    import faiss

    return faiss


class HNSWIndex:
    """FAISS ``IndexHNSWFlat`` (float32) or ``IndexHNSWSQ`` with fp16 codes (float16)."""

    kind = "hnsw"

    def __init__(
        self, dim: int, *, dtype: str = "float32", m: int = 32, ef_construction: int = 200, ef_search: int = 512
    ) -> None:
        faiss = _faiss()
        if dtype == "float16":
            self.index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, m, faiss.METRIC_INNER_PRODUCT)
        else:
            self.index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = ef_construction
        self.dtype = dtype
        self.ef_search = ef_search
        self.table = IdTable(np.zeros(0, dtype=np.int64))
        self._selector = None
        self._mapped = False

    def __len__(self) -> int:
        return len(self.table)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def num_deleted(self) -> int:
        return self.table.num_deleted

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert vectors under ``ids`` (an id already present gets the new vector)."""
        vectors = check_vectors(vectors, self.dim)
        ids = check_ids(ids, len(vectors))
        if self._mapped:  # FAISS aborts the process when a memory-mapped index grows: copy it first
            faiss = _faiss()
            self.index = faiss.deserialize_index(faiss.serialize_index(self.index))
            self._mapped = False
        if not self.index.is_trained:
            self.index.train(vectors[:ADD_CHUNK])
        starts = range(0, len(vectors), ADD_CHUNK)
        for start in track(starts, total=len(starts), description="building HNSW graph"):
            self.index.add(vectors[start : start + ADD_CHUNK])
        self.table.append(ids)
        self._selector = None

    def delete(self, ids: np.ndarray) -> int:
        removed = len(self.table.delete(ids))
        self._selector = None
        return removed

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        slots = self.table.slots(ids)
        if len(slots) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self.index.reconstruct_batch(np.asarray(slots, dtype=np.int64)), dtype=np.float32)

    def _params(self, k: int):
        faiss = _faiss()
        if self.table.num_deleted and self._selector is None:
            bitmap = np.packbits(self.table.alive, bitorder="little")
            self._selector = (faiss.IDSelectorBitmap(len(self.table.alive), faiss.swig_ptr(bitmap)), bitmap)
        selector = self._selector[0] if self.table.num_deleted else None
        return faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k), sel=selector)

    def search(self, queries: np.ndarray, k: int) -> SearchHits:
        queries = check_vectors(queries, self.dim, "queries")
        scores, slots = self.index.search(queries, k, params=self._params(k))
        found = slots >= 0
        rows = np.where(found, self.table.ids[np.where(found, slots, 0)], -1)
        return SearchHits(np.where(found, scores, 0.0).astype(np.float32), rows.astype(np.int64))

    def save(self, directory: Path) -> None:
        _faiss().write_index(self.index, str(directory / FILE))
        self.table.save(directory)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True, ef_search: int = 512) -> HNSWIndex:
        faiss = _faiss()
        flags = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP) if mmap else 0
        loaded = faiss.read_index(str(directory / FILE), flags)
        index = cls.__new__(cls)
        index.index = loaded
        index.dtype = "float16" if isinstance(loaded, faiss.IndexHNSWSQ) else "float32"
        index.ef_search = ef_search
        index.table = IdTable.load(directory)
        index._selector = None
        index._mapped = bool(mmap)
        if len(index.table.ids) != loaded.ntotal:
            raise ValueError(f"{directory}: {loaded.ntotal} vectors but {len(index.table.ids)} ids")
        return index
