"""Feature groups: features a ranker reads beyond :data:`~shopmatch.rank.features.FEATURE_NAMES`,
with data stored in the ranker directory (event features: :mod:`shopmatch.rank.event_features`).

A ranker's manifest lists its groups (``feature_groups``); its features are the base features, then
each group's, in that order. :func:`ranker_features` is what the stage and ``explain`` compute.

Example:
    >>> sorted(GROUPS)
    ['events']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.errors import ShopmatchError
from shopmatch.rank.event_features import EventFeatures

GROUPS: dict[str, type] = {EventFeatures.name: EventFeatures}
"""Group name → its class (``names``, ``rows_values(index, rows)``, ``save(dir)``, ``load(dir)``)."""


def load_groups(directory: str | Path, names: Sequence[str]) -> tuple[Any, ...]:
    """The groups a manifest names, read from the ranker directory.

    Raises:
        ShopmatchError: an unknown group or an unreadable file (the message names it).
    """
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        raise ShopmatchError(f"{directory}: unknown feature group {unknown[0]!r} (known: {', '.join(GROUPS)})")
    return tuple(GROUPS[n].load(directory) for n in names)


def group_names(groups: Sequence[Any]) -> tuple[str, ...]:
    """The feature names the groups add, in order."""
    return tuple(name for group in groups for name in group.names)


def ranker_features(ranker, index, query, prepared: Mapping[str, Any], hits, n: int) -> np.ndarray:
    """The features ``ranker`` reads of the first ``n`` candidates of ``hits``: the base features,
    then those of its groups."""
    from shopmatch.rank.features import candidate_features

    base = candidate_features(index, query, prepared, hits, n)
    groups = getattr(ranker, "groups", ())
    if not groups:
        return base
    rows = hits.rows[0, : len(base)]
    return np.hstack([base, *(group.rows_values(index, rows) for group in groups)])
