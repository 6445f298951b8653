"""Build the vector index a config asks for, and load any saved one.

A saved index is a directory with ``vector_index.json`` (kind, dtype, dimension, size) and the
files of its kind (``vectors.npy`` or ``hnsw.faiss``, plus ``ids.npy`` and ``alive.npy``).

Example:
    >>> import numpy as np
    >>> vecs = np.eye(3, dtype=np.float32)
    >>> build_vector_index(np.arange(3), vecs, VectorIndexConfig()).kind
    'exact'
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from shopmatch.index.base import VectorIndex, VectorIndexConfig
from shopmatch.index.exact import ExactIndex
from shopmatch.index.hnsw import HNSWIndex

META = "vector_index.json"


def empty_vector_index(dim: int, config: VectorIndexConfig, size_hint: int) -> VectorIndex:
    """An empty index of the kind ``config`` chooses for about ``size_hint`` vectors."""
    if config.resolved_kind(size_hint) == "hnsw":
        return HNSWIndex(
            dim, dtype=config.dtype, m=config.hnsw_m, ef_construction=config.ef_construction, ef_search=config.ef_search
        )
    return ExactIndex(dim, dtype=config.dtype)


def build_vector_index(ids: np.ndarray, vectors: np.ndarray, config: VectorIndexConfig) -> VectorIndex:
    """Index ``vectors`` under ``ids`` with the kind ``config`` chooses for their number."""
    index = empty_vector_index(vectors.shape[1], config, len(vectors))
    index.add(ids, vectors)
    return index


def save_vector_index(index: VectorIndex, directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    index.save(directory)
    meta = {"kind": index.kind, "dtype": str(index.dtype), "dim": index.dim, "size": len(index)}
    (directory / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def load_vector_index(directory: str | Path, *, mmap: bool = True, ef_search: int | None = None) -> VectorIndex:
    """Load a saved vector index (memory-mapped unless ``mmap=False``).

    Raises:
        ValueError: missing or inconsistent files (the message names the directory).
    """
    directory = Path(directory)
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{directory}: unreadable {META}: {err}") from None
    if meta.get("kind") == "exact":
        index = ExactIndex.load(directory, mmap=mmap)
    elif meta.get("kind") == "hnsw":
        index = HNSWIndex.load(directory, mmap=mmap, ef_search=ef_search or VectorIndexConfig().ef_search)
    else:
        raise ValueError(f"{directory}: unknown vector index kind {meta.get('kind')!r}")
    if index.dim != meta.get("dim"):
        raise ValueError(f"{directory}: dimension {index.dim} does not match {META} ({meta.get('dim')})")
    return index
