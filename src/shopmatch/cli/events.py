"""`shopmatch events …`: what a shop's search events say (``events stats``), and the shopper profiles
they give (``events profiles``)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopmatch.cli.common import err, events_app, fail, out
from shopmatch.errors import ShopmatchError

EventsArg = Annotated[Path, typer.Argument(help="events.jsonl (or .jsonl.gz): impressions, clicks, carts, purchases.")]
SkipOpt = Annotated[
    bool, typer.Option("--skip-bad-rows", help="Skip invalid lines (each reported) instead of stopping.")
]


@events_app.command("stats")
def stats(
    events: EventsArg,
    report: Annotated[
        Path | None,
        typer.Option(help="Also write DIR/events-stats.md, events-stats.json and ctr-by-position.png."),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Queries listed per table.")] = 10,
    positions: Annotated[int, typer.Option(min=1, help="Positions in the click-through table.")] = 10,
    skip_bad_rows: SkipOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Every count as one JSON object on stdout.")] = False,
) -> None:
    """Top queries, queries with no results or no clicks, click-through by position, orphans."""
    from shopmatch.events.stats import event_stats, summary_line, write_stats_report

    try:
        log = read_quietly(events, skip_bad_rows)
        counted = event_stats(log, max_position=positions)
        written = write_stats_report(counted, report, top=top) if report is not None else None
    except (ShopmatchError, OSError) as error:
        raise fail(error) from None
    if written is not None:
        err.print(f"report written to {written} (and {written.parent / 'ctr-by-position.png'})", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(counted.to_dict(), ensure_ascii=False) + "\n")
        return
    out.print(summary_line(counted), highlight=False)
    for table in stats_tables(counted, top):
        out.print(table)


def read_quietly(path: Path, skip_bad_rows: bool):
    """``read_events``; with ``skip_bad_rows`` the skipped lines are printed here (up to 20), not logged."""
    from shopmatch.events.io import read_events

    reader_log = logging.getLogger("shopmatch.events")
    level = reader_log.level
    if skip_bad_rows:
        reader_log.setLevel(logging.ERROR)  # the report is printed below, not logged as a warning too
    try:
        log = read_events(path, on_error="skip" if skip_bad_rows else "raise")
    finally:
        reader_log.setLevel(level)
    if log.skipped is not None and log.skipped.count:
        err.print(log.skipped.summary(limit=20), highlight=False, markup=False)
    return log


def stats_tables(stats, top: int) -> list[Table]:
    """The four tables of ``events stats``."""
    tables = []
    queries = Table(title=f"Top {top} queries", title_justify="left")
    for name, justify in [("query", "left"), ("searches", "right"), ("no results", "right"), ("clicked", "right")]:
        queries.add_column(name, justify=justify, overflow="fold")
    for name in ("CTR", "carted", "purchased"):
        queries.add_column(name, justify="right")
    for q in stats.top_queries(top):
        queries.add_row(
            q.query, f"{q.searches:,}", f"{q.no_results:,}", f"{q.clicked:,}", f"{q.ctr:.1%}", f"{q.carted:,}",
            f"{q.purchased:,}",
        )  # fmt: skip
    tables.append(queries)
    dead = stats.no_results()
    empty = Table(title=f"Queries with no results ({len(dead):,})", title_justify="left")
    for name, justify in [("query", "left"), ("searches", "right"), ("no results", "right")]:
        empty.add_column(name, justify=justify, overflow="fold")
    for q in dead[:top]:
        empty.add_row(q.query, f"{q.searches:,}", f"{q.no_results:,}")
    tables.append(empty)
    cold = stats.no_clicks()
    unclicked = Table(
        title=f"Queries with results but no click, cart or purchase ({len(cold):,})", title_justify="left"
    )
    unclicked.add_column("query", overflow="fold")
    unclicked.add_column("searches", justify="right")
    for q in cold[:top]:
        unclicked.add_row(q.query, f"{q.searches:,}")
    tables.append(unclicked)
    by_position = Table(
        title="Click-through by position",
        title_justify="left",
        caption="rate: share of the searches that showed a product at the position in which it was clicked, "
        "put in the cart, bought (orphans left out)",
        caption_justify="left",
    )
    for name in ("position", "shown", "clicked", "CTR", "cart rate", "purchase rate"):
        by_position.add_column(name, justify="right")
    for p in stats.positions:
        by_position.add_row(
            str(p.position), f"{p.shown:,}", f"{p.clicked:,}", f"{p.rate('clicked'):.1%}",
            f"{p.rate('carted'):.1%}", f"{p.rate('purchased'):.1%}",
        )  # fmt: skip
    tables.append(by_position)
    return tables


@events_app.command("profiles")
def profiles(
    events: EventsArg,
    catalog: Annotated[Path, typer.Option(help="The catalog the events' products come from (brand, category, price).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The profiles file to write (JSON).")],
    half_life_days: Annotated[
        float, typer.Option(min=0.001, help="An event counts half as much after this many days.")
    ] = 30.0,
    max_values: Annotated[int, typer.Option(min=1, help="Brands, categories, price bands kept per shopper.")] = 50,
    skip_bad_rows: SkipOpt = False,
) -> None:
    """Shopper profiles (decayed brand, category and price-band shares) from the events with a user_id."""
    from shopmatch.catalog import read_catalog
    from shopmatch.personalize.config import PersonalizeConfig
    from shopmatch.personalize.profiles import ProfileStore, catalog_facts
    from shopmatch.progress import track

    try:
        log = read_quietly(events, skip_bad_rows)
        products = read_catalog(catalog).products
        records = {p.id: p.to_dict() for p in track(products, total=len(products), description="Catalog")}
        store = ProfileStore.build(log, catalog_facts(records), PersonalizeConfig(half_life_days=half_life_days))
        store.save(output, max_values=max_values)
    except (ShopmatchError, OSError) as error:
        raise fail(error) from None
    unknown = store.unknown_products
    unknown = f"; {unknown:,} interactions with products not in the catalog" if unknown else ""
    err.print(f"{len(store):,} shopper profiles written to {output}{unknown}", highlight=False)
