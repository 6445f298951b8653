"""The personalization stage: the top ``personalize.top_n`` of a query's final candidates re-ordered by
their plain score plus the personalizer's score of their user features.

It runs after the learned ranker (or fusion and the cross-encoder without one), before the exclusion
demotion, and only for a query with a shopper profile (:func:`profile_of`): a search without a
``user_id``, or for a shopper with no history, keeps the plain ranking exactly.

Example:
    >>> hits = personalize_hits(model, snapshot, profile, hits, top_n=100)  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from shopmatch.backends.base import IndexSnapshot
from shopmatch.hits import FusedHits, SourceHits
from shopmatch.personalize.features import user_features
from shopmatch.personalize.model import configured_personalizer
from shopmatch.personalize.profiles import ProfileStore, UserProfile
from shopmatch.query.query import Query
from shopmatch.rank.model import Ranker


def profile_of(index: IndexSnapshot, query: Query, now: datetime | None = None) -> UserProfile | None:
    """The shopper profile a query is personalized with: the one it carries (the service's live
    store puts it there), else its ``user_id``'s in the ``[personalize] profiles`` file, decayed to
    ``now``; None without a ``user_id`` or a history."""
    if query.profile is not None:
        return query.profile if not query.profile.empty else None
    path = index.config.personalize.profiles
    if query.user_id is None or not path:
        return None
    profile = configured_profiles(path).get(query.user_id, now or datetime.now(UTC))
    return profile if profile is not None and not profile.empty else None


def personalized(index: IndexSnapshot, query: Query, hits: FusedHits, *, top_n: int | None = None) -> FusedHits:
    """The search path's hook: ``hits`` re-ordered for the query's shopper when ``[personalize]`` has
    a model and the query a profile (:func:`profile_of`); else ``hits`` itself."""
    settings = index.config.personalize
    if not settings.enabled or (query.user_id is None and query.profile is None):
        return hits
    profile = profile_of(index, query)
    if profile is None:
        return hits
    model = configured_personalizer(settings.model)
    return personalize_hits(model, index, profile, hits, top_n=top_n or settings.top_n)


def personalize_hits(
    model: Ranker, index: IndexSnapshot, profile: UserProfile | None, hits: FusedHits, *, top_n: int
) -> FusedHits:
    """One query's ``hits`` with its first ``top_n`` re-ordered by ``score + model(user features)``
    (the rest after them, in their order); the sources add ``personal`` (the place after it)."""
    found = int((hits.rows[0] >= 0).sum())
    n = min(found, top_n)
    if not n or profile is None or profile.empty:
        return hits
    rows = hits.rows[0, :n]
    records = [index.record(int(row)) for row in rows]
    scores = hits.scores[0, :n].astype(np.float64) + model.predict(user_features(profile, records))
    ranked = np.argsort(-scores, kind="stable")  # ties keep the plain order
    order = np.concatenate([ranked, np.arange(n, found)])
    width = hits.rows.shape[1]
    out_rows = np.full((1, width), -1, dtype=np.int64)
    out_scores = np.zeros((1, width), dtype=np.float32)
    out_rows[0, :found] = hits.rows[0, order]
    tail = hits.scores[0, n:found] - hits.scores[0, n:found].max(initial=0.0) + scores.min() - 1.0
    out_scores[0, :found] = np.concatenate([scores, tail])[order]
    sources = {}
    for name, source in hits.sources.items():
        ranks = np.zeros((1, width), dtype=np.int32)
        values = np.full((1, width), np.nan, dtype=np.float32)
        ranks[0, :found] = source.ranks[0, order]
        values[0, :found] = source.scores[0, order]
        sources[name] = SourceHits(ranks, values)
    personal_ranks = np.zeros((1, width), dtype=np.int32)
    personal_scores = np.full((1, width), np.nan, dtype=np.float32)
    personal_ranks[0, :n] = np.arange(1, n + 1)
    personal_scores[0, :n] = out_scores[0, :n]
    sources["personal"] = SourceHits(personal_ranks, personal_scores)
    return FusedHits(out_scores, out_rows, sources)


def configured_profiles(path: str) -> ProfileStore:
    """The profiles file ``[personalize] profiles`` names, read once per version of the file.

    Raises:
        DataError: see :meth:`ProfileStore.load`.
    """
    resolved = Path(path).resolve()
    try:
        stamp = resolved.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _cached_profiles(str(resolved), stamp)


@lru_cache(maxsize=4)
def _cached_profiles(path: str, stamp: int) -> ProfileStore:
    return ProfileStore.load(path)
