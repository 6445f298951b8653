"""`shopmatch synonyms …`: synonym candidates for review (``synonyms mine``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopmatch.cli.common import app, err, fail
from shopmatch.errors import ShopmatchError

synonyms_app = typer.Typer(
    help="Query-time synonyms ([synonyms] file): mine candidates for a merchandiser to review.", no_args_is_help=True
)
app.add_typer(synonyms_app, name="synonyms")


@synonyms_app.command("mine")
def mine(
    index: Annotated[Path, typer.Argument(help="An index directory with the dense retriever (the default).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The candidates file to write.")],
    events: Annotated[
        Path | None, typer.Option(help="events.jsonl: also pair queries whose searches led to the same purchases.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Catalog candidates written at most (the best first).")] = 500,
    min_df: Annotated[int, typer.Option(min=1, help="Titles a term needs to be compared.")] = 5,
    min_shared: Annotated[int, typer.Option(min=1, help="Purchased products two queries must share.")] = 2,
) -> None:
    """Write synonym candidates, all commented out with their evidence: uncomment the ones to accept."""
    from shopmatch.backends.inprocess.static import StaticIndex
    from shopmatch.query.synonym_mining import mine_events, mine_index, write_candidates

    try:
        loaded = StaticIndex.load(index)
        candidates = mine_index(loaded, min_df=min_df)[:limit]
        header = [f"catalog: {index} ({len(loaded):,} products): {len(candidates)} candidates"]
        if events is not None:
            from shopmatch.events.io import read_events

            found = mine_events(read_events(events), loaded.config.lexical.analyzer(), min_shared=min_shared)
            header.append(f"events: {events}: {len(found)} candidates")
            candidates = [*found, *candidates]
        written = write_candidates(candidates, output, header=header)
    except (ShopmatchError, OSError) as error:
        raise fail(error) from None
    err.print(f"{written} candidates written to {output} (none applied: uncomment the ones to accept)", highlight=False)
