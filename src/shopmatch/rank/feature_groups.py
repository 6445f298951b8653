"""Feature groups: features a ranker reads beyond :data:`~shopmatch.rank.features.FEATURE_NAMES`,
with data stored in the ranker directory (event features: :mod:`shopmatch.rank.event_features`;
category intent: :mod:`shopmatch.rank.intent_features`).

A ranker's manifest lists its groups (``feature_groups``); its features are the base features, then
each group's, in that order. :func:`ranker_features` is what the stage and ``explain`` compute. A
group reads either the candidates' rows (``rows_values(index, rows)``) or, when it needs the query
too, the whole :class:`~shopmatch.rank.groups.CandidateContext` (``context_values(ctx)``); a group
with ``check(index)`` refuses an index it cannot read when the ranker is attached to it
(:func:`check_groups`).

Example:
    >>> sorted(GROUPS)
    ['events', 'intent']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.errors import ShopmatchError
from shopmatch.rank.event_features import EventFeatures
from shopmatch.rank.groups import CandidateContext
from shopmatch.rank.intent_features import IntentFeatures
from shopmatch.rank.model import MANIFEST_FILE, RankerError

GROUPS: dict[str, type] = {EventFeatures.name: EventFeatures, IntentFeatures.name: IntentFeatures}
"""Group name → its class (``names``, ``rows_values(index, rows)`` or ``context_values(ctx)``,
``save(dir)``, ``load(dir)``, optionally ``check(index)``)."""


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
    return np.hstack([base, group_features(groups, index, query, prepared, hits, len(base))])


def group_features(groups: Sequence[Any], index, query, prepared: Mapping[str, Any], hits, n: int) -> np.ndarray:
    """``(n, len(group_names(groups)))`` float32: the groups' features of the first ``n`` candidates."""
    ctx = CandidateContext(index, query, prepared, hits, n)
    blocks = [
        group.context_values(ctx) if hasattr(group, "context_values") else group.rows_values(index, ctx.rows)
        for group in groups
    ]
    return np.hstack([np.zeros((n, 0), np.float32), *blocks]).astype(np.float32)


def check_groups(ranker, index, source: str | Path = "") -> None:
    """Refuse to attach ``ranker`` (read from ``source``, its directory) to an ``index`` one of its
    groups cannot read.

    Raises:
        RankerError: the group's reason, after the ranker's manifest when ``source`` is given.
    """
    for group in getattr(ranker, "groups", ()) if ranker is not None else ():
        if hasattr(group, "check"):
            try:
                group.check(index)
            except ShopmatchError as err:
                raise RankerError(f"{Path(source) / MANIFEST_FILE}: {err}" if source else str(err)) from None


def default_groups(index) -> tuple[Any, ...]:
    """The groups ``shopmatch train ranker --judgments`` adds for ``index``: ``intent`` when it has an
    intent model."""
    intent = IntentFeatures.of_index(index)
    return () if intent is None else (intent,)
