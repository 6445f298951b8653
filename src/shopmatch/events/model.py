"""Shopper events: what a search showed (:class:`Impression`) and what the shopper did (:class:`Interaction`).

One event is one JSON object (a line of ``events.jsonl``; see ``docs/data-formats.md``). An
impression lists the product ids a search showed, in the order shown; a click, an add to cart or
a purchase names the search it came from (``search_id``) and the product. :func:`parse_event`
checks a record strictly and raises :class:`~shopmatch.errors.DataError` naming the field that is
wrong (the readers add the file and line). Unknown keys are kept in ``extra``.

Positions are 1-based over the whole result list: an impression of page 2 with 10 products per
page shows positions 11 to 20 (``page_size`` says how many products a page holds; without it, the
length of ``results``).

Example:
    >>> shown = parse_event({"type": "impression", "search_id": "s-1", "query": "drill",
    ...                      "results": ["p7", "p3"], "ts": "2026-12-06T10:00:00Z"})
    >>> shown.position_of("p3"), shown.ts.isoformat()
    (2, '2026-12-06T10:00:00+00:00')
    >>> parse_event({"type": "click", "search_id": "s-1", "product_id": "p3", "ts": "2026-12-06T10:00:04Z"}).type
    'click'
    >>> parse_event({"type": "click", "search_id": "s-1", "product_id": "p3", "position": 0, "ts": "2026-12-06T10:01Z"})
    Traceback (most recent call last):
    ...
    shopmatch.errors.DataError: <input>: field 'position': must be a whole number ≥ 1, got 0
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shopmatch.errors import DataError

IMPRESSION = "impression"
INTERACTION_TYPES = ("click", "add_to_cart", "purchase")
"""The things a shopper does with a shown product, weakest first."""
EVENT_TYPES = (IMPRESSION, *INTERACTION_TYPES)

IMPRESSION_FIELDS = ("type", "search_id", "query", "results", "ts", "user_id", "session_id", "page", "page_size")
IMPRESSION_FIELDS += ("filters", "event_id")
INTERACTION_FIELDS = ("type", "search_id", "product_id", "position", "ts", "event_id", "user_id", "session_id")

TIMESTAMP = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d(:([0-5]\d|60)(\.\d+)?)?"
    r"([Zz]|[+-]([01]\d|2[0-3]):?[0-5]\d)?$"
)
"""An ISO 8601 date and time (RFC 3339 and its common relaxations: a space for ``T``, no seconds, no
zone — read as UTC). The JSON schema (``events.schema.json``) holds the same pattern."""


@dataclass(frozen=True, slots=True)
class Impression:
    """One search's result list as the shopper saw it.

    Attributes:
        search_id: The search (unique per impression; clicks refer to it).
        query: The query text as typed.
        results: Product ids in the order shown (empty: the search found nothing).
        ts: When the results were shown (UTC).
        user_id, session_id: Who searched, when known.
        page: 1 for the first page of results.
        page_size: Products per page; positions on page ``n`` start at ``(n - 1) * page_size + 1``
            (default: the length of ``results``).
        filters: The filters the search ran with, as sent (any JSON object).
        event_id: Makes a repeated write of the same impression idempotent.
        extra: Unknown keys, kept as they were.

    Example:
        >>> shown = Impression("s-9", "mug", ("p1", "p2"), datetime(2026, 1, 1, tzinfo=UTC), page=2)
        >>> shown.first_position, shown.position_of("p2")
        (3, 4)
    """

    search_id: str
    query: str
    results: tuple[str, ...]
    ts: datetime
    user_id: str | None = None
    session_id: str | None = None
    page: int = 1
    page_size: int | None = None
    filters: dict[str, Any] | None = None
    event_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    type = IMPRESSION

    @property
    def first_position(self) -> int:
        """Position of ``results[0]`` in the whole result list (1 on the first page)."""
        size = self.page_size if self.page_size is not None else len(self.results)
        return (self.page - 1) * size + 1

    def position_of(self, product_id: str) -> int | None:
        """Where ``product_id`` was shown (1-based, over the whole result list), or None."""
        try:
            return self.first_position + self.results.index(product_id)
        except ValueError:
            return None

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Impression:
        """Validate an impression record (``"type": "impression"``); see :func:`parse_event`."""
        results = record.get("results")
        if results is None:
            raise DataError("is required (the product ids shown, in order; [] for none)", field="results")
        if not isinstance(results, list):
            raise DataError(f"must be a list of product ids, got {_kind(results)}", field="results")
        ids = _parse_results(results)
        filters = record.get("filters")
        if filters is not None and not isinstance(filters, Mapping):
            raise DataError(f"must be an object, got {_kind(filters)}", field="filters")
        return cls(
            search_id=_parse_id(record.get("search_id"), "search_id"),
            query=_parse_query(record.get("query")),
            results=ids,
            ts=parse_timestamp(record.get("ts")),
            user_id=_optional_id(record, "user_id"),
            session_id=_optional_id(record, "session_id"),
            page=_parse_count(record.get("page"), "page") or 1,
            page_size=_parse_count(record.get("page_size"), "page_size"),
            filters=dict(filters) if filters is not None else None,
            event_id=_optional_id(record, "event_id"),
            extra=_extra(record, IMPRESSION_FIELDS),
        )

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form: the fields that are set, then the unknown keys."""
        out: dict[str, Any] = {"type": IMPRESSION}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        out.update(search_id=self.search_id, query=self.query, results=list(self.results), ts=format_timestamp(self.ts))
        for name in ("user_id", "session_id", "page_size", "filters"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.page != 1:
            out["page"] = self.page
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}


