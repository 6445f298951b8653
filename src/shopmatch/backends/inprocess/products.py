"""Where an index finds product records by catalog row: in memory, or on disk.

On disk (inside an index directory) products are one JSON line each in ``products.jsonl``,
with ``offsets.npy`` giving each line's byte offset, so a loaded index reads only the
products a search returns instead of holding the whole catalog in memory. Every file is opened
when the index is loaded: compaction replaces the directory by a rename, and a loaded index
must go on reading the files it was loaded from.
"""

from __future__ import annotations

import json
import mmap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.catalog import Product


class MemoryProducts:
    """Products held in a list (a freshly built pipeline)."""

    def __init__(self, products: Sequence[Product]) -> None:
        self._products = list(products)
        self._rows = {p.id: i for i, p in enumerate(self._products)}

    def __len__(self) -> int:
        return len(self._products)

    def record(self, row: int) -> dict[str, Any]:
        return self._products[row].to_dict()

    def id_of(self, row: int) -> str:
        return self._products[row].id

    def row_of(self, product_id: str) -> int | None:
        return self._rows.get(product_id)

    def save(self, directory: Path) -> None:
        offsets = np.zeros(len(self._products) + 1, dtype=np.int64)
        with (
            open(directory / "products.jsonl", "wb") as data,
            open(directory / "ids.txt", "w", encoding="utf-8") as ids,
        ):
            position = 0
            for row, product in enumerate(self._products):
                line = json.dumps(product.to_dict(), ensure_ascii=False).encode("utf-8") + b"\n"
                data.write(line)
                ids.write(product.id + "\n")
                position += len(line)
                offsets[row + 1] = position
        np.save(directory / "offsets.npy", offsets, allow_pickle=False)


class DiskProducts:
    """Products read lazily from an index directory (memory-mapped)."""

    def __init__(self, directory: Path) -> None:
        self._offsets = np.load(directory / "offsets.npy", mmap_mode="r", allow_pickle=False)
        self._file = open(directory / "products.jsonl", "rb")
        size = int(self._offsets[-1])
        self._data = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self._ids_file = open(directory / "ids.txt", encoding="utf-8")  # read when first needed
        self._ids: list[str] | None = None
        self._ids_lock = threading.Lock()  # concurrent searches may ask for the ids first together
        self._rows: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def record(self, row: int) -> dict[str, Any]:
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        return json.loads(self._data[start:end])

    def _load_ids(self) -> list[str]:
        with self._ids_lock:
            if self._ids is None:
                with self._ids_file:
                    self._ids = self._ids_file.read().split("\n")[: len(self)]
        return self._ids

    def id_of(self, row: int) -> str:
        return self._load_ids()[row]

    def row_of(self, product_id: str) -> int | None:
        if self._rows is None:
            self._rows = {pid: i for i, pid in enumerate(self._load_ids())}
        return self._rows.get(product_id)
