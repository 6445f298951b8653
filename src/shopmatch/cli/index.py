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
    backend: Annotated[
        str | None, typer.Option(help="Where the index lives: inprocess (default) or milvus ([backend] kind).")
    ] = None,
    milvus_uri: Annotated[
        str | None, typer.Option(help="Milvus: a .db path (Milvus Lite, embedded) or http://host:19530.")
    ] = None,
    collection: Annotated[str | None, typer.Option(help="Milvus: the collection name prefix.")] = None,
    events: Annotated[
        Path | None,
        typer.Option(help="A shopper events file: the queries of searches that got a click join the spelling words."),
    ] = None,
) -> None:
    """Build an index directory from a catalog (with --backend milvus: load the catalog into
    Milvus, resuming an interrupted load, and write a directory that points to it)."""
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
        if backend not in (None, "inprocess", "milvus"):
            raise ShopmatchError(f"--backend must be inprocess or milvus, got {backend!r}")
        started = time.perf_counter()
        on_error = "skip" if skip_bad_rows else "raise"
        if (backend or cfg.backend.kind) == "milvus" or milvus_uri:
            from shopmatch.backends.milvus.index import MilvusIndex, milvus_config

            queries: list[str] = []
            if events is not None:
                from shopmatch.events import read_events
                from shopmatch.query.spelling import queries_with_clicks

                queries = queries_with_clicks(read_events(events))
            cfg = milvus_config(cfg, uri=milvus_uri, collection=collection)
            built = MilvusIndex.build(catalog, output, cfg, on_error=on_error, spelling_queries=queries)
            err.print(
                f"loaded {len(built):,} products into Milvus collection {cfg.backend.collection!r} at "
                f"{cfg.backend.uri} in {time.perf_counter() - started:.1f} s ({describe_pipeline(cfg)}); "
                f"index directory {output}"
            )
            built.close()
            return
        products = read_catalog(catalog, on_error=on_error)
        if not len(products):
            raise fail(ShopmatchError(f"{catalog}: no products to index"))
        pipeline = SearchPipeline.build(products.products, cfg)
        if events is not None:
            from shopmatch.events import read_events
            from shopmatch.query.spelling import SpellingModel, queries_with_clicks

            queries = queries_with_clicks(read_events(events))
            pipeline = SearchPipeline.of(
                pipeline.index.with_spelling(SpellingModel.build(products.products, queries=queries))
            )
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


@app.command()
def reweight(
    index_dir: Annotated[Path, typer.Argument(help="A Milvus index directory (shopmatch index … --backend milvus).")],
    force: Annotated[bool, typer.Option("--force", help="Reweight even below [backend] reweight_after.")] = False,
) -> None:
    """Compute a Milvus index's term statistics again and rewrite its BM25F vectors when the catalog
    has drifted from them (more than [backend] reweight_after of the products written since)."""
    from shopmatch.backends.kinds import MILVUS_INDEX_KIND, index_kind

    try:
        if index_kind(index_dir) != MILVUS_INDEX_KIND:
            raise ShopmatchError(f"{index_dir}: not a Milvus index (an in-process index is rebuilt by compaction)")
        from shopmatch.backends.milvus.index import MilvusIndex

        index = MilvusIndex.open(index_dir)
        stats = index.stats()
        threshold = index.backend.reweight_after
        if stats["statistics_drift"] <= threshold and not force:
            out.print(
                f"statistics drift {stats['statistics_drift']:.3f} ≤ {threshold}: nothing to do (--force to reweight)"
            )
            return
        report = index.reweight()
    except ShopmatchError as error:
        raise fail(error) from None
    out.print(
        f"reweighted {report['products']:,} products in {report['seconds']:.1f} s "
        f"(statistics version {report['statistics_version']}; drift was {stats['statistics_drift']:.3f})"
    )
