"""A small hybrid index (BM25F + the tiny random bi-encoder) for the service tests, built once;
each test gets its own copy, since the service writes to its index and log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HOSTILE_TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> Evil Mug'
EXTRA_PRODUCTS = [
    {"id": "x-script", "title": HOSTILE_TITLE, "brand": "<b>Bold</b>", "category": ["Home", "Kitchen"], "price": 7.5},
    {
        "id": "x-zh-1",
        "title": "无线蓝牙耳机 降噪 运动款",
        "brand": "声动",
        "category": ["数码", "耳机"],
        "price": 199.0,
    },
    {"id": "x-zh-2", "title": "65W 氮化镓 快充 充电器", "brand": "快电", "category": ["数码", "充电器"], "price": 89.0},
]


def service_products(catalog) -> list[dict]:
    """The fixture catalog (images dropped: a browser must not fetch anything) plus EXTRA_PRODUCTS."""
    records = []
    for product in catalog.products:
        record = product.to_dict()
        record.pop("image", None)
        records.append(record)
    return records + EXTRA_PRODUCTS


@pytest.fixture(scope="session")
def service_index_template(catalog, tiny_hybrid_config, tmp_path_factory) -> Path:
    from shopmatch.catalog import Product
    from shopmatch.pipeline import SearchPipeline

    products = [Product.from_dict(r) for r in service_products(catalog)]
    return SearchPipeline.build(products, tiny_hybrid_config).save(tmp_path_factory.mktemp("svc") / "index")


@pytest.fixture
def service_index(service_index_template, tmp_path) -> Path:
    """A private copy of the service test index (and no log yet)."""
    target = tmp_path / "index"
    shutil.copytree(service_index_template, target)
    return target
