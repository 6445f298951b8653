"""The exclusion stage: products that mention what the query excludes go after the others.

Runs after fusion and re-ranking, over every candidate the pipeline kept, so ``cat treats
without chicken`` shows the treats without chicken first and the chicken ones after them
(demoted, not removed: a shopper may still want one, and the list stays as long). The order
within each group is kept. A demoted result's sources add ``excluded`` (its place and score before
the demotion), for explanations. Which product fields are read is ``[negation] fields``.

Example:
    >>> config = NegationConfig()
    >>> records = {0: {"id": "a", "title": "Chicken cat treats"}, 1: {"id": "b", "title": "Salmon cat treats"}}
    >>> from shopmatch.query.negation import parse_exclusions
    >>> exclusions = parse_exclusions("cat treats without chicken")
    >>> excluded_rows(exclusions, [0, 1], records.__getitem__, config).tolist()
    [True, False]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopmatch.catalog import Product
from shopmatch.errors import ConfigError
from shopmatch.hits import FusedHits, SourceHits
from shopmatch.query.negation import Exclusion, mentions
from shopmatch.settings import ConfigSection
from shopmatch.text.fields import field_text

FIELDS = ("title", "brand", "color", "category", "bullets", "attributes", "description")


@dataclass(frozen=True)
class NegationConfig(ConfigSection):
    """Settings of the exclusion stage (``[negation]`` in a pipeline config).

    Attributes:
        enabled: demote products that mention what a query excludes (``without …``).
        fields: the product fields read for a mention (the title by default: bullets often list
            what a product lacks in words the negation rules do not catch).
    """

    SECTION = "negation"

    enabled: bool = True
    fields: tuple[str, ...] = ("title",)

    def check(self) -> None:
        if not self.fields or any(f not in FIELDS for f in self.fields):
            raise ConfigError(f"negation.fields must be a non-empty list of {', '.join(FIELDS)}; got {self.fields!r}")


def excluded_rows(
    exclusions: Sequence[Exclusion],
    rows: Sequence[int],
    record_of: Callable[[int], Mapping[str, Any]],
    config: NegationConfig,
) -> np.ndarray:
    """For each catalog row, whether its product mentions one of a query's ``exclusions``."""
    out = np.zeros(len(rows), dtype=bool)
    if not exclusions or not config.enabled:
        return out
    for i, row in enumerate(rows):
        product = Product.from_dict(record_of(int(row)))
        text = "\n".join(field_text(product, name) for name in config.fields)
        out[i] = any(mentions(text, exclusion) for exclusion in exclusions)
    return out


def first_not_excluded(
    exclusions: Sequence[Exclusion],
    rows: Sequence[int],
    record_of: Callable[[int], Mapping[str, Any]],
    config: NegationConfig,
    n: int,
) -> list[int]:
    """The first ``n`` of ``rows`` (in their order) whose product does not mention one of
    ``exclusions``; reads only as many products as it needs."""
    if not exclusions or not config.enabled:
        return [int(row) for row in rows[:n]]
    out: list[int] = []
    for row in rows:
        if len(out) == n:
            break
        if not excluded_rows(exclusions, [row], record_of, config)[0]:
            out.append(int(row))
    return out


def demote_excluded(
    hits: FusedHits,
    exclusions: Sequence[Sequence[Exclusion]],
    record_of: Callable[[int], Mapping[str, Any]],
    config: NegationConfig,
) -> FusedHits:
    """``hits`` with each query's excluded products moved after the others (see the module
    docstring); ``exclusions`` are each query's."""
    if not config.enabled or not any(exclusions):
        return hits
    rows, scores = hits.rows.copy(), hits.scores.copy()
    sources = {name: SourceHits(s.ranks.copy(), s.scores.copy()) for name, s in hits.sources.items()}
    excluded = SourceHits(np.zeros(rows.shape, dtype=np.int32), np.full(rows.shape, np.nan, dtype=np.float32))
    for q, query_exclusions in enumerate(exclusions):
        found = int((hits.rows[q] >= 0).sum())
        bad = excluded_rows(query_exclusions, hits.rows[q, :found], record_of, config)
        if not bad.any():
            continue
        order = np.concatenate([np.flatnonzero(~bad), np.flatnonzero(bad)])
        rows[q, :found] = hits.rows[q, order]
        scores[q, :found] = hits.scores[q, order]
        for name, source in hits.sources.items():
            sources[name].ranks[q, :found] = source.ranks[q, order]
            sources[name].scores[q, :found] = source.scores[q, order]
        excluded.ranks[q, :found] = np.where(bad[order], order + 1, 0)
        excluded.scores[q, :found] = np.where(bad[order], hits.scores[q, order], np.nan)
    return FusedHits(scores, rows, {**sources, "excluded": excluded})
