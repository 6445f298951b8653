"""`shopmatch search`: ranked products for one query or a file of queries, as tables or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from shopmatch.cli.common import RankerOpt, app, fail, out
from shopmatch.cli.render import results_table
from shopmatch.errors import ShopmatchError
from shopmatch.query.suggest import clicked_queries


@app.command()
def search(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    query: Annotated[str | None, typer.Argument(help="The query text (or --queries FILE).")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=10_000, help="Number of results.")] = 10,
    offset: Annotated[int, typer.Option(min=0, help="Results to skip (paging).")] = 0,
    brand: Annotated[list[str] | None, typer.Option(help="Only this brand (repeat for any of several).")] = None,
    color: Annotated[list[str] | None, typer.Option(help="Only this color (repeat for any of several).")] = None,
    category: Annotated[str | None, typer.Option(help="Category path prefix, e.g. 'Home > Kitchen'.")] = None,
    min_price: Annotated[float | None, typer.Option(min=0)] = None,
    max_price: Annotated[float | None, typer.Option(min=0)] = None,
    min_rating: Annotated[float | None, typer.Option(min=0, max=5)] = None,
    rerank: Annotated[bool, typer.Option(help="Re-rank with the index's cross-encoder, if it has one.")] = True,
    explain: Annotated[bool, typer.Option("--explain", help="Add each result's explanation (JSON).")] = False,
    spelling: Annotated[
        bool, typer.Option(help="Correct misspelled words from the catalog's words (--no-spelling: as typed).")
    ] = True,
    queries: Annotated[
        Path | None, typer.Option(help="A file of queries, one a line, searched with the same options.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per query on stdout.")] = False,
    ranker: RankerOpt = None,
    user_id: Annotated[
        str | None,
        typer.Option(help="Who searches: personalized with [personalize] (or --profiles, --personalizer)."),
    ] = None,
    profiles: Annotated[
        Path | None,
        typer.Option(help="Shopper profiles (shopmatch events profiles) instead of [personalize] profiles."),
    ] = None,
    personalizer: Annotated[
        Path | None, typer.Option(help="A personalizer directory instead of [personalize] model.")
    ] = None,
) -> None:
    """Search an index and print the ranked products."""
    from shopmatch.filters import Filters, category_path
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.query import Query

    if (query is None) == (queries is None):
        raise fail(ShopmatchError("give a query or --queries FILE (not both)"))
    try:
        texts = [query] if query is not None else _read_queries(queries)
        filters = Filters(
            tuple(brand or ()), tuple(color or ()), category_path(category), min_price, max_price, min_rating
        )
        pipeline = SearchPipeline.load(index_dir).with_ranker(ranker)
        if profiles is not None or personalizer is not None:
            pipeline = _personalized(pipeline, profiles, personalizer)
        queries = [Query(t, k, offset, filters, explain, rerank, spelling=spelling, user_id=user_id) for t in texts]
        pages = pipeline.search_pages(queries)
    except ShopmatchError as error:
        raise fail(error) from None
    for page in pages:
        if as_json:
            sys.stdout.write(json.dumps({**page.to_dict(), "filters": filters.to_dict()}, ensure_ascii=False) + "\n")
            continue
        if page.query.pinyin is not None:
            out.print(f"read as {page.query.pinyin.text!r} (pinyin)")
        if page.query.corrected:
            out.print(
                f"showing results for {page.query.corrected!r} (search instead for {page.query.text!r}: --no-spelling)"
            )
        if not page.results:
            out.print(f"no products match {page.query.searched!r}")
        else:
            out.print(results_table(page.query.searched, page.results))


def _personalized(pipeline, profiles: Path | None, personalizer: Path | None):
    """``pipeline`` with ``[personalize]`` pointing at these files (each checked now, errors naming it)."""
    from dataclasses import replace

    from shopmatch.personalize.model import configured_personalizer
    from shopmatch.personalize.stage import configured_profiles

    settings = pipeline.config.personalize
    if profiles is not None:
        configured_profiles(str(profiles))
        settings = replace(settings, profiles=str(profiles))
    if personalizer is not None:
        configured_personalizer(str(personalizer))
        settings = replace(settings, model=str(personalizer))
    return pipeline.with_config(personalize=settings)


def _read_queries(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ShopmatchError(f"{path}: cannot read the queries ({error})") from None
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise ShopmatchError(f"{path}: no queries (one a line)")
    return texts


@app.command()
def suggest(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    prefix: Annotated[str, typer.Argument(help="What a shopper has typed (English, Chinese or pinyin).")],
    limit: Annotated[int, typer.Option(min=1, max=50, help="Suggestions wanted.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="The answer of GET /suggest, as JSON.")] = False,
    events: Annotated[
        list[Path] | None,
        typer.Option(exists=True, dir_okay=False, help="Events files: also suggest the queries that found clicks."),
    ] = None,
) -> None:
    """Complete a prefix from the index's suggestions (catalog phrases with their product counts)."""
    from shopmatch.events.io import read_events
    from shopmatch.pipeline import SearchPipeline

    try:
        pipeline = SearchPipeline.load(index_dir)
        clicked = clicked_queries(read_events(path) for path in events) if events else {}
        found = pipeline.suggest(prefix, limit, clicked=clicked)
    except ShopmatchError as error:
        raise fail(error) from None
    if as_json:
        answer = {"query": prefix, "suggestions": [s.to_dict() for s in found]}
        sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        return
    if not found:
        out.print(f"no suggestions for {prefix!r}")
    for s in found:
        out.print(f"{s.text}  {s.results}" + ("  (one edit away)" if s.typo else ""), markup=False, highlight=False)
