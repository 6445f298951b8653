"""The ``shopmatch`` command: index, search, evaluate, validate, demo, train."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from shopmatch.errors import ShopmatchError

app = typer.Typer(
    help="shopmatch: e-commerce search relevance — index a catalog, search it, measure it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(
    help="Train matching models on a shop's own judgments (cross-encoder, bi-encoder, classic baselines).",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")
out = Console()
# soft_wrap: an error's "file:line: field" must stay on one line for grep and CI logs.
err = Console(stderr=True, soft_wrap=True)


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details (INFO).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    from shopmatch.progress import set_progress

    handler = (
        RichHandler(console=err, show_time=False, show_path=False)
        if err.is_terminal
        else logging.StreamHandler(sys.stderr)  # plain lines, never wrapped, when piped or in CI
    )
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s" if err.is_terminal else "%(levelname)s %(message)s",
        handlers=[handler],
    )
    for chatty in ("gensim", "sentence_transformers", "optimum", "transformers", "jieba"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    set_progress(not quiet and err.is_terminal)


def _fail(error: Exception, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
    return typer.Exit(code)


@app.command()
def index(
    catalog: Annotated[Path, typer.Argument(help="Catalog file: .jsonl[.gz], .csv, .tsv or .parquet.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Index directory to write.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline config (TOML).")] = None,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Skip invalid products (reported) instead of stopping.")
    ] = False,
) -> None:
    """Build an index directory from a catalog."""
    from shopmatch.catalog import read_catalog
    from shopmatch.config import PipelineConfig
    from shopmatch.pipeline import SearchPipeline

    try:
        cfg = PipelineConfig.from_toml(config) if config else PipelineConfig()
        started = time.perf_counter()
        products = read_catalog(catalog, on_error="skip" if skip_bad_rows else "raise")
        if not len(products):
            raise _fail(ShopmatchError(f"{catalog}: no products to index"))
        pipeline = SearchPipeline.build(products.products, cfg)
        pipeline.save(output)
    except ShopmatchError as error:
        raise _fail(error) from None
    skipped = products.skipped.count if products.skipped else 0
    err.print(
        f"indexed {len(products):,} products into {output} in {time.perf_counter() - started:.1f} s"
        f" ({describe_pipeline(cfg)})" + (f"; {skipped} bad rows skipped" if skipped else "")
    )


def describe_pipeline(config) -> str:
    """A short description of the stages, e.g. ``lexical + dense (int8 ONNX), rrf``."""
    parts = []
    for name in config.retrievers:
        if name == "dense":
            parts.append(f"dense {config.dense.encoder.model} ({config.dense.encoder.backend})")
        else:
            parts.append(name)
    text = " + ".join(parts)
    if len(config.retrievers) > 1:
        text += f", {config.fusion.method} fusion"
    return text


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
        raise _fail(error) from None
    if as_json:
        sys.stdout.write(json.dumps({"query": query, "results": [r.to_dict() for r in results]}, ensure_ascii=False))
        sys.stdout.write("\n")
        return
    if not results:
        out.print(f"no products match {query!r}")
        return
    out.print(_results_table(query, results))


def _results_table(query: str, results) -> Table:
    table = Table(title=f"“{query}”", title_justify="left")
    columns = [("#", "right"), ("score", "right"), ("id", "left"), ("title", "left"), ("brand", "left")]
    fused = bool(results) and len(results[0].sources) > 1
    if fused:
        columns.append(("ranks by retriever", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    for r in results:
        title = r.product.get("title", "")
        cells = [
            str(r.rank),
            f"{r.score:.3f}" if fused else f"{r.score:.2f}",
            r.product_id,
            title[:90] + ("…" if len(title) > 90 else ""),
            str(r.product.get("brand") or ""),
        ]
        if fused:
            cells.append(" ".join(f"{n} {s['rank'] or '–'}" for n, s in r.sources.items()))
        table.add_row(*cells)
    return table


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
) -> None:
    """Measure search quality on judged queries (NDCG@10, MRR@10, Recall@100, MAP@100)."""
    from shopmatch.eval.evaluator import EVALUATORS
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.pipeline import SearchPipeline

    if mode not in EVALUATORS:
        raise _fail(ShopmatchError(f"--mode must be one of {', '.join(EVALUATORS)}, got {mode!r}"))
    try:
        gain_map = GainMap.parse(gains)
    except ValueError as error:
        raise _fail(ShopmatchError(f"--gains: {error}")) from None
    try:
        pipeline = SearchPipeline.load(index_dir)
        judged = read_judgments(judgments, gains=gain_map)
        missing = {r.product_id for r in judged.rows if pipeline.products.row_of(r.product_id) is None}
        if missing:
            logging.getLogger("shopmatch").warning(
                "%d judged product id(s) are not in the index (e.g. %s); they count as never retrieved",
                len(missing),
                sorted(missing)[0],
            )
        kwargs = {"depth": depth} if mode == "retrieval" else {}
        result = EVALUATORS[mode](pipeline, judged, gain_map, **kwargs)
    except ShopmatchError as error:
        raise _fail(error) from None
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
        return
    out.print(_metrics_table(f"{judgments} — {mode} mode, {result.queries} queries", {str(index_dir): result}))


def _metrics_table(title: str, results: dict) -> Table:
    names = list(next(iter(results.values())).metrics)
    table = Table(title=title, title_justify="left")
    table.add_column("run")
    for name in names:
        table.add_column(name, justify="right")
    for label, result in results.items():
        table.add_row(label, *(f"{result.metrics[n]:.4f}" for n in names))
    return table


@app.command()
def validate(
    catalog: Annotated[Path, typer.Argument(help="Catalog file to check.")],
) -> None:
    """Check a catalog and list every bad row (exit code 2 if there is any)."""
    from shopmatch.catalog import read_catalog

    logging.getLogger("shopmatch.catalog").setLevel(logging.ERROR)  # the full report is printed below
    try:
        products = read_catalog(catalog, on_error="skip")
    except ShopmatchError as error:
        raise _fail(error) from None
    report = products.skipped
    if report and report.count:
        err.print(report.summary(limit=50), highlight=False)
        raise typer.Exit(2)
    out.print(f"{catalog}: {len(products):,} products, no problems found")


@app.command()
def demo(
    index_dir: Annotated[Path, typer.Option(help="Where to write the demo index.")] = Path("demo-index"),
) -> None:
    """Index the bundled demo catalogs, run example queries (English and Chinese), print the evaluation."""
    from shopmatch.catalog import read_catalog
    from shopmatch.demo import DEMO_DATASETS, demo_files, demo_gains
    from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval
    from shopmatch.judgments import read_judgments
    from shopmatch.pipeline import SearchPipeline

    evaluations = {}
    for name, spec in DEMO_DATASETS.items():
        paths = demo_files(name)
        started = time.perf_counter()
        catalog = read_catalog(paths["products"])
        target = index_dir / name
        SearchPipeline.build(catalog.products).save(target)
        pipeline = SearchPipeline.load(target)
        out.rule(
            f"[bold]{name}[/]: {len(catalog):,} products indexed in {time.perf_counter() - started:.1f} s → {target}"
        )
        for query in spec["queries"]:
            out.print(_results_table(query, pipeline.search(query, k=5)[0]))
        judged = read_judgments(paths["judgments"], gains=demo_gains(name))
        evaluations[f"{name} retrieval"] = evaluate_retrieval(pipeline, judged, demo_gains(name))
        evaluations[f"{name} rerank"] = evaluate_rerank(pipeline, judged, demo_gains(name))
    from shopmatch.config import PipelineConfig

    table = Table(title=f"Evaluation ({describe_pipeline(PipelineConfig())}; bundled judgments)", title_justify="left")
    for column in ("dataset / mode", "queries", "NDCG@10", "MRR@10", "Recall@100", "MAP@100"):
        table.add_column(column, justify="left" if column.startswith("dataset") else "right")
    for label, result in evaluations.items():
        m = result.metrics
        table.add_row(
            label,
            str(result.queries),
            *(f"{m[k]:.3f}" if k in m else "–" for k in ("ndcg@10", "mrr@10", "recall@100", "map@100")),
        )
    out.print(table)
    out.print(f'Try: shopmatch search {index_dir / "esci-us-150"} "cordless drill"')
    out.print(
        "ESCI data: Reddy et al. 2022, arXiv:2206.06588 (Apache-2.0); see shopmatch/demo_data/esci-us-150/NOTICE.md"
    )


@train_app.command("bi-encoder")
def train_bi_encoder_command(
    catalog: Annotated[Path, typer.Option("--catalog", help="Catalog file (.jsonl[.gz], .csv, .tsv, .parquet).")],
    judgments: Annotated[Path, typer.Option("--judgments", help="judgments.tsv to learn from.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model directory to write.")],
    model: Annotated[str, typer.Option(help="Model to start from: bundled name or local directory.")] = (
        "all-MiniLM-L6-v2"
    ),
    gains: Annotated[
        str, typer.Option(help="Label gains, e.g. E=1,S=0.1,C=0.01,I=0; numeric labels: offset=1.")
    ] = "E=1,S=0.1,C=0.01,I=0",
    teacher: Annotated[
        Path | None, typer.Option(help="Cross-encoder directory: distill its margins (MarginMSE).")
    ] = None,
    dev: Annotated[Path | None, typer.Option(help="Dev judgments, evaluated every epoch (best kept).")] = None,
    dev_fraction: Annotated[
        float | None, typer.Option(help="Hold out this share of the training queries as the dev set.")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 1,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-5,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    mine_with: Annotated[
        str, typer.Option(help="Retrievers that mine unjudged negatives: lexical,dense | lexical | dense | none.")
    ] = "lexical,dense",
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in OUTPUT.checkpoints.")] = False,
) -> None:
    """Fine-tune the bi-encoder on judgments (MultipleNegativesRanking + hard negatives, or MarginMSE)."""
    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.train.bi_encoder import BiEncoderTrainConfig, train_bi_encoder
    from shopmatch.train.data import split_dev

    if dev is not None and dev_fraction is not None:
        raise _fail(ShopmatchError("give --dev or --dev-fraction, not both"))
    try:
        gain_map = GainMap.parse(gains)
    except ValueError as error:
        raise _fail(ShopmatchError(f"--gains: {error}")) from None
    retrievers = tuple(r.strip() for r in mine_with.split(",") if r.strip() and r.strip() != "none")
    try:
        config = BiEncoderTrainConfig(
            model=model,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=lr,
            seed=seed,
            mine_with=retrievers,
            distill=teacher is not None,
        )
        started = time.perf_counter()
        products = read_catalog(catalog)
        train = read_judgments(judgments, gains=gain_map)
        held_out = None
        if dev is not None:
            held_out = read_judgments(dev, gains=gain_map)
        elif dev_fraction is not None:
            train, held_out = split_dev(train, dev_fraction, seed=seed)
        train_bi_encoder(train, products, config, output, dev=held_out, gains=gain_map, teacher=teacher, resume=resume)
    except (ShopmatchError, ValueError) as error:
        raise _fail(error) from None
    from shopmatch.train.summary import TrainingSummary

    summary = TrainingSummary.load(output)
    best = summary.best("dev_ndcg@10")
    err.print(
        f"trained {output} in {time.perf_counter() - started:.0f} s ({summary.data['rows']:,} rows, "
        f"{summary.data['loss']})"
        + (f"; best dev NDCG@10 {best['dev_ndcg@10']:.4f} at epoch {best['epoch']}" if best else "")
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
