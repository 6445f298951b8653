"""events stats: hand-counted queries, dead ends and rates by position; the report; the command."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from shopmatch.cli import app
from shopmatch.events import Impression, Interaction, collect_events
from shopmatch.events.stats import REPORT_JSON, REPORT_MARKDOWN, REPORT_PLOT, event_stats, write_stats_report

NOW = datetime(2026, 12, 6, 10, tzinfo=UTC)


def shown(search_id, query, results, **kw):
    return Impression(search_id, query, tuple(results), NOW, **kw)


def did(kind, search_id, product_id, **kw):
    return Interaction(kind, search_id, product_id, NOW, **kw)


@pytest.fixture()
def log():
    return collect_events(
        [
            shown("s1", "Drill", ["a", "b", "c"]),
            shown("s2", "drill", ["b", "a", "c"]),
            shown("s3", " DRILL", ["a", "c"]),
            shown("s4", "saw", []),
            shown("s5", "saw", ["x"]),
            shown("s6", "glue <b>|", ["g", "h"]),
            shown("s7", "nails", []),
            shown("s8", "drill", ["d", "e"], page=2, page_size=3),  # positions 4 and 5
            did("click", "s1", "a"),
            did("click", "s1", "a"),  # the same product clicked twice: one clicked search
            did("click", "s1", "b"),
            did("add_to_cart", "s1", "b"),
            did("click", "s2", "c"),
            did("purchase", "s2", "c"),
            did("click", "s8", "e"),
            did("click", "gone", "z", position=1),  # an orphan: in no rate
            did("purchase", "gone", "z"),
        ]
    )


def test_queries_hand_counted(log):
    stats = event_stats(log)
    by_query = {q.query: q for q in stats.queries}
    drill = by_query["drill"]
    assert (drill.searches, drill.no_results, drill.clicked, drill.carted, drill.purchased) == (4, 0, 3, 1, 1)
    assert drill.ctr == 3 / 4
    assert [q.query for q in stats.queries] == ["drill", "saw", "glue <b>|", "nails"]  # most searched, then a-z
    assert [(q.query, q.no_results) for q in stats.no_results()] == [("nails", 1), ("saw", 1)]
    assert [q.query for q in stats.no_clicks()] == ["saw", "glue <b>|"]  # nails showed nothing: a dead end instead
    assert stats.top_queries(1) == [drill]


def test_rates_by_position_hand_counted(log):
    stats = event_stats(log)
    table = [(p.position, p.shown, p.clicked, p.carted, p.purchased) for p in stats.positions]
    assert table == [(1, 5, 1, 0, 0), (2, 4, 1, 1, 0), (3, 2, 1, 0, 1), (4, 1, 0, 0, 0), (5, 1, 1, 0, 0)]
    assert stats.positions[0].rate("clicked") == 1 / 5
    assert [p.position for p in event_stats(log, max_position=2).positions] == [1, 2]


def test_totals_and_orphans(log):
    stats = event_stats(log)
    assert stats.searches == 8
    assert stats.interactions == {"click": 6, "add_to_cart": 1, "purchase": 2}
    assert stats.orphans == {"click": 1, "purchase": 1}


def test_report_files(log, tmp_path):
    stats = event_stats(log)
    path = write_stats_report(stats, tmp_path / "report", top=2)
    text = path.read_text(encoding="utf-8")
    assert path.name == REPORT_MARKDOWN
    assert "| drill | 4 | 0 | 3 | 75.0% | 1 | 1 |" in text
    assert "| glue &lt;b&gt;\\| | 1 |" in text  # query text escaped: no HTML, no broken table
    assert f"![rates by position]({REPORT_PLOT})" in text
    assert "| 1 | 5 | 1 | 20.0% | 0 | 0.0% | 0 | 0.0% |" in text
    assert (tmp_path / "report" / REPORT_PLOT).read_bytes()[:4] == b"\x89PNG"
    data = json.loads((tmp_path / "report" / REPORT_JSON).read_text(encoding="utf-8"))
    assert data["orphans"] == {"click": 1, "purchase": 1} and data["positions"][0]["clicked_rate"] == 0.2


def test_empty_log():
    stats = event_stats(collect_events([]))
    assert (stats.searches, stats.queries, stats.positions) == (0, [], [])


# --------------------------------------------------------------------------- the command

runner = CliRunner()


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def lines(log):
    return [e.to_dict() for e in log.events()]


def test_command_prints_the_tables(log, tmp_path):
    path = write(tmp_path / "events.jsonl", lines(log))
    result = runner.invoke(app, ["events", "stats", str(path), "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    assert flat.startswith("8 searches; 6 clicks, 1 add to cart, 2 purchases; 2 interactions without an impression")
    for title in ("Top 10 queries", "Queries with no results (2)", "Click-through by position"):
        assert title in flat
    assert (tmp_path / "r" / REPORT_PLOT).is_file() and "report written to" in result.stderr


def test_command_json(log, tmp_path):
    path = write(tmp_path / "events.jsonl", lines(log))
    result = runner.invoke(app, ["events", "stats", str(path), "--json", "--positions", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["searches"] == 8 and [p["position"] for p in data["positions"]] == [1, 2, 3]


def test_command_bad_line_exit_2_with_location(log, tmp_path, caplog):
    records = lines(log)
    records.insert(2, {"type": "click", "search_id": "s1", "product_id": "a", "position": 0, "ts": "2026-12-06T10:00Z"})
    path = write(tmp_path / "events.jsonl", records)
    result = runner.invoke(app, ["events", "stats", str(path)])
    assert result.exit_code == 2
    assert " ".join(result.stderr.split()).startswith(f"error: {path}:3: field 'position': must be a whole number")
    with caplog.at_level(logging.WARNING):
        skipped = runner.invoke(app, ["events", "stats", str(path), "--skip-bad-rows"])
    assert not [r for r in caplog.records if r.name.startswith("shopmatch.events")]  # printed once, not logged too
    assert skipped.exit_code == 0, skipped.output
    assert skipped.stderr.count("skipped 1 bad row(s)") == 1 and f"{path}:3: field 'position'" in skipped.stderr
    assert "1 bad line skipped" in " ".join(skipped.stdout.split())
