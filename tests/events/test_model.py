"""Event records: strict parsing with errors naming the field, canonical JSON, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopmatch.errors import DataError
from shopmatch.events.model import (
    Impression,
    Interaction,
    format_timestamp,
    parse_event,
    parse_timestamp,
    query_key,
)

SHOWN = {"type": "impression", "search_id": "s-42", "query": "cordless drill", "results": ["p7", "p3", "p9"]}
SHOWN["ts"] = "2026-12-06T10:00:00Z"
CLICK = {"type": "click", "event_id": "e-1", "search_id": "s-42", "product_id": "p3", "position": 2}
CLICK["ts"] = "2026-12-06T10:00:04Z"


def test_impression_fields_and_unknown_keys_kept():
    event = parse_event({**SHOWN, "user_id": "u1", "session_id": 9, "page": 1, "ab_test": {"arm": "b"}})
    assert isinstance(event, Impression)
    assert event.results == ("p7", "p3", "p9") and event.session_id == "9"
    assert event.ts == datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    assert event.extra == {"ab_test": {"arm": "b"}}
    assert [event.position_of(p) for p in ("p7", "p9", "p1")] == [1, 3, None]


def test_interaction_fields():
    event = parse_event({**CLICK, "type": "purchase", "position": 2.0})
    assert isinstance(event, Interaction)
    assert (event.type, event.search_id, event.product_id, event.position, event.event_id) == (
        "purchase",
        "s-42",
        "p3",
        2,
        "e-1",
    )


def test_positions_of_a_later_page():
    page2 = parse_event({**SHOWN, "page": 2, "page_size": 10})
    assert page2.first_position == 11 and page2.position_of("p9") == 13
    assert parse_event({**SHOWN, "page": 3}).first_position == 7  # page size: the length of results


def test_zero_result_search_is_an_impression():
    assert parse_event({**SHOWN, "results": []}).results == ()


def test_nulls_are_absent_optional_fields():
    event = parse_event({**CLICK, "position": None, "event_id": None, "user_id": None})
    assert (event.position, event.event_id, event.user_id) == (None, None, None)


@pytest.mark.parametrize(
    "record, field, fragment",
    [
        ({**SHOWN, "type": "view"}, "type", "unknown event type 'view'"),
        ({k: v for k, v in SHOWN.items() if k != "type"}, "type", "is required"),
        ({**CLICK, "type": None}, "type", "is required"),
        ({k: v for k, v in SHOWN.items() if k != "search_id"}, "search_id", "is required"),
        ({k: v for k, v in SHOWN.items() if k != "results"}, "results", "is required"),
        ({k: v for k, v in CLICK.items() if k != "product_id"}, "product_id", "is required"),
        ({k: v for k, v in CLICK.items() if k != "ts"}, "ts", "is required"),
        ({**SHOWN, "query": ""}, "query", "must not be empty"),
        ({**SHOWN, "query": 42}, "query", "must be a string, got a number (42)"),
        ({**SHOWN, "query": "drill\tbits"}, "query", "tabs or line breaks"),
        ({**SHOWN, "results": "p7,p3"}, "results", "must be a list of product ids, got a string"),
        ({**SHOWN, "results": ["p7", ""]}, "results", "item 2 must not be empty"),
        ({**SHOWN, "results": ["p7", "p\t3"]}, "results", "item 2 must not contain tabs or line breaks"),
        ({**SHOWN, "results": ["p7", {"id": "p3"}]}, "results", "item 2 must be a string, got an object"),
        ({**SHOWN, "results": ["p7", "p3", "p7"]}, "results", "lists 'p7' twice (items 1 and 3)"),
        ({**SHOWN, "ts": "06/12/2026 10:00"}, "ts", "must be an ISO 8601 date and time"),
        ({**SHOWN, "ts": "2026-12-06"}, "ts", "must be an ISO 8601 date and time"),
        ({**SHOWN, "ts": "2026-02-30T10:00:00Z"}, "ts", "is not a valid time"),
        ({**SHOWN, "ts": 1765015200}, "ts", "must be an ISO 8601 time as a string, got a number"),
        ({**SHOWN, "page": 0}, "page", "must be a whole number ≥ 1, got 0"),
        ({**SHOWN, "page_size": 2.5}, "page_size", "must be a whole number ≥ 1"),
        ({**SHOWN, "filters": ["brand"]}, "filters", "must be an object, got a list"),
        ({**SHOWN, "search_id": True}, "search_id", "must be a string, got a boolean"),
        ({**SHOWN, "search_id": "  "}, "search_id", "must not be empty"),
        ({**CLICK, "position": 0}, "position", "must be a whole number ≥ 1, got 0"),
        ({**CLICK, "position": -3}, "position", "must be a whole number ≥ 1"),
        ({**CLICK, "position": "2"}, "position", "must be a whole number ≥ 1, got '2'"),
        ({**CLICK, "position": True}, "position", "must be a whole number ≥ 1, got True"),
        ({**CLICK, "product_id": ["p3"]}, "product_id", "must be a string, got a list"),
        ({**CLICK, "event_id": ""}, "event_id", "must not be empty"),
        ({**CLICK, "user_id": "u\n1"}, "user_id", "tabs or line breaks"),
    ],
)
def test_bad_records_name_the_field(record, field, fragment):
    with pytest.raises(DataError) as caught:
        parse_event(record)
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_not_an_object():
    with pytest.raises(DataError, match="expected a JSON object, got a list"):
        parse_event([SHOWN])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-12-06T10:00:00Z", "2026-12-06T10:00:00Z"),
        ("2026-12-06t10:00z", "2026-12-06T10:00:00Z"),
        ("2026-12-06 10:00:00", "2026-12-06T10:00:00Z"),  # no zone: UTC
        ("2026-12-06T11:30:00+01:30", "2026-12-06T10:00:00Z"),
        ("2026-12-06T05:00:00-0500", "2026-12-06T10:00:00Z"),
        ("2026-12-06T10:00:00.250Z", "2026-12-06T10:00:00.250000Z"),
        ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z"),  # a leap second
    ],
)
def test_timestamps_normalized_to_utc(text, expected):
    assert format_timestamp(parse_timestamp(text)) == expected


def test_canonical_json_round_trip():
    for record in (
        {**SHOWN, "page": 2, "page_size": 3, "filters": {"brand": ["Bosch"]}, "user_id": "u1", "x": [1]},
        {**CLICK, "session_id": "x9", "y": None},
        {k: v for k, v in CLICK.items() if k not in ("position", "event_id")},
    ):
        event = parse_event(record)
        again = parse_event(event.to_dict())
        assert again == event
        assert event.to_dict() == {k: v for k, v in record.items() if not (k == "page" and v == 1)}


def test_query_key_groups_case_and_spacing():
    assert query_key(" Cordless\u00a0 DRILL ") == query_key("cordless drill") == "cordless drill"
