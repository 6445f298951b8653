"""`shopmatch evaluate` and `shopmatch evaluate-pairs`: ranking and classification metrics."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopmatch.cli.common import Duplicates, DuplicatesOpt, RankerOpt, app, err, fail, out
from shopmatch.cli.render import metrics_table, significance_table
from shopmatch.errors import ShopmatchError


@app.command()
def evaluate(
    index_dir: Annotated[Path, typer.Argument(help="Index directory.")],
    judgments: Annotated[Path, typer.Argument(help="judgments.tsv (query_id, query, product_id, label).")],
    mode: Annotated[
        str, typer.Option(help="retrieval (search the whole catalog) or rerank (judged products).")
    ] = "retrieval",
    gains: Annotated[
        str, typer.Option(help="Label gains, e.g. E=1,S=0.1,C=0.01,I=0; numeric labels: offset=1,relevant>=2.5.")
    ] = "E=1,S=0.1,C=0.01,I=0",
    depth: Annotated[int, typer.Option(min=1, help="Results per query in retrieval mode.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    report: Annotated[
        Path | None,
        typer.Option(help="Write a report directory: report.md, report.html, report.json, plots/."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="Index directory evaluated the same way and compared query by query "
            "(default with --report: this index's lexical retriever alone, if it fuses several)."
        ),
    ] = None,
    duplicates: DuplicatesOpt = Duplicates.mean,
    ranker: RankerOpt = None,
) -> None:
    """Measure search quality on judged queries (NDCG@10, MRR@10, Recall@100, MAP@100)."""
    from shopmatch.eval.evaluator import EVALUATORS
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.pipeline import SearchPipeline

    if mode not in EVALUATORS:
        raise fail(ShopmatchError(f"--mode must be one of {', '.join(EVALUATORS)}, got {mode!r}"))
    try:
        gain_map = GainMap.parse(gains)
    except ValueError as error:
        raise fail(ShopmatchError(f"--gains: {error}")) from None
    try:
        plain = SearchPipeline.load(index_dir)
        pipeline = plain.with_ranker(ranker)
        judged = read_judgments(judgments, gains=gain_map, duplicates=duplicates.value)
        missing = set(pipeline.missing(list(dict.fromkeys(r.product_id for r in judged.rows))))
        if missing:
            logging.getLogger("shopmatch").warning(
                "%d judged product id(s) are not in the index (e.g. %s); they count as never retrieved",
                len(missing),
                sorted(missing)[0],
            )
        kwargs = {"depth": depth} if mode == "retrieval" else {}
        result = EVALUATORS[mode](pipeline, judged, gain_map, **kwargs)
        results = {str(index_dir): result}
        base_name, base_pipeline = None, None
        if report is not None or not as_json:  # --json alone prints only this index's metrics
            if ranker is not None and baseline is None:  # what the ranker changes
                base_name, base_pipeline = f"{index_dir} (without the ranker)", plain
            else:
                base_name, base_pipeline = _baseline_pipeline(pipeline, index_dir, baseline, default=report is not None)
        if base_pipeline is not None:
            base_name = base_name if base_name not in results else f"{base_name} (baseline)"
            # the baseline first: tables and plots read "before, after"
            results = {base_name: EVALUATORS[mode](base_pipeline, judged, gain_map, **kwargs), **results}
        if report is not None:
            from shopmatch.eval.report import write_report

            title = f"{judgments.name} — {mode} mode, {result.queries} queries"
            written = write_report(results, judged, report, baseline=base_name, title=title)
    except ShopmatchError as error:
        raise fail(error) from None
    if report is not None:
        err.print(f"report written to {written.html_path} (and report.md, report.json, plots/)", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps({**result.to_dict(), "merged": judged.merged.to_dict()}) + "\n")
        return
    merged = f"judgments: {judged.merged}" if judged.merged.pairs else None
    out.print(metrics_table(f"{judgments} — {mode} mode, {result.queries} queries", results, caption=merged))
    if base_pipeline is not None:
        from shopmatch.eval.significance import compare_metrics

        if report is not None:  # the report tested the same runs with the same seed
            tested = written.comparisons[str(index_dir)].significance
        else:
            tested = compare_metrics(results[base_name].per_query, result.per_query)
        out.print(significance_table(f"{index_dir} against {base_name}, query by query", tested))


def _baseline_pipeline(pipeline, index_dir: Path, baseline: Path | None, *, default: bool):
    """The run to compare with: ``--baseline``'s index, else (for a report) the lexical retriever alone.

    Returns ``(name, pipeline)``; the pipeline is None when there is no baseline.
    """

    from shopmatch.pipeline import SearchPipeline

    if baseline is not None:
        return str(baseline), SearchPipeline.load(baseline)
    if not default or len(pipeline.retrievers) < 2:
        return None, None
    if "lexical" not in pipeline.retrievers:
        logging.getLogger("shopmatch").warning(
            "%s has no lexical retriever to compare with; the report has no baseline", index_dir
        )
        return None, None
    lexical_only = pipeline.with_config(retrievers=("lexical",))
    return f"{index_dir} (lexical only)", lexical_only


@app.command("evaluate-pairs")
def evaluate_pairs(
    model_dir: Annotated[Path, typer.Argument(help="A pair classifier (shopmatch train pairs) directory.")],
    pairs: Annotated[Path, typer.Argument(help="pairs.tsv (text_a, text_b, label) to score.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Pairs per forward pass.")] = 64,
) -> None:
    """Classification metrics of a pair classifier: accuracy, precision, recall, F1 (macro for
    several classes), ROC-AUC, MSE."""
    from shopmatch.eval.metrics import pair_metrics
    from shopmatch.judgments import read_pairs
    from shopmatch.train.cross_encoder import load_pair_classifier
    from shopmatch.train.evaluation import predict_classes

    try:
        model = load_pair_classifier(model_dir)
        rows = read_pairs(pairs)
        if not rows:
            raise ShopmatchError(f"{pairs}: no pairs to evaluate")
        predictions, probabilities = predict_classes(model, [(r.text_a, r.text_b) for r in rows], batch_size)
        metrics = pair_metrics([r.label for r in rows], predictions.tolist(), probabilities)
    except (ShopmatchError, ValueError) as error:
        raise fail(error) from None
    metrics["classes"] = max(model.num_labels, 2)
    if as_json:
        sys.stdout.write(json.dumps(metrics) + "\n")
        return
    table = Table(title=f"{pairs} — {model_dir}", title_justify="left")
    for name in metrics:
        table.add_column(name, justify="right")
    table.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in metrics.values()))
    out.print(table)
