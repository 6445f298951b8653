"""Shopper events from HTTP requests: search ids, the impression of a search, a checked ``POST /events`` batch.

Every check of an event is :func:`shopmatch.events.parse_event`'s; this module only says where in
the request the problem is (``events[3].position``) and turns it into a 4xx :class:`ApiError`.

Example:
    >>> len(new_search_id()), new_search_id() < new_search_id()
    (32, True)
    >>> checked_batch([{"type": "click", "search_id": "s1", "product_id": "p1", "ts": "2026-12-06T10:00Z"}],
    ...               max_batch=10, public=True)
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
from datetime import UTC, datetime
from typing import Any

from shopmatch.errors import DataError
from shopmatch.events.model import parse_event
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
) -> dict[str, Any] | None:
    """The impression of one served page, in canonical form; None (and a warning) if it is not a valid event.

    Positions are 1-based over the whole result list: the page starting at ``offset`` shows
    positions ``offset + 1`` on. A page whose ``offset`` is a multiple of ``k`` is ``page``
    ``offset // k + 1`` of ``page_size`` ``k``; any other offset is written as page 2 of size
    ``offset``, which puts the first product at ``offset + 1`` all the same. ``offset`` and ``k`` are
    kept as extra keys.

    Example:
        >>> record = impression_record("s1", "mug", ["a", "b"], k=10, offset=10, filters={})
        >>> parse_event(record).position_of("b"), record["page"]
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
    try:
        return parse_event(record).to_dict()
    except DataError as error:
        logger.warning("search %s not logged: %s", search_id, error)
        return None


def checked_batch(events: list[Any], *, max_batch: int, public: bool = False) -> list[dict[str, Any]]:
    """The events of a ``POST /events`` body, validated, in canonical form.

    Args:
        events: the ``events`` list as received.
        max_batch: more events than this is a 413 ``batch_too_large``.
        public: the request came without a token: only ``click`` events are taken (403 otherwise).

    Raises:
        ApiError: 413 for a batch over ``max_batch``; 422 ``invalid_event`` with ``field`` naming
            the event and its field (``events[3].position``); 403 ``forbidden`` for a non-click
            event without a token.
    """
    if len(events) > max_batch:
        raise ApiError(413, "batch_too_large", f"{len(events)} events; at most {max_batch} a batch", field="events")
    checked = []
    for i, raw in enumerate(events):
        where = f"events[{i}]"
        try:
            event = parse_event(raw)
            record = event.to_dict()
            encode_event(record)  # NaN or infinity in an extra key: refused here, not when logging
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
        checked.append(record)
    return checked
