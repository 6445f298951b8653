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
