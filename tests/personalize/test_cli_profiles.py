"""`shopmatch events profiles`: profiles from an events file and a catalog; bad input names file and line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from shopmatch.catalog import write_catalog
from shopmatch.cli import app
from shopmatch.personalize.profiles import ProfileStore
from tests.personalize.conftest import PRODUCTS

EVENTS = [
    {"type": "impression", "search_id": "s1", "query": "usb", "results": ["a0", "b0"], "ts": "2026-12-01T10:00Z",
     "user_id": "u1"},
    {"type": "click", "search_id": "s1", "product_id": "b0", "ts": "2026-12-01T10:01Z"},
    {"type": "purchase", "search_id": "s1", "product_id": "b0", "ts": "2026-12-01T10:02Z"},
    {"type": "click", "search_id": "s2", "product_id": "gone", "ts": "2026-12-01T10:03Z", "user_id": "u2"},
]  # fmt: skip


def test_profiles_command(tmp_path):
    catalog = tmp_path / "products.jsonl"
    write_catalog(PRODUCTS, catalog)
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    out = tmp_path / "profiles.json"
    args = ["events", "profiles", str(events), "--catalog", str(catalog), "-o", str(out), "--half-life-days", "7"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 shopper profiles" in result.output and "1 interactions with products not in the catalog" in result.output
    store = ProfileStore.load(out)
    assert store.config.half_life_days == 7 and store.get("u1").brand_share("Bolt") == 1.0
    events.write_text(json.dumps(EVENTS[0]) + "\n" + '{"type": "click", "search_id": "s1"}\n')
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code != 0 and "events.jsonl:2" in bad.output and "product_id" in bad.output
