"""The shipped JSON schema: every example in the docs passes it and the reader; both refuse the same bad lines."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from shopmatch.errors import DataError
from shopmatch.events import SCHEMA_PATH, parse_event, read_events
from shopmatch.events.model import TIMESTAMP
from tests.events.schema_check import KEYWORDS, errors, keywords

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "data-formats.md"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def doc_examples() -> list[str]:
    """The JSON lines of the ```json blocks in the "Shopper events" section of docs/data-formats.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Shopper events\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```json\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_docs_have_examples_of_every_type():
    types = {json.loads(line)["type"] for line in doc_examples()}
    assert types == {"impression", "click", "add_to_cart", "purchase"}


@pytest.mark.parametrize("line", doc_examples())
def test_doc_example_passes_the_schema(line):
    assert errors(SCHEMA, json.loads(line)) == []


def test_doc_examples_pass_the_reader(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(doc_examples()) + "\n", encoding="utf-8")
    log = read_events(path)
    assert len(log.impressions) + len(log.interactions) == len(doc_examples())
    assert log.orphans == [] and log.duplicates == 0


def test_schema_uses_only_what_the_validator_checks():
    assert keywords(SCHEMA) <= KEYWORDS, sorted(keywords(SCHEMA) - KEYWORDS)


def test_schema_and_reader_share_the_timestamp_pattern():
    assert SCHEMA["$defs"]["timestamp"]["pattern"] == TIMESTAMP.pattern


def test_schema_ships_with_the_package():
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["shopmatch"]
    assert any(SCHEMA_PATH.relative_to(REPO / "src" / "shopmatch").match(p) for p in patterns)


GOOD = {"type": "click", "search_id": "s", "product_id": "p", "ts": "2026-12-06T10:00:00Z"}
SHOWN = {"type": "impression", "search_id": "s", "query": "q", "results": ["a"], "ts": "2026-12-06T10:00:00Z"}


@pytest.mark.parametrize(
    "record",
    [
        {**GOOD, "type": "view"},
        {k: v for k, v in GOOD.items() if k != "type"},
        {k: v for k, v in GOOD.items() if k != "ts"},
        {k: v for k, v in GOOD.items() if k != "product_id"},
        {k: v for k, v in SHOWN.items() if k != "results"},
        {k: v for k, v in SHOWN.items() if k != "query"},
        {**GOOD, "position": 0},
        {**GOOD, "position": 1.5},
        {**GOOD, "position": "1"},
        {**GOOD, "position": True},
        {**GOOD, "ts": "2026-12-06"},
        {**GOOD, "ts": "06/12/2026 10:00"},
        {**GOOD, "ts": "2026-13-01T10:00:00Z"},
        {**GOOD, "search_id": ""},
        {**GOOD, "search_id": " \t"},
        {**GOOD, "product_id": False},
        {**GOOD, "user_id": ["u"]},
        {**SHOWN, "results": "a"},
        {**SHOWN, "results": ["a", "a"]},
        {**SHOWN, "results": ["a", ""]},
        {**SHOWN, "results": ["a", "b\nc"]},
        {**SHOWN, "query": ""},
        {**SHOWN, "query": "a\tb"},
        {**SHOWN, "page": 0},
        {**SHOWN, "filters": "brand=x"},
        ["not", "an", "object"],
    ],
)
def test_schema_and_reader_refuse_the_same_lines(record):
    assert errors(SCHEMA, record), "the schema accepts it"
    with pytest.raises(DataError):
        parse_event(record)


@pytest.mark.parametrize(
    "record",
    [
        {**GOOD, "position": 2.0, "event_id": 7, "user_id": None, "anything": {"kept": True}},
        {**SHOWN, "results": [], "page": 2, "page_size": 10, "filters": {"brand": ["x"]}, "session_id": None},
        {**SHOWN, "ts": "2026-12-06 10:00", "results": [12, "b"]},
    ],
)
def test_schema_and_reader_accept_the_same_lines(record):
    assert errors(SCHEMA, record) == []
    parse_event(record)


def test_the_validator_finds_what_it_should():
    assert errors(SCHEMA, {**GOOD, "position": 0}) == ["$: valid against 0 of the oneOf schemas, not exactly 1"]
    interaction = SCHEMA["$defs"]["interaction"]
    found = errors(interaction, {**GOOD, "position": 0, "ts": 5}, root=SCHEMA)
    assert found == ["$.position: 0 is less than 1", "$.ts: 5 is not of type string"]
