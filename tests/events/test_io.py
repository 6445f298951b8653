"""events.jsonl files: reading (plain, gzip), errors with file/line/field, skipping, idempotency, orphans, writing."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import UTC, datetime

import pytest

from shopmatch.errors import DataError
from shopmatch.events import EventLog, Impression, Interaction, collect_events, read_events, write_events

T0 = "2026-12-06T10:00:00Z"


def shown(search_id="s1", results=("a", "b", "c"), **extra):
    return {"type": "impression", "search_id": search_id, "query": "mug", "results": list(results), "ts": T0, **extra}


def did(kind="click", search_id="s1", product_id="b", **extra):
    return {"type": kind, "search_id": search_id, "product_id": product_id, "ts": T0, **extra}


def write_lines(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def test_reads_plain_and_gzip_the_same(tmp_path):
    records = [shown(), did(event_id="e1"), did("add_to_cart", event_id="e2"), did("purchase", position=2)]
    plain = write_lines(tmp_path / "events.jsonl", records)
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = read_events(plain), read_events(packed)
    assert a.impressions == b.impressions and a.interactions == b.interactions
    assert [i.type for i in a.interactions] == ["click", "add_to_cart", "purchase"]
    assert [i.position for i in a.interactions] == [2, 2, 2]
    assert a.duplicates == 0 and a.orphans == [] and a.skipped is None


def test_blank_lines_and_byte_order_mark(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(shown()).encode() + b"\n\n   \n" + json.dumps(did()).encode() + b"\n")
    assert len(read_events(path).interactions) == 1


def test_same_event_id_twice_is_one_event(tmp_path):
    path = write_lines(tmp_path / "e.jsonl", [shown(), did(event_id="e1"), did(event_id="e1"), did(event_id="e2")])
    log = read_events(path)
    assert [i.event_id for i in log.interactions] == ["e1", "e2"] and log.duplicates == 1
    assert "1 duplicate events ignored" in log.summary()


def test_events_without_event_id_are_all_kept(tmp_path):
    log = read_events(write_lines(tmp_path / "e.jsonl", [shown(), did(), did()]))
    assert len(log.interactions) == 2 and log.duplicates == 0


def test_same_impression_twice_is_one(tmp_path):
    log = read_events(write_lines(tmp_path / "e.jsonl", [shown(), shown(), did()]))
    assert len(log.impressions) == 1 and log.duplicates == 1


def test_orphans_are_kept_and_counted(tmp_path):
    path = write_lines(tmp_path / "e.jsonl", [shown(), did(), did("purchase", search_id="gone", product_id="z")])
    log = read_events(path)
    assert len(log.interactions) == 2
    assert [(o.search_id, o.position) for o in log.orphans] == [("gone", None)]
    assert "(1 without an impression)" in log.summary()


def test_impression_after_its_clicks(tmp_path):
    log = read_events(write_lines(tmp_path / "e.jsonl", [did(product_id="c"), shown()]))
    assert log.orphans == [] and log.interactions[0].position == 3


def test_position_counts_over_pages(tmp_path):
    path = write_lines(tmp_path / "e.jsonl", [shown(page=2, page_size=10), did(product_id="c", position=13)])
    assert read_events(path).interactions[0].position == 13


@pytest.mark.parametrize(
    "records, line, field, fragment",
    [
        ([shown(), "{not json"], 2, None, "invalid JSON"),
        ([shown(), '{"type": "click", "search_id": "s1", "position": NaN}'], 2, None, "NaN"),
        ([shown(), '{"type": "click", "search_id": "s1", "product_id": "b", "position": 1e999}'], 2, None, "too large"),
        ([shown(), did("view")], 2, "type", "unknown event type 'view'"),
        ([shown(), did(ts="yesterday")], 2, "ts", "ISO 8601"),
        ([shown(), did(position=0)], 2, "position", "≥ 1"),
        ([shown(results=["a", "a"])], 1, "results", "twice"),
        ([shown(), did(position=1)], 2, "position", "shows 'b' at position 2"),
        ([did(product_id="z"), shown()], 1, "product_id", "'z' is not among the results of search 's1'"),
        ([shown(), did(event_id="e1"), did(event_id="e1", product_id="c")], 3, "event_id", "on line 2 for a different"),
        ([shown(), shown(results=["c"])], 2, "search_id", "already has a different impression (line 1)"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, records, line, field, fragment):
    path = write_lines(tmp_path / "events.jsonl", records)
    with pytest.raises(DataError) as caught:
        read_events(path)
    err = caught.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert fragment in err.message
    assert str(err).startswith(f"{path}:{line}: ")


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(json.dumps(shown()).encode() + b"\n" + b'{"type": "click", "query": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"e\.jsonl:2: is not valid UTF-8 \(byte 0xe9"):
        read_events(path)


def test_skip_bad_lines_reports_them(tmp_path, caplog):
    records = [shown(), did(position=0), "[]", did(product_id="z"), did(event_id="e")]
    path = write_lines(tmp_path / "e.jsonl", records)
    with caplog.at_level(logging.WARNING, logger="shopmatch.events"):
        log = read_events(path, on_error="skip")
    assert [(e.line, e.field) for e in log.skipped.errors] == [(2, "position"), (3, None), (4, "product_id")]
    assert [i.event_id for i in log.interactions] == ["e"]
    assert "skipped 3 bad row(s)" in caplog.text
    assert "3 bad lines skipped" in log.summary()


def test_missing_file_and_bad_policy(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_events(tmp_path / "nope.jsonl")
    with pytest.raises(ValueError, match="on_error"):
        read_events(tmp_path / "nope.jsonl", on_error="ignore")


def test_write_then_read_round_trip(tmp_path):
    records = [
        shown(user_id="u1", filters={"brand": ["Bosch"]}, page=2, page_size=3, widget={"k": 1}),
        shown("s2", results=[], query="清洁剂"),
        did(event_id="e1", session_id="x", position=5),
        did("purchase", search_id="gone", product_id="z", note="\ud800"),  # a lone surrogate: written escaped
    ]
    path = write_lines(tmp_path / "in.jsonl", records)
    log = read_events(path)
    for name in ("out.jsonl", "out.jsonl.gz"):
        assert write_events(log.events(), tmp_path / name) == 4
        again = read_events(tmp_path / name)
        assert again.impressions == log.impressions and again.interactions == log.interactions
    assert "清洁剂" in (tmp_path / "out.jsonl").read_text(encoding="utf-8")  # readable, not escaped
    assert not list(tmp_path.glob(".*tmp*"))


def test_collect_events_in_memory():
    now = datetime(2026, 12, 6, tzinfo=UTC)
    log = collect_events([Interaction("click", "s1", "b", now), Impression("s1", "mug", ("a", "b"), now)])
    assert isinstance(log, EventLog) and log.interactions[0].position == 2
    with pytest.raises(DataError, match=r"<input>:1: field 'position'"):
        collect_events([Impression("s1", "mug", ("a",), now), Interaction("click", "s1", "a", now, position=4)][::-1])
