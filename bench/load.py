"""Load test of the HTTP service: N concurrent clients for a fixed time, loopback only.

Starts ``shopmatch serve INDEX`` on a free 127.0.0.1 port, then runs ``--clients`` asyncio clients
(httpx) for ``--seconds``, each sending ``GET /search`` one after another with queries cycled from
the demo's esci-us-150 judgments (k 10, every fourth request with a brand facet filter taken from
an earlier answer). Reports requests, errors (any status ≠ 200 or transport error), throughput
and latency percentiles. Bounded: it stops by itself after ``--seconds``.

With ``--reranker MODEL_DIR`` (repeatable) a copy of the index gets that cross-encoder (int8 ONNX, top 50, the
token limit and product text of its training record) without re-encoding anything, and the same load runs against it.

Usage::

    .venv/bin/python bench/load.py demo-index/shop [--clients 32] [--seconds 60] \\
        [--reranker bench/data/rerank/lr1e-4-2ep-neg/fold0] [--json bench/results/load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from shopmatch.service.process import ServiceProcess


def queries() -> list[str]:
    from shopmatch.demo import demo_files
    from shopmatch.judgments import read_judgments

    return sorted(read_judgments(demo_files("esci-us-150")["judgments"]).queries)


def with_reranker(index: Path, model_dir: Path, top_n: int, work: Path) -> Path:
    """A copy of ``index`` that re-ranks with ``model_dir`` (stored vectors reused, nothing re-encoded)."""
    from shopmatch.backends.inprocess.products import MemoryProducts
    from shopmatch.catalog import Product
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.rerank.config import RerankConfig
    from shopmatch.rerank.cross_encoder import CrossEncoderReranker

    base = SearchPipeline.load(index)
    # with_model: the token limit and product text the model was trained with (its training record)
    rerank = RerankConfig.from_dict({"top_n": top_n, "backend": "onnx-int8"}).with_model(model_dir)
    config = replace(base.config, rerank=rerank)
    products = MemoryProducts([Product.from_dict(base.products.record(r)) for r in range(len(base))])
    target = work / "index"
    SearchPipeline(config, products, base.retrievers, CrossEncoderReranker.from_config(rerank)).save(target)
    return target


async def client_loop(url: str, texts: list[str], offset: int, until: float, latencies: list, errors: list, brands):
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        i = offset
        while time.perf_counter() < until:
            params: list[tuple[str, str]] = [("q", texts[i % len(texts)]), ("k", "10")]
            if i % 4 == 3 and brands:
                params.append(("brand", brands[i % len(brands)]))
            started = time.perf_counter()
            try:
                response = await client.get("/search", params=params)
                ok = response.status_code == 200
                if ok and len(brands) < 50:
                    brands.extend(f["value"] for f in response.json()["facets"]["brand"][:2])
            except httpx.HTTPError as error:
                ok, response = False, error
            latencies.append(time.perf_counter() - started)
            if not ok:
                errors.append(str(getattr(response, "status_code", response)))
            i += 1


async def load(url: str, texts: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    brands: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(client_loop(url, texts, c * 7, until, latencies, errors, brands) for c in range(clients)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pct(50), 1),
        "p90_ms": round(pct(90), 1),
        "p99_ms": round(pct(99), 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


def run_one(index: Path, label: str, texts: list[str], args: argparse.Namespace, extra: tuple[str, ...] = ()) -> dict:
    """Serve ``index`` (with more ``shopmatch serve`` options ``extra``) and load it."""
    server = ServiceProcess(index, *(["--numba"] if args.numba else []), *extra).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as warm:  # load lazy parts before timing
            for text in texts[:5]:
                warm.get("/search", params={"q": text})
        result = asyncio.run(load(server.url, texts, args.clients, args.seconds))
    finally:
        server.stop()
    result["system"] = label
    print(json.dumps(result), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--reranker", type=Path, action="append", default=[], help="also run with this cross-encoder (repeatable)"
    )
    parser.add_argument("--top-n", type=int, default=50)
    parser.add_argument("--numba", action="store_true", help="serve with the numba BM25 backend")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts = queries()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plain = work / "index"
        shutil.copytree(args.index, plain)  # the service may write a log beside it: never touch the original
        results = [run_one(plain, "hybrid, no re-ranking", texts, args)]
        for i, model in enumerate(args.reranker):
            reranked = with_reranker(plain, model, args.top_n, work / f"rerank-{i}")
            label = f"hybrid + cross-encoder {model.parent.name}/{model.name}, top {args.top_n} (int8)"
            results.append(run_one(reranked, label, texts, args))
    print()
    print("| system | clients | requests | errors | throughput (req/s) | p50 ms | p90 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['system']} | {r['clients']} | {r['requests']:,} | {r['errors']} | {r['throughput_rps']} "
            f"| {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
