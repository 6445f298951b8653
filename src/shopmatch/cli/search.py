"""`shopmatch search`: ranked products for one query, as a table or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from shopmatch.cli.common import app, fail, out
from shopmatch.cli.render import results_table
from shopmatch.errors import ShopmatchError


@app.command()
def search(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    query: Annotated[str, typer.Argument(help="The query text.")],
    k: Annotated[int, typer.Option("-k", min=1, max=10_000, help="Number of results.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Search an index and print the ranked products."""
    from shopmatch.pipeline import SearchPipeline

    try:
        pipeline = SearchPipeline.load(index_dir)
        results = pipeline.search(query, k=k)[0]
    except ShopmatchError as error:
        raise fail(error) from None
    if as_json:
        sys.stdout.write(json.dumps({"query": query, "results": [r.to_dict() for r in results]}, ensure_ascii=False))
        sys.stdout.write("\n")
        return
    if not results:
        out.print(f"no products match {query!r}")
        return
    out.print(results_table(query, results))
