"""`shopmatch retrain`: events → labels (click model) → a new versioned ranker, optionally reloaded;
the ranker is learnt as `shopmatch train ranker --events` learns it."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopmatch.cli.common import app, fail, out
from shopmatch.errors import ShopmatchError

RELOAD_PATH = "/admin/models/reload"


@app.command()
def retrain(
    index: Annotated[Path, typer.Option(help="Index directory the ranker re-orders the candidates of.")],
    events: Annotated[
        Path, typer.Option(help="events.jsonl, or the service's events directory (shopmatch serve --events DIR).")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Models directory: a new ranker-<UTC time> version is written in it.")
    ],
    label_model: Annotated[
        str | None, typer.Option(help="Labels from: coec (the default), pbm (position-based, EM) or ctr.")
    ] = None,
    min_impressions: Annotated[int, typer.Option(min=1, help="Refuse to train on fewer impressions.")] = 200,
    min_clicks: Annotated[int, typer.Option(min=1, help="Refuse to train on fewer clicks, carts, purchases.")] = 50,
    min_queries: Annotated[int, typer.Option(min=1, help="Refuse to train on fewer queries with a click.")] = 5,
    candidates: Annotated[int, typer.Option(min=1, help="Fused candidates per query, beside the labelled ones.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of LightGBM.")] = 0,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Skip invalid lines (e.g. the torn last line of a live log).")
    ] = False,
    reload_url: Annotated[
        str | None, typer.Option(help="Then ask this service to load it (http://host:port; POST /admin/models/reload).")
    ] = None,
    token: Annotated[str | None, typer.Option(help="The service's write token (default: $SHOPMATCH_TOKEN).")] = None,
) -> None:
    """Learn a new ranker from shopper events and write it as a new version (schedule it, e.g. nightly)."""
    from shopmatch.events.logdir import read_events_path
    from shopmatch.rank.retrain import retrain as retrain_ranker

    try:
        log = read_events_path(events, on_error="skip" if skip_bad_rows else "raise")
        thresholds = {"min_impressions": min_impressions, "min_clicks": min_clicks, "min_queries": min_queries}
        path, ranker, counts = retrain_ranker(
            index,
            log,
            output,
            thresholds=thresholds,
            label_model=label_model,
            candidates=candidates,
            seed=seed,
        )
    except (ShopmatchError, OSError, ValueError) as error:
        raise fail(error) from None
    summary = ranker.summary
    table = Table(title="Retrained ranker", show_header=False)
    rows = [
        ("events", log.summary()),
        (
            "impressions / interactions / queries clicked",
            f"{counts.impressions:,} / {counts.clicks:,} / {counts.clicked_queries:,}",
        ),
        (
            "labels (click model)",
            f"{summary['label_pairs']:,} pairs of {summary['label_queries']:,} queries ({summary['label_model']})",
        ),
        ("training queries / rows", f"{summary['queries']:,} / {summary['rows']:,}"),
        ("model", f"{summary.get('rounds', '-')} rounds, debias {summary.get('debias', '-')}"),
    ]
    if "valid_ndcg@10" in summary:
        rows.append(
            (f"held-out NDCG@10 ({summary['valid_queries']} queries, click labels)", f"{summary['valid_ndcg@10']:.4f}")
        )
    rows.append(("written", str(path)))
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)
    if reload_url is None:
        return
    try:
        answer = reload_service(reload_url, path, token or os.environ.get("SHOPMATCH_TOKEN"))
    except ShopmatchError as error:
        raise fail(error, code=3) from None
    out.print(f"reloaded by {reload_url}: generation {answer['models']['generation']}", highlight=False)


def reload_service(url: str, ranker_dir: Path, token: str | None, *, timeout: float = 120.0) -> dict:
    """``POST /admin/models/reload`` with ``{"ranker": ranker_dir}``; the service's answer.

    Raises:
        ShopmatchError: the service refused the model (its message), or could not be reached.
    """
    endpoint = url.rstrip("/")
    if not endpoint.endswith(RELOAD_PATH):
        endpoint += RELOAD_PATH
    body = json.dumps({"ranker": str(Path(ranker_dir).resolve())}).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = error.reason
        raise ShopmatchError(f"{endpoint}: {error.code} {message} (the new version stays in place)") from None
    except (urllib.error.URLError, OSError) as error:
        raise ShopmatchError(f"{endpoint}: {error} (the new version stays in place)") from None
