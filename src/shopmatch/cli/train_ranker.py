"""`shopmatch train ranker`: a LambdaMART ranker from an index and judgments (or shopper events), with its summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopmatch.cli.common import Duplicates, DuplicatesOpt, err, fail, out, train_app
from shopmatch.errors import ShopmatchError


@train_app.command("ranker")
def train_ranker_command(
    index_dir: Annotated[Path, typer.Argument(help="Index directory the ranker will re-order the candidates of.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Ranker directory to write.")],
    judgments: Annotated[Path | None, typer.Option(help="judgments.tsv to learn from.")] = None,
    events: Annotated[
        Path | None, typer.Option(help="events.jsonl[.gz] to learn from instead (shopper impressions and clicks).")
    ] = None,
    debias: Annotated[
        str,
        typer.Option(help="With --events: position-bias correction: click-model, position (LightGBM), ipw or none."),
    ] = "click-model",
    label_model: Annotated[
        str | None,
        typer.Option(help="With --events: click model of the labels, pbm, coec or ctr [coec; ctr unless click-model]."),
    ] = None,
    unshown: Annotated[
        int | None,
        typer.Option(min=0, help="With --events: candidates not shown added to each group at grade 0 [90]."),
    ] = None,
    gains: Annotated[
        str, typer.Option(help="Label gains; their order gives the grades (E=1,S=0.1,C=0.01,I=0: E=3 … I=0).")
    ] = "E=1,S=0.1,C=0.01,I=0",
    candidates: Annotated[int, typer.Option(min=1, help="Fused candidates per query, beside the judged ones.")] = 100,
    folds: Annotated[
        int, typer.Option(min=0, help="Also report NDCG@10 held out by K-fold cross-validation by query (0: skip).")
    ] = 0,
    valid_share: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=0.9, help="Share of queries held out (seeded) for early stopping [0.2; with --events 0]."
        ),
    ] = None,
    rounds: Annotated[int | None, typer.Option(min=1, help="Boosting rounds at most [300; with --events 100].")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the held-out split and of LightGBM.")] = 0,
    duplicates: DuplicatesOpt = Duplicates.mean,
) -> None:
    """Train a learned ranker (LightGBM LambdaMART) on the pipeline's features of judged queries,
    or of the queries of shopper events (--events), corrected for position bias."""
    if (judgments is None) == (events is None):
        raise fail(ShopmatchError("give either --judgments or --events"))
    if events is not None:
        from shopmatch.cli.train_events import train_from_events_command

        valid = 0.0 if valid_share is None else valid_share
        train_from_events_command(
            index_dir, events, output, debias, label_model, unshown, candidates, valid, rounds or 100, seed
        )
        return
    valid_share = 0.2 if valid_share is None else valid_share
    rounds = rounds or 300
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.rank.training import cross_validated, ranking_data, train_ranker

    try:
        gain_map = GainMap.parse(gains)
    except ValueError as error:
        raise fail(ShopmatchError(f"--gains: {error}")) from None
    try:
        pipeline = SearchPipeline.load(index_dir)
        if pipeline.ranker is not None:  # features come from the stages before any ranker
            pipeline = pipeline.with_config(ranker=type(pipeline.config.ranker)())
        judged = read_judgments(judgments, gains=gain_map, duplicates=duplicates.value)
        data = ranking_data(pipeline, judged, gain_map, candidates=candidates)
        if not data.query_ids:
            raise ShopmatchError(f"{judgments}: no judged query has a candidate in {index_dir}")
        ranker = train_ranker(data, valid_share=valid_share, seed=seed, rounds=rounds)
        if folds:
            ranker.summary["cross_validation"] = cross_validated(data, folds, seed=seed, rounds=rounds)
        ranker.summary.update(index=str(index_dir), judgments=str(judgments), gains=str(gain_map))
        ranker.save(output)
    except ShopmatchError as error:
        raise fail(error) from None
    _print_summary(ranker.summary)
    err.print(f"ranker written to {output}; use it with --ranker {output}", highlight=False)


def _print_summary(summary: dict) -> None:
    facts = Table(title="Ranker training", show_header=False)
    for key in ("queries", "rows", "valid_queries", "valid_ndcg@10", "rounds"):
        if key in summary:
            value = summary[key]
            facts.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    cv = summary.get("cross_validation")
    if cv:
        facts.add_row(f"{cv['folds']}-fold NDCG@10, candidates' order", f"{cv['ndcg@10_before']:.4f}")
        facts.add_row(f"{cv['folds']}-fold NDCG@10, ranker", f"{cv['ndcg@10_ranker']:.4f}")
    out.print(facts)
    table = Table(title="Feature importance (gain)")
    table.add_column("feature")
    table.add_column("gain", justify="right")
    for name, gain in summary.get("importance", {}).items():
        if gain > 0:
            table.add_row(name, f"{gain:.2f}")
    out.print(table)