@dataclass(frozen=True, slots=True)
class Interaction:
    """A click, add to cart or purchase of a product a search showed.

    Attributes:
        type: ``click``, ``add_to_cart`` or ``purchase``.
        search_id: The search whose results the product was in.
        product_id: The product.
        ts: When it happened (UTC).
        position: Where the product was shown (1-based); the readers fill it in from the
            impression when it is left out.
        event_id: Makes the write idempotent: the same id twice is one event.
        user_id, session_id: Who, when known.
        extra: Unknown keys, kept as they were.
    """

    type: str
    search_id: str
    product_id: str
    ts: datetime
    position: int | None = None
    event_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def at(self, position: int) -> Interaction:
        """This interaction with ``position`` set."""
        return Interaction(
            self.type,
            self.search_id,
            self.product_id,
            self.ts,
            position,
            self.event_id,
            self.user_id,
            self.session_id,
            self.extra,
        )

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Interaction:
        """Validate a ``click``, ``add_to_cart`` or ``purchase`` record; see :func:`parse_event`."""
        kind = record.get("type")
        if kind not in INTERACTION_TYPES:
            raise DataError(f"must be one of {', '.join(INTERACTION_TYPES)}, got {kind!r}", field="type")
        return cls(
            type=kind,
            search_id=_parse_id(record.get("search_id"), "search_id"),
            product_id=_parse_id(record.get("product_id"), "product_id"),
            ts=parse_timestamp(record.get("ts")),
            position=_parse_count(record.get("position"), "position"),
            event_id=_optional_id(record, "event_id"),
            user_id=_optional_id(record, "user_id"),
            session_id=_optional_id(record, "session_id"),
            extra=_extra(record, INTERACTION_FIELDS),
        )

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form: the fields that are set, then the unknown keys."""
        out: dict[str, Any] = {"type": self.type}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        out.update(search_id=self.search_id, product_id=self.product_id)
        if self.position is not None:
            out["position"] = self.position
        out["ts"] = format_timestamp(self.ts)
        for name in ("user_id", "session_id"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}


Event = Impression | Interaction


def parse_event(record: Any) -> Event:
    """Validate one event record and build it.

    Raises:
        DataError: with ``field`` set to the offending key: not an object, missing or unknown
            ``type``, a missing required field, a wrong type, an empty id, a timestamp that is not
            ISO 8601, a position or page below 1, a product listed twice in ``results``. The readers
            add the file and line.
    """
    if not isinstance(record, Mapping):
        raise DataError(f"expected a JSON object, got {_kind(record)}")
    kind = record.get("type")
    if kind is None:
        raise DataError(f"is required (one of {', '.join(EVENT_TYPES)})", field="type")
    if kind == IMPRESSION:
        return Impression.from_dict(record)
    if kind in INTERACTION_TYPES:
        return Interaction.from_dict(record)
    raise DataError(f"unknown event type {kind!r} (expected one of {', '.join(EVENT_TYPES)})", field="type")


def parse_timestamp(value: Any, name: str = "ts") -> datetime:
    """An ISO 8601 date and time as an aware UTC datetime (a time without a zone is UTC).

    Example:
        >>> parse_timestamp("2026-12-06T11:00:00+01:00").isoformat()
        '2026-12-06T10:00:00+00:00'
    """
    if value is None:
        raise DataError("is required (an ISO 8601 time such as 2026-12-06T10:00:00Z)", field=name)
    if not isinstance(value, str):
        raise DataError(f"must be an ISO 8601 time as a string, got {_kind(value)}", field=name)
    if not TIMESTAMP.match(value):
        raise DataError(f"must be an ISO 8601 date and time such as 2026-12-06T10:00:00Z, got {value!r}", field=name)
    text = value.replace("z", "Z").replace("t", "T")
    if re.search(r"[+-]\d{4}$", text):  # +0100 → +01:00
        text = f"{text[:-2]}:{text[-2:]}"
    text = re.sub(r":60(?=[.Z+-]|$)", ":59", text)  # a leap second: the second before it
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise DataError(f"is not a valid time ({err}), got {value!r}", field=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """``2026-12-06T10:00:04Z`` (microseconds only when there are any).

    Example:
        >>> format_timestamp(parse_timestamp("2026-12-06 10:00:04.5"))
        '2026-12-06T10:00:04.500000Z'
    """
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def query_key(query: str) -> str:
    """The form queries are grouped by: lower case, runs of white space as one space.

    Example:
        >>> query_key("  Cordless   DRILL ")
        'cordless drill'
    """
    return " ".join(query.casefold().split())


_BREAKS = re.compile(r"[\t\r\n]")


def _parse_results(results: list[Any]) -> tuple[str, ...]:
    """The product ids of ``results``; a fast path for the usual list of clean, distinct strings."""
    if all(type(item) is str for item in results):
        ids = [item.strip() for item in results]
        if "" not in ids and not _BREAKS.search("".join(ids)) and len(set(ids)) == len(ids):
            return tuple(ids)
    parsed: list[str] = []  # the slow path finds and names the first problem
    seen: dict[str, int] = {}
    for i, item in enumerate(results):
        product_id = _parse_id(item, "results", f"item {i + 1} ")
        if product_id in seen:
            raise DataError(f"lists {product_id!r} twice (items {seen[product_id]} and {i + 1})", field="results")
        seen[product_id] = i + 1
        parsed.append(product_id)
    return tuple(parsed)


def _parse_id(value: Any, name: str, what: str = "") -> str:
    if value is None:
        raise DataError(f"{what}is required", field=name)
    if isinstance(value, float) and value.is_integer():  # 7.0 is the integer 7, as in JSON Schema
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{what}must be a string, got {_kind(value)}", field=name)
    text = str(value).strip()
    if not text:
        raise DataError(f"{what}must not be empty", field=name)
    if _BREAKS.search(text):
        raise DataError(f"{what}must not contain tabs or line breaks", field=name)
    return text


def _optional_id(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    return None if value is None else _parse_id(value, name)


def _parse_query(value: Any) -> str:
    if value is None:
        raise DataError("is required", field="query")
    if not isinstance(value, str):
        raise DataError(f"must be a string, got {_kind(value)}", field="query")
    if not value.strip():
        raise DataError("must not be empty", field="query")
    if _BREAKS.search(value):
        raise DataError("must not contain tabs or line breaks", field="query")
    return value


def _parse_count(value: Any, name: str) -> int | None:
    """An optional whole number ≥ 1 (``2.0`` is 2; ``2.5``, ``"2"`` and booleans are errors)."""
    if value is None:
        return None
    whole = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value == int(value))
    if isinstance(value, bool) or not whole or value < 1:
        raise DataError(f"must be a whole number ≥ 1, got {value!r}", field=name)
    return int(value)


def _extra(record: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {str(k): v for k, v in record.items() if k not in known}


def _kind(value: Any) -> str:
    """A JSON reader's name for a value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
