"""`shopmatch train ranker --events`: a ranker from shopper events, its propensities and importances."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from shopmatch.cli.common import err, fail, out
from shopmatch.errors import ShopmatchError


def train_from_events_command(
    index_dir: Path,
    events: Path,
    output: Path,
    debias: str,
    label_model: str | None,
    unshown: int | None,
    candidates: int,
    valid_share: float,
    rounds: int,
    seed: int,
    *,
    rank_features: bool = False,
    event_features: bool = True,
    monotone: bool = True,
) -> None:
    """Read the events, build the rows, train, save, print and plot the summary."""
    from shopmatch.events import read_events
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.rank.from_events import UNSHOWN, event_ranking_data, pipeline_features, train_from_events

    try:
        log = read_events(events)
        err.print(f"{events}: {log.summary()}", highlight=False)
        pipeline = SearchPipeline.load(index_dir)
        if pipeline.ranker is not None:  # features come from the stages before any ranker
            pipeline = pipeline.with_config(ranker=type(pipeline.config.ranker)())
        data = event_ranking_data(
            log,
            pipeline_features(pipeline, candidates),
            debias=debias,
            label_model=label_model,
            unshown=UNSHOWN if unshown is None else unshown,
        )
        ranker = train_from_events(
            data,
            valid_share=valid_share,
            seed=seed,
            rounds=rounds,
            rank_features=rank_features,
            event_features=event_features,
            monotone=monotone,
        )
        ranker.summary.update(index=str(index_dir), events=str(events))
        ranker.save(output)
    except ShopmatchError as error:
        raise fail(error) from None
    from shopmatch.cli.train_ranker import _print_summary
    from shopmatch.rank.plots import plot_importances

    summary = ranker.summary
    _print_summary(summary)
    out.print(_propensity_table(summary))
    from shopmatch.events.plots import plot_propensities

    plot_propensities(
        summary["propensities"],
        output / "propensities.png",
        title=f"position-based model, {events.name}",
        reference=_relative(summary["engagement_by_position"]),
    )
    plot_importances(summary["importance"], output / "importance.png", title=f"ranker from {events.name}")
    err.print(
        f"debias {summary['debias']}, labels from {summary['label_model']}; plots in {output}/propensities.png, "
        f"importance.png\nranker written to {output}; use it with --ranker {output}",
        highlight=False,
    )


def _relative(values: list[float]) -> list[float]:
    top = values[0] if values and values[0] > 0 else 1.0
    return [v / top for v in values]


def _propensity_table(summary: dict) -> Table:
    table = Table(
        title="Position propensities (position-based click model, position 1 = 1)",
        caption="engaged: share of the products shown there the shopper clicked, carted or bought",
        title_justify="left",
        caption_justify="left",
    )
    for name in ("position", "engaged", "propensity"):
        table.add_column(name, justify="right")
    engaged = summary["engagement_by_position"]
    for i, value in enumerate(summary["propensities"]):
        table.add_row(str(i + 1), f"{engaged[i]:.3f}" if i < len(engaged) else "", f"{value:.3f}")
    return table
