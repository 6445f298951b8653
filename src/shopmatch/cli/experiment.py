"""`shopmatch experiment report`: who won an interleaving experiment, per impression and per session."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopmatch.cli.common import app, err, fail, out
from shopmatch.errors import ShopmatchError

experiment_app = typer.Typer(
    help="Online experiments: team-draft interleaving of two rankers (shopmatch serve --experiment-*).",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("report")
def report(
    events: Annotated[
        Path, typer.Argument(help="events.jsonl, or the service's events directory (shopmatch serve --events DIR).")
    ],
    name: Annotated[str | None, typer.Option(help="Only this experiment (default: every one in the log).")] = None,
    alpha: Annotated[float, typer.Option(min=0.0, max=1.0, help="Significance level of the verdict.")] = 0.05,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Skip invalid lines (a torn last line of a live log).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The counts as one JSON object on stdout.")] = False,
) -> None:
    """Wins (the candidate's products got more clicks), losses and ties, with a binomial sign test."""
    from shopmatch.events.interleaving import outcomes
    from shopmatch.events.logdir import read_events_path

    try:
        log = read_events_path(events, on_error="skip" if skip_bad_rows else "raise")
        found = outcomes(log)
        if name is not None:
            found = {k: v for k, v in found.items() if k == name}
        if not found:
            what = f"experiment {name!r}" if name else "an interleaving experiment"
            raise ShopmatchError(f"{events}: no impression of {what} (serve with --experiment-share > 0)")
    except (ShopmatchError, OSError) as error:
        raise fail(error) from None
    if as_json:
        answer = {
            key: {**value.to_dict(), "verdict": verdict(value.impressions, alpha)} for key, value in found.items()
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        return
    err.print(log.summary(), highlight=False, markup=False)
    for outcome in found.values():
        out.print(_table(outcome))
        out.print(verdict(outcome.impressions, alpha), highlight=False, markup=False)


def verdict(tally, alpha: float) -> str:
    """One sentence: which side interleaving prefers, and whether the sign test says it is more than chance."""
    if tally.wins == tally.losses:
        return f"no preference (p = {tally.p_value:.3g})"
    side = "candidate" if tally.wins > tally.losses else "control"
    strength = "significant" if tally.p_value < alpha else "not significant"
    return f"{side} preferred, {strength} at {alpha:g} (sign test p = {tally.p_value:.3g})"


def _table(outcome) -> Table:
    table = Table(title=f"Interleaving experiment {outcome.experiment!r}", title_justify="left")
    for column in ("unit", "wins", "losses", "ties", "(no clicks)", "Δ", "sign test p"):
        table.add_column(column, justify="right" if column != "unit" else "left")
    for unit, tally in (("impression", outcome.impressions), ("session", outcome.sessions)):
        table.add_row(
            unit,
            f"{tally.wins:,}",
            f"{tally.losses:,}",
            f"{tally.ties:,}",
            f"{tally.no_clicks:,}",
            f"{tally.delta:+.4f}",
            f"{tally.p_value:.3g}",
        )
    table.caption = (
        f"wins: the candidate's products got more clicks; clicks credited: candidate "
        f"{outcome.clicks['candidate']:,}, control {outcome.clicks['control']:,}; Δ = (wins + ties/2)/n − 1/2"
    )
    table.caption_justify = "left"
    return table
