"""What every encoder offers: texts in, L2-normalized float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Encoder(Protocol):
    """Embeds queries and product texts into one vector space (a two-tower model).

    Both methods return ``(n, dim)`` float32 arrays with unit-length rows, so the inner
    product of a query and a product vector is their cosine similarity.
    """

    @property
    def dim(self) -> int: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...
