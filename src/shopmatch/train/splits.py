"""The one train/dev split of every recipe: by query for judgments, by row for pair sets; seeded.

Judgments are split by query, never by pair: a query whose products sit on both sides would let
the dev metric reward memorized queries. A pair set has no queries to keep together, so its rows
are split. Either way the held-out units are a seeded random sample (the same seed, the same
split), at least one unit on each side.

Example:
    >>> train, dev = split_dev([("a", "b", 1), ("a", "c", 0), ("d", "e", 1), ("d", "f", 0)], 0.25, seed=1)
    >>> len(train), len(dev)
    (3, 1)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar, overload

from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import Judgments
from shopmatch.settings import require_number

T = TypeVar("T")


@overload
def split_dev(data: Judgments, fraction: float = 0.1, *, seed: int = 0) -> tuple[Judgments, Judgments]: ...


@overload
def split_dev(data: Sequence[T], fraction: float = 0.1, *, seed: int = 0) -> tuple[list[T], list[T]]: ...


def split_dev(data, fraction=0.1, *, seed=0):
    """Hold out a seeded share of the queries (judgments) or of the rows (anything else): ``(train, dev)``.

    The held-out units are the first ``round(fraction · n)`` of a seeded shuffle of the sorted
    query ids (judgments) or of the row indices (at least 1, at most ``n − 1``).

    Raises:
        ConfigError: ``fraction`` is not in (0, 1).
        DataError: fewer than two queries (rows) to split.
    """
    if not 0.0 < require_number("split", "dev_fraction", fraction) < 1.0:
        raise ConfigError(f"split.dev_fraction must be a number in (0, 1), got {fraction!r}")
    by_query = isinstance(data, Judgments)
    units = list(data.query_ids) if by_query else list(range(len(data)))
    if len(units) < 2:
        what = "judged query" if by_query else "row"
        raise DataError(f"{len(units)} {what}(s): need at least 2 to hold out a dev set")
    random.Random(seed).shuffle(units)
    held = set(units[: min(max(1, round(fraction * len(units))), len(units) - 1)])
    if by_query:
        return data.subset(q for q in data.query_ids if q not in held), data.subset(held)
    return [row for i, row in enumerate(data) if i not in held], [row for i, row in enumerate(data) if i in held]


def hold_out(data, *, dev=None, fraction: float = 0.0, seed: int = 0):
    """The ``(train, dev)`` a recipe trains with: the given ``dev`` set, a seeded ``fraction`` of
    ``data`` held out (:func:`split_dev`), or no dev set (``None``) when ``fraction`` is 0."""
    if dev is not None:
        return data, dev
    if fraction:
        return split_dev(data, fraction, seed=seed)
    return data, None
