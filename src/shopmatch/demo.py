"""The bundled demo data and the demo job (`shopmatch demo`, `make demo`).

Two datasets ship inside the package:

- ``esci-us-150``: 150 queries of the Amazon Shopping Queries Dataset (ESCI, Apache-2.0; see
  its NOTICE.md for the citation) with every judged product: 6,764 products, 6,678 judgments.
- ``zh-sample``: 45 Chinese products and 11 judged queries written for this project.

Example:
    >>> sorted(DEMO_DATASETS)
    ['esci-us-150', 'zh-sample']
    >>> demo_files("zh-sample")["products"].name
    'products.jsonl'
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from shopmatch.judgments import GainMap

DEMO_DATASETS = {
    "esci-us-150": {
        "products": "products.jsonl.gz",
        "judgments": "judgments.tsv.gz",
        "gains": "E=1,S=0.1,C=0.01,I=0",
        "queries": ["t towels kitchen", "waterproof kindle", "12 inch memory foam mattress queen"],
    },
    "zh-sample": {
        "products": "products.jsonl",
        "judgments": "judgments.tsv",
        "gains": "offset=0,relevant>=2",
        "queries": ["蓝牙耳机 降噪", "65W 充电器"],
    },
}


def demo_files(name: str) -> dict[str, Path]:
    """Paths of a bundled dataset's products, judgments and NOTICE."""
    if name not in DEMO_DATASETS:
        raise KeyError(f"unknown demo dataset {name!r}; bundled: {', '.join(DEMO_DATASETS)}")
    root = Path(str(files("shopmatch") / "demo_data" / name))
    spec = DEMO_DATASETS[name]
    return {"products": root / spec["products"], "judgments": root / spec["judgments"], "notice": root / "NOTICE.md"}


def demo_gains(name: str) -> GainMap:
    return GainMap.parse(DEMO_DATASETS[name]["gains"])


def build_shop_index(index_dir: Path) -> Path:
    """One index of both demo catalogs for the demo service, made the way a shop's feed would:
    a copy of the ESCI index, the Chinese products upserted through the live index, compacted.

    Expects ``shopmatch demo`` to have written ``index_dir/esci-us-150``. Returns ``index_dir/shop``.
    """
    import shutil

    from shopmatch.backends.inprocess.live import LiveIndex, wal_path_for
    from shopmatch.catalog import read_catalog

    shop = Path(index_dir) / "shop"
    shutil.rmtree(shop, ignore_errors=True)
    wal_path_for(shop).unlink(missing_ok=True)
    shutil.copytree(Path(index_dir) / "esci-us-150", shop)
    live = LiveIndex(shop, compact_after=0)
    try:
        live.upsert([p.to_dict() for p in read_catalog(demo_files("zh-sample")["products"]).products])
        live.compact()
    finally:
        live.close()
    return shop
