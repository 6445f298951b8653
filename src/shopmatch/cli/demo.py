"""`shopmatch demo`: index the bundled catalogs, show queries and figures, serve the shop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopmatch.cli.common import app, out
from shopmatch.cli.render import describe_pipeline, results_table
from shopmatch.cli.serve import serve_index


@app.command()
def demo(
    index_dir: Annotated[Path, typer.Option(help="Where to write the demo index.")] = Path("demo-index"),
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after the evaluation (for scripts).")] = False,
    host: Annotated[str, typer.Option(help="Address the demo service listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the demo service.")] = 8000,
) -> None:
    """Index the bundled demo catalogs, run example queries (English and Chinese), print the
    evaluation, then serve both catalogs as one shop (web page and API) until Ctrl-C."""
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
            out.print(results_table(query, pipeline.search(query, k=5)[0]))
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
    from shopmatch.demo import build_shop_index

    shop = build_shop_index(index_dir)
    out.print(f"Shop index (both catalogs, built through live updates): {shop}")
    if no_serve:
        out.print(f"Serve it: shopmatch serve {shop}")
        return
    serve_index(shop, host=host, port=port, token=None)
