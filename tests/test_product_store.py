"""MemoryProducts and DiskProducts agree."""

from __future__ import annotations

import numpy as np

from shopmatch.backends.inprocess.products import DiskProducts, MemoryProducts


def test_memory_and_disk_agree(catalog, tmp_path):
    memory = MemoryProducts(catalog.products)
    memory.save(tmp_path)
    disk = DiskProducts(tmp_path)
    assert len(disk) == len(memory) == 32
    for row in range(32):
        assert disk.record(row) == memory.record(row)
        assert disk.id_of(row) == memory.id_of(row)
        assert disk.row_of(memory.id_of(row)) == memory.row_of(memory.id_of(row)) == row
    assert disk.row_of("nope") is None and memory.row_of("nope") is None
    offsets = np.load(tmp_path / "offsets.npy", allow_pickle=False)
    assert offsets.dtype == np.int64 and offsets[0] == 0
    assert offsets[-1] == (tmp_path / "products.jsonl").stat().st_size


def test_empty_store(tmp_path):
    MemoryProducts([]).save(tmp_path)
    disk = DiskProducts(tmp_path)
    assert len(disk) == 0 and disk.row_of("x") is None
