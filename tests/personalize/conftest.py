"""A tiny catalog of cables of two brands and a personalizer that learned 'the shopper's brand first'."""

from __future__ import annotations

import numpy as np
import pytest

from shopmatch.catalog import Product
from shopmatch.personalize.features import USER_FEATURE_NAMES
from shopmatch.personalize.model import train_personalizer

# BM25F puts the shortest titles first: the Acme cables (ids a*), then the Bolt ones (b*).
PRODUCTS = [
    *(Product(f"a{i}", "usb cable" + " usb" * i, brand="Acme", category=("Electronics", "Cables")) for i in range(3)),
    *(Product(f"b{i}", "usb cable" + " usb" * (3 + i), brand="Bolt", category=("Electronics", "Cables"))
      for i in range(3)),
]  # fmt: skip


@pytest.fixture(scope="session")
def personalizer_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    brand = rng.random(400).round(1)
    x = np.zeros((400, len(USER_FEATURE_NAMES)), dtype=np.float32)
    x[:, USER_FEATURE_NAMES.index("user_brand_affinity")] = brand
    x[:, USER_FEATURE_NAMES.index("user_history")] = 1.0
    y = (brand > 0.5).astype(int)
    model = train_personalizer(x, y, [10] * 40, np.zeros(400), rounds=20, min_data_in_leaf=5)
    return model.save(tmp_path_factory.mktemp("personal") / "personalizer")
