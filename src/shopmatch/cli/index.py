"""`shopmatch index` and `shopmatch validate`: build an index directory, check a catalog."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from shopmatch.cli.common import app, err, fail, out
from shopmatch.cli.render import describe_pipeline
from shopmatch.errors import ShopmatchError


@app.command()
def index(
    catalog: Annotated[Path, typer.Argument(help="Catalog file: .jsonl[.gz], .csv, .tsv or .parquet.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Index directory to write.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline config (TOML).")] = None,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Skip invalid products (reported) instead of stopping.")
    ] = False,
    reranker: Annotated[
        Path | None, typer.Option(help="Re-rank the fused candidates with this trained cross-encoder directory.")
    ] = None,
    rerank_top: Annotated[int | None, typer.Option(min=1, help="How many fused candidates to re-rank.")] = None,
    encoder: Annotated[
        Path | None, typer.Option(help="Use this (fine-tuned) bi-encoder directory for dense retrieval.")
    ] = None,
) -> None:
    """Build an index directory from a catalog."""
    from dataclasses import replace

    from shopmatch.catalog import read_catalog
    from shopmatch.config import PipelineConfig
    from shopmatch.pipeline import SearchPipeline

    try:
        cfg = PipelineConfig.from_toml(config) if config else PipelineConfig()
        if encoder is not None:
            cfg = replace(cfg, dense=replace(cfg.dense, encoder=replace(cfg.dense.encoder, model=str(encoder))))
        if reranker is not None:
            cfg = replace(cfg, rerank=cfg.rerank.with_model(reranker))
        if rerank_top is not None:
            cfg = replace(cfg, rerank=replace(cfg.rerank, top_n=rerank_top))
        started = time.perf_counter()
        products = read_catalog(catalog, on_error="skip" if skip_bad_rows else "raise")
        if not len(products):
            raise fail(ShopmatchError(f"{catalog}: no products to index"))
        pipeline = SearchPipeline.build(products.products, cfg)
        pipeline.save(output)
    except ShopmatchError as error:
        raise fail(error) from None
    skipped = products.skipped.count if products.skipped else 0
    err.print(
        f"indexed {len(products):,} products into {output} in {time.perf_counter() - started:.1f} s"
        f" ({describe_pipeline(cfg)})" + (f"; {skipped} bad rows skipped" if skipped else "")
    )


@app.command()
def validate(
    catalog: Annotated[Path, typer.Argument(help="Catalog file to check.")],
) -> None:
    """Check a catalog and list every bad row (exit code 2 if there is any)."""
    from shopmatch.catalog import read_catalog

    catalog_log = logging.getLogger("shopmatch.catalog")
    level = catalog_log.level
    catalog_log.setLevel(logging.ERROR)  # the full report is printed below, not each skip as a warning
    try:
        products = read_catalog(catalog, on_error="skip")
    except ShopmatchError as error:
        raise fail(error) from None
    finally:
        catalog_log.setLevel(level)
    report = products.skipped
    if report and report.count:
        err.print(report.summary(limit=50), highlight=False)
        raise typer.Exit(2)
    out.print(f"{catalog}: {len(products):,} products, no problems found")
