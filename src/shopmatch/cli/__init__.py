"""The ``shopmatch`` command: one module per command group; each parses, calls the library, renders.

Example:
    >>> from typer.testing import CliRunner
    >>> CliRunner().invoke(app, ["--help"]).exit_code
    0
"""

from __future__ import annotations

import sys
from importlib import import_module

from shopmatch.cli.common import app
from shopmatch.cpu_threads import is_serving, quiet_openmp_threads

__all__ = ["app", "main"]

# the order `--help` lists them in
COMMAND_GROUPS = (
    "index",
    "search",
    "evaluate",
    "serve",
    "demo",
    "train",
    "train_ranker",
    "events",
    "judgments",
    "retrain",
    "experiment",
    "synonyms",
)
for _group in COMMAND_GROUPS:
    import_module(f"shopmatch.cli.{_group}")  # each module registers its commands on `app`


def main() -> None:
    if is_serving(sys.argv[1:]):
        quiet_openmp_threads()  # before anything imports torch
    app()
