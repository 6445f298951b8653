"""MemoryProducts and DiskProducts agree."""

from __future__ import annotations

import numpy as np

from shopmatch.backends.inprocess.products import DiskProducts, MemoryProducts
from shopmatch.catalog import Product


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


def test_a_loaded_catalog_keeps_reading_its_own_files_after_the_directory_is_replaced(catalog, tmp_path):
    """Compaction renames a new index directory over the old one while searches still read the
    old catalog: its product ids must still be the old ones."""
    from shopmatch.store import atomic_directory

    target = tmp_path / "index"
    with atomic_directory(target) as tmp:
        MemoryProducts(catalog.products[:4]).save(tmp)
    loaded = DiskProducts(target)
    newer = [Product(f"new{i}", f"Replacement {i}") for i in range(4)]
    with atomic_directory(target) as tmp:
        MemoryProducts(newer).save(tmp)
    assert [loaded.id_of(row) for row in range(4)] == [p.id for p in catalog.products[:4]]
    assert loaded.record(0)["id"] == catalog.products[0].id
    assert loaded.row_of("new0") is None
