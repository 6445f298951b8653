"""`shopmatch serve` refuses what it cannot serve before binding a port (real serving is exercised
by the durability and browser tests, which start it as a process)."""

from __future__ import annotations

from typer.testing import CliRunner

from shopmatch.cli import app


def test_serve_a_missing_directory(tmp_path):
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "nope: no such directory" in result.output


def test_serve_something_that_is_not_an_index(tmp_path):
    (tmp_path / "junk").mkdir()
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "junk")])
    assert result.exit_code == 2 and "not a shopmatch shopmatch-index" in result.output


def test_serve_help_lists_the_options():
    result = CliRunner().invoke(app, ["serve", "--help"])
    for option in ("--host", "--port", "--token", "--cors", "--compact-after", "--header-timeout", "--body-timeout"):
        assert option in result.output


def test_serve_an_index_written_in_a_newer_format(index_dir, tmp_path, monkeypatch):
    """Refused before the server starts, with the index module's own kind and version."""
    import json
    import shutil

    import uvicorn

    newer = tmp_path / "newer"
    shutil.copytree(index_dir, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "format_version": manifest["format_version"] + 1}))
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(args))
    result = CliRunner().invoke(app, ["serve", str(newer)])
    assert result.exit_code == 2, result.output
    assert "reads up to version" in result.output and not started


def test_serve_events_options(index_dir):
    assert "--events" in CliRunner().invoke(app, ["serve", "--help"]).output
    result = CliRunner().invoke(app, ["serve", str(index_dir), "--public-clicks"])
    assert result.exit_code == 2 and "--public-clicks needs --events DIR" in result.output
