"""`shopmatch judgments …`: judgments files made from other data (``judgments from-events``)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopmatch.cli.common import err, fail, judgments_app, out
from shopmatch.cli.events import EventsArg, SkipOpt, read_quietly
from shopmatch.errors import ShopmatchError

ClickModel = Enum("ClickModel", {name: name for name in ("pbm", "coec", "ctr")}, type=str)


@judgments_app.command("from-events")
def from_events(
    events: EventsArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="judgments.tsv to write (and NAME.counts.tsv beside it).")
    ],
    model: Annotated[
        ClickModel,
        typer.Option(
            case_sensitive=False,
            help="pbm: position-based click model (EM); coec: clicks over expected clicks; ctr: raw click-through.",
        ),
    ] = ClickModel.pbm,
    min_impressions: Annotated[
        int, typer.Option(min=1, help="Leave out (query, product) pairs shown fewer times.")
    ] = 1,
    grades: Annotated[
        int, typer.Option(min=0, help="Labels 0 … K-1 (K ≥ 2); 0 writes the model's scores themselves.")
    ] = 4,
    plot: Annotated[Path | None, typer.Option(help="Plot the position propensities to this PNG.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file whose [click_model] table sets weights, positions, prior, EM.")
    ] = None,
    positions: Annotated[
        int | None, typer.Option(min=1, help="Positions modelled (default: [click_model] positions, 10).")
    ] = None,
    skip_bad_rows: SkipOpt = False,
) -> None:
    """Graded judgments from shopper events through a click model, with counts and confidence beside them."""
    from dataclasses import replace

    from shopmatch.events.click_models import ClickModelConfig, click_labels
    from shopmatch.events.labels import write_label_files

    if grades == 1:
        raise fail(ShopmatchError("--grades must be 0 (the scores themselves) or at least 2"))
    try:
        settings = ClickModelConfig.from_toml(config) if config is not None else ClickModelConfig()
        if positions is not None:
            settings = replace(settings, positions=positions)
        log = read_quietly(events, skip_bad_rows)
        labels = click_labels(log, model.value, settings)
        written = write_label_files(labels, output, grades=grades, min_impressions=min_impressions)
        if plot is not None:
            from shopmatch.events.plots import plot_propensities

            observed = labels.engagement_by_position
            raw = observed / observed[0] if len(observed) and observed[0] > 0 else None
            plot_propensities(labels.propensities, plot, title=f"{model.value}, {events.name}", reference=raw)
    except (ShopmatchError, OSError) as error:
        raise fail(error) from None
    err.print(log.summary(), highlight=False, markup=False)
    out.print(propensity_table(labels))
    if model.value == "pbm":
        state = "converged" if labels.converged else "stopped before converging"
        out.print(f"EM {state} after {labels.iterations} iterations", highlight=False)
    lines = [f"wrote {written.pairs:,} judgments of {written.queries:,} queries to {written.judgments}"]
    lines.append(f"scores, counts and confidence: {written.counts}")
    if written.dropped:
        lines.append(f"{written.dropped:,} pairs shown fewer than {min_impressions} times left out")
    if grades:
        steps = ", ".join(f"{g}: ≥ {written.top * g / grades:.4g}" for g in range(1, grades))
        lines.append(f"grades by score ({steps}; top grade from the 99th percentile, {written.top:.4g})")
    if plot is not None:
        lines.append(f"propensities plotted to {plot}")
    for line in lines:
        out.print(line, highlight=False, markup=False)


def propensity_table(labels) -> Table:
    """Position, rows shown, observed engagement, the model's propensity (relative to position 1)."""
    note = {
        "pbm": "propensity: chance the shopper looks at the position, fitted by the position-based model",
        "coec": "propensity: mean weighted engagement at the position, relative to position 1",
        "ctr": "naive click-through assumes every position is looked at alike",
    }[labels.model]
    table = Table(
        title=f"Position propensities ({labels.model})", title_justify="left", caption=note, caption_justify="left"
    )
    for name in ("position", "shown", "engaged", "propensity"):
        table.add_column(name, justify="right")
    for k, (shown, rate, value) in enumerate(
        zip(labels.shown_by_position, labels.engagement_by_position, labels.propensities, strict=True), start=1
    ):
        table.add_row(str(k), f"{shown:,}", f"{rate:.1%}", f"{value:.3f}")
    return table
