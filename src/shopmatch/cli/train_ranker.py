"""`shopmatch train ranker`: a ranker chosen by inner cross-validation over judged queries (or trained
from shopper events), with its summary."""

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
    rank_features: Annotated[
        bool,
        typer.Option(
            help="With --events: let the trees read the rank features (off: with one fixed ranking they learn "
            "the shown set back)."
        ),
    ] = False,
    event_features: Annotated[
        bool, typer.Option(help="With --events: the ranker also reads the products' click, cart and purchase rates.")
    ] = True,
    monotone: Annotated[
        bool, typer.Option(help="With --events: the score may only rise with a retriever's score.")
    ] = True,
    gains: Annotated[
        str, typer.Option(help="Label gains; their order gives the grades (E=1,S=0.1,C=0.01,I=0: E=3 … I=0).")
    ] = "E=1,S=0.1,C=0.01,I=0",
    candidates: Annotated[
        int, typer.Option(min=1, help="Candidates per query it learns to re-order (use it with [ranker] top_n).")
    ] = 100,
    inner_folds: Annotated[
        int, typer.Option(min=2, help="Folds of the judged queries that choose the model (held-out NDCG@10).")
    ] = 3,
    folds: Annotated[
        int,
        typer.Option(
            min=0, help="Also report NDCG@10 held out by K-fold cross-validation, the choice made inside (0: skip)."
        ),
    ] = 0,
    valid_share: Annotated[
        float,
        typer.Option(min=0.0, max=0.9, help="With --events: share of queries held out (seeded) for early stopping."),
    ] = 0.0,
    rounds: Annotated[int, typer.Option(min=1, help="With --events: boosting rounds at most.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the folds, the early-stopping split and LightGBM.")] = 0,
    duplicates: DuplicatesOpt = Duplicates.mean,
    intent_features: Annotated[
        bool,
        typer.Option(
            help="With --judgments: also read the category-intent features when the index has an intent model "
            "(the ranker then needs one wherever it is used)."
        ),
    ] = True,
) -> None:
    """Train the learned ranker. From judged queries (--judgments): the candidate models (the fused
    order, each retriever's order, regularised LambdaMART settings) are scored by NDCG@10 on held-out
    folds of the judged queries and the best is trained on all of them. From shopper events
    (--events): LambdaMART on click-model labels, corrected for position bias."""
    if (judgments is None) == (events is None):
        raise fail(ShopmatchError("give either --judgments or --events"))
    if events is not None:
        from shopmatch.cli.train_events import train_from_events_command

        train_from_events_command(
            index_dir,
            events,
            output,
            debias,
            label_model,
            unshown,
            candidates,
            valid_share,
            rounds,
            seed,
            rank_features=rank_features,
            event_features=event_features,
            monotone=monotone,
        )
        return
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.rank.feature_groups import default_groups
    from shopmatch.rank.selection import cross_validated, fit_ranker
    from shopmatch.rank.training import ranking_data

    try:
        gain_map = GainMap.parse(gains)
    except ValueError as error:
        raise fail(ShopmatchError(f"--gains: {error}")) from None
    try:
        pipeline = SearchPipeline.load(index_dir)
        if pipeline.ranker is not None:  # features come from the stages before any ranker
            pipeline = pipeline.with_config(ranker=type(pipeline.config.ranker)())
        judged = read_judgments(judgments, gains=gain_map, duplicates=duplicates.value)
        groups = default_groups(pipeline.snapshot) if intent_features else ()
        if groups:
            err.print(f"feature groups: {', '.join(g.name for g in groups)}", highlight=False)
        data = ranking_data(pipeline, judged, gain_map, top_n=candidates, feature_groups=groups)
        if not data.query_ids:
            raise ShopmatchError(f"{judgments}: no judged query has a candidate in {index_dir}")
        ranker = fit_ranker(data, inner_folds=inner_folds, seed=seed).ranker
        if folds:
            ranker.summary["cross_validation"] = cross_validated(data, folds, inner_folds=inner_folds, seed=seed)
        ranker.summary.update(index=str(index_dir), judgments=str(judgments), gains=str(gain_map))
        ranker.save(output)
    except ShopmatchError as error:
        raise fail(error) from None
    _print_summary(ranker.summary)
    err.print(f"ranker written to {output}; use it with --ranker {output}", highlight=False)


def _print_summary(summary: dict) -> None:
    facts = Table(title="Ranker training", show_header=False)
    for key in ("queries", "rows", "valid_queries", "valid_ndcg@10", "rounds", "base"):
        if key in summary:
            value = summary[key]
            facts.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    selection = summary.get("selection")
    if selection:
        facts.add_row("chosen", selection["chosen"])
    cv = summary.get("cross_validation")
    if cv:
        facts.add_row(f"{cv['folds']}-fold NDCG@10, candidates' order", f"{cv['ndcg@10_before']:.4f}")
        facts.add_row(f"{cv['folds']}-fold NDCG@10, ranker", f"{cv['ndcg@10_ranker']:.4f}")
    out.print(facts)
    if selection:
        table = Table(title=f"Models scored by {selection['inner_folds']}-fold NDCG@10 (held-out judged queries)")
        table.add_column("model")
        table.add_column("NDCG@10", justify="right")
        for name, value in selection["ndcg@10"].items():
            table.add_row(("→ " if name == selection["chosen"] else "  ") + name, f"{value:.4f}")
        out.print(table)
    table = Table(title="Feature importance (gain)")
    table.add_column("feature")
    table.add_column("gain", justify="right")
    for name, gain in summary.get("importance", {}).items():
        if gain > 0:
            table.add_row(name, f"{gain:.2f}")
    out.print(table)
