"""Shopper profiles kept live by the service from the events it captures (``shopmatch serve --events DIR``).

At start-up the store is the ``[personalize] profiles`` file of the served index (when it names
one), brought up to date with the interactions of the events directory that came after it; each
``POST /events`` then counts its clicks, carts and purchases (whose shopper is the event's
``user_id``, else its search's). A search with a ``user_id`` is personalized with the profile as
it is at that moment.

Example:
    >>> facts = served_facts(index)("B07CXG6C9W")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from shopmatch.backends.base import ServedIndex
from shopmatch.errors import DataError
from shopmatch.events.io import read_events
from shopmatch.events.model import Impression, Interaction
from shopmatch.personalize.profiles import FactsOf, ProductFacts, ProfileStore

logger = logging.getLogger(__name__)


def served_facts(index: ServedIndex) -> FactsOf:
    """A product id's facts as the served index holds it now (None: not in the catalog)."""

    def facts_of(product_id: str) -> ProductFacts | None:
        record = index.get(product_id)
        return ProductFacts.of(record) if record is not None else None

    return facts_of


def live_profiles(index: ServedIndex, files: Sequence[Path]) -> ProfileStore:
    """The store a service starts with: the index's ``[personalize] profiles`` file (or none), plus
    the interactions in ``files`` later than what the file counted (unreadable lines are skipped
    and logged).

    Raises:
        DataError: the profiles file cannot be read (the message names it).
    """
    settings = index.snapshot().config.personalize
    store = ProfileStore.load(settings.profiles) if settings.profiles else ProfileStore(settings)
    impressions: dict[str, Impression] = {}
    later: list[Interaction] = []
    for path in files:
        try:
            log = read_events(path, on_error="skip")
        except DataError as error:
            logger.warning("profiles: %s not read: %s", path, error)
            continue
        impressions.update(log.by_search_id)
        later += [e for e in log.interactions if store.until is None or e.ts > store.until]
    later.sort(key=lambda e: e.ts)
    counted = store.update(later, served_facts(index), shown=impressions.get)
    logger.info("shopper profiles: %d (%d interactions counted from %d events files)", len(store), counted, len(files))
    return store
