"""DataError formatting and SkipReport summaries."""

from __future__ import annotations

from shopmatch.errors import DataError, SkipReport


def test_data_error_str_forms():
    assert str(DataError("bad", path="p.jsonl", line=3, field="title")) == "p.jsonl:3: field 'title': bad"
    assert str(DataError("bad", path="p.jsonl", line=3)) == "p.jsonl:3: bad"
    assert str(DataError("bad", path="p.jsonl")) == "p.jsonl: bad"
    assert str(DataError("bad", field="id")) == "<input>: field 'id': bad"
    assert isinstance(DataError("x"), ValueError)


def test_located_fills_only_unknown_parts():
    err = DataError("bad", field="id").located(path="a.csv", line=7)
    assert (err.path, err.line, err.field, err.message) == ("a.csv", 7, "id", "bad")
    kept = DataError("bad", path="b.csv", line=2).located(path="a.csv", line=7)
    assert (kept.path, kept.line) == ("b.csv", 2)


def test_skip_report_summary_limits_examples():
    report = SkipReport("f.jsonl", [DataError(f"e{i}", path="f.jsonl", line=i) for i in range(1, 8)])
    assert report.count == 7
    lines = report.summary(limit=2).splitlines()
    assert lines == ["f.jsonl: skipped 7 bad row(s)", "  f.jsonl:1: e1", "  f.jsonl:2: e2", "  ... and 5 more"]
    assert SkipReport("g.tsv").summary() == "g.tsv: no rows skipped"
