"""The Milvus backend against the in-process one: quality parity, latency, ingest, and service workers.

Three parts, each run on its own (``--only``):

- **parity**: esci-us-150 and zh-ecom-query-item (as retrieval), the default pipeline built
  in-process and loaded into Milvus Lite (embedded, FLAT: exact): NDCG@10 and MRR@10 in retrieval
  mode, NDCG@10 in rerank mode, with a paired test between the backends; the mean top-10 overlap;
  the largest BM25F score difference of a product both return in its top 10.
- **scale**: synthetic catalogs (``make_scale_catalog.py``) of ``--sizes`` products. The product
  vectors are encoded once and given to both backends (the same encoder runs in either: its cost
  is reported on its own), so the ingest figures compare the indexing. Then single hybrid queries
  (k 10, records included), the backends alternating over ``--runs`` runs: median p50 / p99.
  Above 50,000 products both use HNSW (in-process ``auto`` switches there; Milvus ``HNSW``).
- **load**: a Milvus Lite server process holds esci-us-150; ``shopmatch serve --workers N`` for
  each ``--workers`` in turn, ``--clients`` clients for ``--seconds`` (``bench/load.py``'s client).

Milvus Lite is a Python re-implementation of the Milvus API: its latency and ingest figures say
how this backend behaves in CI and on a laptop, not what a Milvus cluster does.

Usage::

    .venv/bin/python bench/milvus.py --only parity --json bench/results/milvus-parity.json
    .venv/bin/python bench/milvus.py --only scale --sizes 10000 100000 --json bench/results/milvus-scale.json
    .venv/bin/python bench/milvus.py --only load --workers 1 2 --json bench/results/milvus-load.json
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, data_dir, machine_header, machine_info, markdown_table, percentiles, write_json  # noqa: E402
from quality import zh_query_item  # noqa: E402

from shopmatch.backends.milvus.index import MilvusIndex, milvus_config  # noqa: E402
from shopmatch.backends.milvus.lite_server import LiteServer  # noqa: E402
from shopmatch.catalog import Product, read_catalog  # noqa: E402
from shopmatch.config import PipelineConfig  # noqa: E402
from shopmatch.encoders.sentence_encoder import SentenceEncoder  # noqa: E402
from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval  # noqa: E402
from shopmatch.eval.significance import compare_paired  # noqa: E402
from shopmatch.judgments import GainMap, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.query.query import Query  # noqa: E402


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def write_catalog(products: Sequence[Product], path: Path) -> Path:
    import json

    with open(path, "w", encoding="utf-8") as out:
        for product in products:
            out.write(json.dumps(product.to_dict(), ensure_ascii=False) + "\n")
    return path


# ---- parity -------------------------------------------------------------------------------------------


def parity_rows(name: str, products: list[Product], judgments, gains: GainMap, work: Path) -> list[list[Any]]:
    catalog = write_catalog(products, work / f"{name}.jsonl")
    config = PipelineConfig()
    log(f"{name}: in-process build ({len(products):,} products)")
    in_process = SearchPipeline.build(products, config)
    log(f"{name}: Milvus Lite load")
    milvus = SearchPipeline.of(
        MilvusIndex.build(catalog, work / f"{name}-index", milvus_config(config, uri=str(work / f"{name}.db")))
    )
    results = {}
    for label, system in (("in-process", in_process), ("Milvus Lite", milvus)):
        log(f"{name}: evaluating {label}")
        results[label] = (evaluate_retrieval(system, judgments, gains), evaluate_rerank(system, judgments, gains))
    overlap, bm25_diff, fused_diff = [], 0.0, 0.0
    for query in sorted(judgments.queries):
        a = in_process.search_pages([Query(query, k=10)])[0].results
        b = milvus.search_pages([Query(query, k=10)])[0].results
        overlap.append(len({r.product_id for r in a} & {r.product_id for r in b}) / max(len(a), 1))
        mine = {r.product_id: r for r in b}
        for r in a:
            other = mine.get(r.product_id)
            if other is None:
                continue
            fused_diff = max(fused_diff, abs(r.score - other.score))
            s, t = r.sources.get("lexical", {}).get("score"), other.sources.get("lexical", {}).get("score")
            if s is not None and t is not None:
                bm25_diff = max(bm25_diff, abs(s - t))
    rows = []
    base_retrieval, base_rerank = results["in-process"]
    for label, (retrieval, rerank) in results.items():
        test = compare_paired(base_retrieval.per_query["ndcg@10"], retrieval.per_query["ndcg@10"])
        rows.append(
            [
                name,
                label,
                f"{retrieval.metrics['ndcg@10']:.4f}",
                f"{retrieval.metrics['mrr@10']:.4f}",
                f"{rerank.metrics['ndcg@10']:.4f}",
                "" if label == "in-process" else f"{test.delta:+.4f} (p {test.p_value:.2f})",
                "" if label == "in-process" else f"{statistics.fmean(overlap):.4f}",
                "" if label == "in-process" else f"{bm25_diff:.2e}",
                "" if label == "in-process" else f"{fused_diff:.2e}",
                retrieval.queries,
            ]
        )
    milvus.index.close()
    return rows


def parity(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rows = []
    esci = data_dir() / "esci-us-150"
    if "esci" in args.datasets:
        products = read_catalog(esci / "products.jsonl").products
        rows += parity_rows("esci-us-150", products, read_judgments(esci / "judgments.tsv"), GainMap.esci(), work)
    if "zh" in args.datasets:
        products, judgments, _ = zh_query_item(data_dir() / "zh-ecom-query-item" / "pairs.tsv")
        rows += parity_rows("zh-ecom-query-item", products, judgments, GainMap.parse("offset=0"), work)
    headers = [
        "dataset", "backend", "NDCG@10", "MRR@10", "rerank NDCG@10", "Δ NDCG@10 vs in-process",
        "top-10 overlap", "max BM25F score diff", "max fused score diff", "queries",
    ]  # fmt: skip
    print("\n## Parity: the default pipeline, in-process vs Milvus Lite (FLAT, exact)\n")
    print(markdown_table(headers, rows))
    return {"parity": [dict(zip(headers, row, strict=True)) for row in rows]}


# ---- scale --------------------------------------------------------------------------------------------


class EncodedOnce:
    """Every product text's vector computed once (as one whole-catalog encode), then looked up."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}
        self.original = SentenceEncoder.encode_documents

    def prepare(self, encoder: SentenceEncoder, texts: list[str]) -> float:
        started = time.perf_counter()
        vectors = self.original(encoder, texts)
        self.vectors.update(zip(texts, vectors, strict=True))
        return time.perf_counter() - started

    def __enter__(self) -> EncodedOnce:
        cache = self

        def encode_documents(encoder, texts):
            return np.stack([cache.vectors[t] for t in texts]) if texts else np.zeros((0, encoder.dim), np.float32)

        SentenceEncoder.encode_documents = encode_documents
        return self

    def __exit__(self, *exc: object) -> None:
        SentenceEncoder.encode_documents = self.original


