"""Shopper events from HTTP requests: search ids, the impression of a search, a checked ``POST /events`` batch.

Every check of an event is :func:`shopmatch.events.parse_event`'s; this module only says where in
the request the problem is (``events[3].position``) and turns it into a 4xx :class:`ApiError`.

Example:
    >>> len(new_search_id()), new_search_id() < new_search_id()
    (32, True)
    >>> [e.to_dict() for e in checked_batch(
    ...     [{"type": "click", "search_id": "s1", "product_id": "p1", "ts": "2026-12-06T10:00Z"}], max_batch=10)]
    [{'type': 'click', 'search_id': 's1', 'product_id': 'p1', 'ts': '2026-12-06T10:00:00Z'}]
    >>> checked_batch([{"type": "click", "search_id": "s1", "product_id": "p1", "ts": "2026-12-06T10:00Z",
    ...                 "position": "2"}], max_batch=10)
    Traceback (most recent call last):
    ...
    shopmatch.service.errors.ApiError: events[0].position: must be a whole number ≥ 1, got '2'
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shopmatch.errors import DataError
from shopmatch.events.model import Event, Impression, Interaction, parse_event
from shopmatch.service.errors import ApiError
from shopmatch.service.events_log import encode_event

logger = logging.getLogger(__name__)
PUBLIC_TYPES = ("click",)
"""What ``POST /events`` takes without a token when ``events_public_clicks`` is on."""
_BREAKS = re.compile(r"[\t\r\n]+")


def new_search_id() -> str:
    """A unique search id: 32 hex digits, the first 16 the time in nanoseconds (ids sort by time)."""
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


def impression_record(
    search_id: str,
    query: str,
    product_ids: list[str],
    *,
    k: int,
    offset: int,
    filters: dict[str, Any],
    user_id: str | None = None,
    session_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Impression | None:
    """The impression of one served page; None (and a warning) if it is not a valid event.

    Positions are 1-based over the whole result list: the page starting at ``offset`` shows
    positions ``offset + 1`` on. A page whose ``offset`` is a multiple of ``k`` is ``page``
    ``offset // k + 1`` of ``page_size`` ``k``; any other offset is written as page 2 of size
    ``offset``, which puts the first product at ``offset + 1`` all the same. ``offset`` and ``k`` are
    kept as extra keys, as is ``extra`` (e.g. the teams of an interleaved page).

    Example:
        >>> record = impression_record("s1", "mug", ["a", "b"], k=10, offset=10, filters={})
        >>> record.position_of("b"), record.page
        (12, 2)
    """
    page, page_size = (offset // k + 1, k) if offset % k == 0 else (2, offset)
    record: dict[str, Any] = {
        "type": "impression",
        "search_id": search_id,
        "query": _BREAKS.sub(" ", query),  # the format keeps a query on one line
        "results": product_ids,
        "ts": datetime.now(UTC).isoformat(),
        "page": page,
        "page_size": page_size,
        "offset": offset,
        "k": k,
    }
    if filters:
        record["filters"] = filters
    if user_id is not None:
        record["user_id"] = user_id
    if session_id is not None:
        record["session_id"] = session_id
    record.update(extra or {})
    try:
        return Impression.from_dict(record)
    except DataError as error:
        logger.warning("search %s not logged: %s", search_id, error)
        return None


def checked_batch(
    events: list[Any],
    *,
    max_batch: int,
    public: bool = False,
    shown: Callable[[str], Impression | None] = lambda search_id: None,
) -> list[Event]:
    """The events of a ``POST /events`` body, validated.

    An interaction must agree with its impression when one is known (in the batch, or ``shown``
    finds it): the product among its results and, when given, the same position. The events
    readers refuse a log where they disagree, so the service refuses them first.

    Args:
        events: the ``events`` list as received.
        max_batch: more events than this is a 413 ``batch_too_large``.
        public: the request came without a token: only ``click`` events are taken (403 otherwise).
        shown: the impression of a search id, when the service remembers it.

    Raises:
        ApiError: 413 for a batch over ``max_batch``; 422 ``invalid_event`` with ``field`` naming
            the event and its field (``events[3].position``); 403 ``forbidden`` for a non-click
            event without a token.
    """
    if len(events) > max_batch:
        raise ApiError(413, "batch_too_large", f"{len(events)} events; at most {max_batch} a batch", field="events")
    checked: list[Event] = []
    batch: dict[str, Impression] = {}
    for i, raw in enumerate(events):
        where = f"events[{i}]"
        try:
            event = parse_event(raw)
            encode_event(event.to_dict())  # NaN or infinity in an extra key: refused here, not when logging
            if isinstance(event, Impression):
                batch[event.search_id] = event
            else:
                _check_join(event, batch.get(event.search_id) or shown(event.search_id))
        except DataError as error:
            field = f"{where}.{error.field}" if error.field else where
            raise ApiError(422, "invalid_event", f"{field}: {error.message}", field=field) from None
        except ValueError as error:
            raise ApiError(422, "invalid_event", f"{where}: {error}", field=where) from None
        if public and event.type not in PUBLIC_TYPES:
            raise ApiError(
                403,
                "forbidden",
                f"{where}.type: {event.type!r} events need the write token (without one, only clicks)",
                field=f"{where}.type",
            )
        checked.append(event)
    return checked


def _check_join(event: Interaction, impression: Impression | None) -> None:
    if impression is None:
        return  # an orphan: kept and counted by the log
    position = impression.position_of(event.product_id)
    if position is None:
        message = (
            f"{event.product_id!r} is not among the {len(impression.results)} results of search {event.search_id!r}"
        )
        raise DataError(message, field="product_id")
    if event.position is not None and event.position != position:
        message = f"is {event.position}, but search {event.search_id!r} showed {event.product_id!r} at {position}"
        raise DataError(message, field="position")
