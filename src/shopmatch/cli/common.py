"""The ``shopmatch`` Typer app, its consoles, and the error exit every command shares."""

from __future__ import annotations

import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from shopmatch.judgments import DUPLICATE_POLICIES

app = typer.Typer(
    help="shopmatch: e-commerce search relevance — index a catalog, search it, measure it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(
    help="Train matching models on a shop's own judgments (cross-encoder, bi-encoder, classic baselines).",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")
events_app = typer.Typer(
    help="Shopper events (events.jsonl): what searches showed and what shoppers did.", no_args_is_help=True
)
app.add_typer(events_app, name="events")
judgments_app = typer.Typer(
    help="Make judgments files (judgments.tsv), e.g. from shopper events.", no_args_is_help=True
)
app.add_typer(judgments_app, name="judgments")
Duplicates = Enum("Duplicates", {policy: policy for policy in DUPLICATE_POLICIES}, type=str)
"""The policies of ``read_judgments(duplicates=...)`` as choices (an Enum works with every Typer)."""

DuplicatesOpt = Annotated[
    Duplicates,
    typer.Option(
        "--duplicates",
        case_sensitive=False,
        help="Several ratings of one (query, product) pair: mean (numbers average, letters average their "
        "gains), max (highest gain), first (first row), error (refuse the file).",
    ),
]
"""``--duplicates mean|max|first|error``, for every command that reads judgments. Declare
``duplicates: DuplicatesOpt = Duplicates.mean`` and pass ``duplicates.value`` to ``read_judgments``
(the training commands take ``Duplicates | None``: unset, the recipe's value holds)."""

RankerOpt = Annotated[
    Path | None,
    typer.Option(help="A ranker directory (from `shopmatch train ranker`): re-order the candidates with it."),
]
"""``--ranker DIR``: a learned ranker loaded beside the index (no re-indexing)."""

out = Console()
# soft_wrap: an error's "file:line: field" must stay on one line for grep and CI logs.
err = Console(stderr=True, soft_wrap=True)


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details (INFO).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    from shopmatch.progress import set_progress

    handler = (
        RichHandler(console=err, show_time=False, show_path=False)
        if err.is_terminal
        else logging.StreamHandler(sys.stderr)  # plain lines, never wrapped, when piped or in CI
    )
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s" if err.is_terminal else "%(levelname)s %(message)s",
        handlers=[handler],
    )
    for chatty in ("gensim", "sentence_transformers", "optimum", "transformers", "jieba"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    set_progress(not quiet and err.is_terminal)


def fail(error: Exception, code: int = 2) -> typer.Exit:
    """Print ``error`` (as written: ``[lexical]`` or ``shopmatch[serve]`` are not markup) and exit ``code``."""
    err.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, highlight=False)
    return typer.Exit(code)