def scale_catalog(size: int, work: Path) -> tuple[Path, list[str]]:
    out, queries = work / f"scale-{size}.jsonl", work / f"scale-{size}-queries.txt"
    command = [sys.executable, str(REPO_ROOT / "bench" / "make_scale_catalog.py"), "-n", str(size), "-o", str(out)]
    subprocess.run([*command, "--queries-out", str(queries), "--quiet"], check=True)
    return out, [q for q in queries.read_text(encoding="utf-8").splitlines() if q.strip()]


def timed_queries(pipeline: SearchPipeline, texts: Sequence[str]) -> dict[str, float]:
    samples = []
    for text in texts:
        started = time.perf_counter()
        pipeline.search_pages([Query(text, k=10)])
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def scale(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rows, record = [], []
    for size in args.sizes:
        catalog, texts = scale_catalog(size, work)
        products = read_catalog(catalog).products
        texts = random.Random(0).sample(texts, min(args.queries, len(texts)))
        config = PipelineConfig()
        milvus_settings = {"uri": str(work / f"scale-{size}.db"), "collection": f"scale_{size}"}
        if size > 50_000:
            milvus_settings["dense_index"] = "HNSW"
        with EncodedOnce() as cache:
            encoder = SentenceEncoder.from_config(config.dense.encoder)
            from shopmatch.retrieval.dense import DenseRetriever

            log(f"{size:,}: encoding the products once")
            encode_seconds = cache.prepare(encoder, DenseRetriever.product_texts(products, config.dense.text))
            log(f"{size:,}: in-process build")
            started = time.perf_counter()
            in_process = SearchPipeline.build(products, config)
            in_process_seconds = time.perf_counter() - started
            log(f"{size:,}: Milvus Lite load")
            started = time.perf_counter()
            index = MilvusIndex.build(catalog, work / f"scale-{size}-index", milvus_config(config, **milvus_settings))
            milvus_seconds = time.perf_counter() - started
        milvus = SearchPipeline.of(index)
        for warm in texts[:10]:
            in_process.search_pages([Query(warm)])
            milvus.search_pages([Query(warm)])
        runs: dict[str, list[dict[str, float]]] = {"in-process": [], "Milvus Lite": []}
        for run in range(args.runs):
            log(f"{size:,}: latency run {run + 1}/{args.runs}")
            order = [("in-process", in_process), ("Milvus Lite", milvus)]
            for label, system in order if run % 2 == 0 else order[::-1]:
                runs[label].append(timed_queries(system, texts))
        for label, seconds in (("in-process", in_process_seconds), ("Milvus Lite", milvus_seconds)):
            p50 = statistics.median(r["p50_ms"] for r in runs[label])
            p99 = statistics.median(r["p99_ms"] for r in runs[label])
            rows.append(
                [f"{size:,}", label, f"{p50:.2f}", f"{p99:.2f}", f"{size / seconds:,.0f}", f"{seconds:.1f}",
                 f"{size / encode_seconds:,.0f}"]
            )  # fmt: skip
            record.append(
                {"size": size, "backend": label, "p50_ms": p50, "p99_ms": p99, "index_seconds": seconds,
                 "products_per_second": size / seconds, "encode_seconds": encode_seconds, "runs": runs[label]}
            )  # fmt: skip
        index.close()
        del in_process, milvus, index
        gc.collect()
    headers = [
        "products", "backend", "p50 ms", "p99 ms", "ingest products/s (vectors given)", "ingest s",
        "encoding products/s (either backend)",
    ]  # fmt: skip
    print(f"\n## Hybrid search (k 10) and ingest, median of {args.runs} alternating runs of {args.queries} queries\n")
    print(markdown_table(headers, rows))
    return {"scale": record}


# ---- load ---------------------------------------------------------------------------------------------


def load(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import load as load_bench

    texts = load_bench.queries()
    rows, record = [], []
    with LiteServer(work / "milvus-data").start() as server:
        esci = data_dir() / "esci-us-150" / "products.jsonl"
        log("load: esci-us-150 into the Milvus Lite server")
        MilvusIndex.build(esci, work / "served", milvus_config(PipelineConfig(), uri=server.uri)).close()
        for workers in args.workers:
            log(f"load: {workers} worker(s), {args.clients} clients, {args.seconds:g} s")
            server_args = argparse.Namespace(clients=args.clients, seconds=args.seconds, numba=False)
            result = load_bench.run_one(
                work / "served", f"{workers} worker(s)", texts, server_args, extra=("--workers", str(workers))
            )
            record.append({**result, "workers": workers})
            rows.append(
                [workers, args.clients, f"{result['requests']:,}", result["errors"], result["throughput_rps"],
                 result["p50_ms"], result["p99_ms"]]
            )  # fmt: skip
    if len(record) >= 2:
        ratio = record[-1]["throughput_rps"] / record[0]["throughput_rps"]
        log(f"throughput ratio {record[-1]['workers']} vs {record[0]['workers']} workers: {ratio:.2f}")
    headers = ["workers", "clients", "requests", "errors", "throughput (req/s)", "p50 ms", "p99 ms"]
    print(f"\n## Service workers over one Milvus Lite server (esci-us-150, default pipeline, {args.seconds:g} s)\n")
    print(markdown_table(headers, rows))
    return {"load": record}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=("parity", "scale", "load"), default=["parity"])
    parser.add_argument("--datasets", nargs="+", choices=("esci", "zh"), default=["esci", "zh"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000])
    parser.add_argument("--queries", type=int, default=300, help="queries per latency run (scale)")
    parser.add_argument("--runs", type=int, default=3, help="alternating latency runs (scale)")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    info = machine_info()
    print("# Milvus backend benchmark\n")
    print("\n".join(machine_header(info)))
    record: dict[str, Any] = {"machine": info}
    with tempfile.TemporaryDirectory(prefix="shopmatch-milvus-bench-") as tmp:
        work = Path(tmp)
        for part, run in (("parity", parity), ("scale", scale), ("load", load)):
            if part in args.only:
                record.update(run(args, work))
    write_json(args.json, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
