"""What a group of ranker features is: named columns and the function that computes them for one
query's candidates (:class:`FeatureGroup`), and what that function reads (:class:`CandidateContext`).

A module that adds features (events, user affinity, …) defines a :class:`FeatureGroup` here-style
and :data:`shopmatch.rank.features.FEATURE_GROUPS` lists it; this module imports nothing of
``shopmatch.rank`` so that such a module can be imported by ``features`` without a cycle.

Example:
    >>> group = FeatureGroup("constant", ("one",), lambda ctx: np.ones((ctx.n, 1), np.float32))
    >>> group.features
    ('one',)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.hits import FusedHits
from shopmatch.query.query import Query


@dataclass
class CandidateContext:
    """One query's first ``n`` candidates as the ranker stage sees them: the index, the understood
    query, its prepared forms (per retriever), the fused hits (rows, scores, per-source places)."""

    index: IndexSnapshot
    query: Query
    prepared: Mapping[str, Any]
    hits: FusedHits
    n: int
    memo: dict[str, Any] = field(default_factory=dict)  # what groups share (the product tables, the query's terms)

    @cached_property
    def rows(self) -> np.ndarray:
        """The candidates' rows in the index, in order."""
        return self.hits.rows[0, : self.n].astype(np.int64)

    @cached_property
    def records(self) -> list[Mapping[str, Any]]:
        """The candidates' product records (read once, shared by the groups)."""
        return [self.index.record(int(row)) for row in self.rows]


@dataclass(frozen=True)
class FeatureGroup:
    """Named feature columns and ``compute(context) -> (n, len(features))`` float32 values.

    Missing values are sentinels (``MISSING_SCORE``, ``MISSING_RANK``), never NaN."""

    name: str
    features: tuple[str, ...]
    compute: Callable[[CandidateContext], np.ndarray]
