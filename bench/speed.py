"""Speed benchmark: per-stage query latency, peers in the same run, and the 1M-product scale test.

Protocol (``../shared/docs/benchmarks.md``, "Speed"):

1. **Latency per stage on esci-us-150.** Build the pipeline over the 6,764 products (index build
   time recorded), save it, load it back with ``backend="numba"`` and warm up (numba compiles
   bm25s' kernels on the first query). Then single queries, sequential: the 150 judged queries
   cycled to 600 requests, timed one by one, for the BM25 stage
   (``pipe.retrievers["lexical"].search_texts([q], k=10)``: query analysis + BM25F top 10)
   and end to end (``pipe.search(q, k=10)``, product records included). The 600-request loop is
   repeated ``--runs`` times; the tables give the median of the per-run p50 and p99.
   The pipeline is built lexical-only (BM25F); dense and hybrid stages are in bench/semantic.py.
2. **Peers in the same run.** ``rank_bm25.BM25Okapi`` over the same catalog (title, brand, color,
   bullets and description, lowercased and split on non-alphanumerics; ``get_scores`` and an
   ``argpartition`` top 10 per query; the 150 queries once per run, since it is slow), and plain
   ``bm25s`` (its own tokenizer with English stopwords and Snowball stemming, the same text
   concatenated, numba backend, one thread; 600 requests per run). Ratios are peer p50 divided
   by shopmatch's BM25 p50. Each run times shopmatch and both peers in turn, so a busy spell of a
   shared machine slows all of them alike. Target: shopmatch ≥ 50× faster than rank_bm25.
3. **Scale.** The 1,000,000-product catalog from ``bench/make_scale_catalog.py`` and its 1,000
   queries. A fresh subprocess reads the catalog, builds and saves the index (times and peak
   RSS, read from ``VmHWM``); another fresh subprocess loads the index (numba), warms up and
   runs the 1,000 queries ``--runs`` times (peak RSS, median p50/p99). The index is written to
   a temporary folder next to the catalog and deleted afterwards.

Targets (from the issue): BM25 p50 ≤ 1 ms on esci-us-150, ≤ 5 ms on 1M products.

Usage::

    .venv/bin/python bench/speed.py                        # everything, 5 runs
    .venv/bin/python bench/speed.py --skip-scale --runs 3  # esci-us-150 and peers only
    .venv/bin/python bench/speed.py --json bench/results/speed.json | tee bench/results/speed.md

Markdown goes to stdout (machine header first); progress notes go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    REPO_ROOT,
    current_rss_mib,
    data_dir,
    machine_header,
    machine_info,
    markdown_table,
    median_of_runs,
    peak_rss_mib,
    percentiles,
    skip_if_missing,
    write_json,
)

from shopmatch.config import PipelineConfig

K = 10
REQUESTS = 600
# This benchmark measures the BM25 stage; the semantic stages are in bench/semantic.py and bench/dense_scale.py.
LEXICAL_ONLY = PipelineConfig(retrievers=("lexical",))
TARGET_BM25_P50_MS = 1.0
TARGET_SCALE_BM25_P50_MS = 5.0
TARGET_PEER_RATIO = 50.0
PEER_FIELDS = ("title", "brand", "color", "bullets", "description")
DEFAULT_SCALE_CATALOG = REPO_ROOT / "bench" / "data" / "scale-1m.jsonl"
DEFAULT_SCALE_QUERIES = REPO_ROOT / "bench" / "data" / "scale-1m-queries.txt"
_ALNUM = re.compile(r"[^\W_]+")


def note(message: str) -> None:
    """Progress on stderr, so stdout stays the markdown report."""
    print(f"[speed] {message}", file=sys.stderr, flush=True)


def time_each(fn: Callable[[str], Any], queries: Sequence[str]) -> list[float]:
    """Seconds taken by ``fn(q)`` for each query, called one after another."""
    out = []
    for query in queries:
        start = time.perf_counter()
        fn(query)
        out.append(time.perf_counter() - start)
    return out


Stage = tuple[Callable[[str], Any], Sequence[str]]  # (one request, the requests of a run)


def latency_runs(stages: dict[str, Stage], runs: int) -> dict[str, Any]:
    """Per-run p50/p99 of each stage and their medians over ``runs``.

    Every run times all stages one after another, so that a slower spell of a shared machine
    hits every system alike and the ratios between them stay fair.
    """

    def one_run() -> dict[str, float]:
        out: dict[str, float] = {}
        for name, (fn, queries) in stages.items():
            for key, value in percentiles(time_each(fn, queries)).items():
                out[f"{name}.{key}"] = value
        return out

    medians, per_run = median_of_runs(one_run, runs)
    return {"median": medians, "runs": per_run}


def stage(results: dict[str, Any], name: str) -> tuple[float, float]:
    median = results["median"]
    return median[f"{name}.p50_ms"], median[f"{name}.p99_ms"]


def mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


# --------------------------------------------------------------------------- esci-us-150


def bench_esci(runs: int) -> dict[str, Any] | None:
    """Section 1 and 2: shopmatch stages and peers over esci-us-150."""
    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import read_judgments
    from shopmatch.pipeline import SearchPipeline

    folder = data_dir() / "esci-us-150"
    if not (
        skip_if_missing(folder / "products.jsonl", "esci-us-150")
        and skip_if_missing(folder / "judgments.tsv", "esci-us-150")
    ):
        return None
    products = read_catalog(folder / "products.jsonl").products
    judgments = read_judgments(folder / "judgments.tsv")
    queries = [judgments.queries[q] for q in judgments.query_ids]
    requests = [queries[i % len(queries)] for i in range(REQUESTS)]
    out: dict[str, Any] = {"products": len(products), "queries": len(queries), "requests": len(requests)}

    with ExitStack() as stack:
        note(f"esci-us-150: building the index over {len(products)} products")
        start = time.perf_counter()
        built = SearchPipeline.build(products, LEXICAL_ONLY, backend="numba")
        out["build_s"] = time.perf_counter() - start
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shopmatch-speed-"))) / "index"
        start = time.perf_counter()
        built.save(directory)
        out["save_s"] = time.perf_counter() - start
        del built
        start = time.perf_counter()
        pipe = SearchPipeline.load(directory, backend="numba")
        out["load_s"] = time.perf_counter() - start
        lexical = pipe.retrievers["lexical"]
        start = time.perf_counter()
        for query in queries:
            lexical.search_texts([query], k=K)
            pipe.search(query, k=K)
        out["warmup_s"] = time.perf_counter() - start

        out["peers"], okapi_top, bm25s_top = build_peers(products, queries)
        note(
            f"esci-us-150: {runs} runs, each {len(requests)} requests per shopmatch stage and bm25s, "
            f"{len(queries)} for rank_bm25"
        )
        out["latency"] = latency_runs(
            {
                "bm25": (lambda q: lexical.search_texts([q], k=K), requests),
                "end_to_end": (lambda q: pipe.search(q, k=K), requests),
                "rank_bm25": (okapi_top, queries),
                "bm25s": (bm25s_top, requests),
            },
            runs,
        )
    return out


def peer_text(product: Any) -> str:
    from shopmatch.text.fields import field_text

    return "\n".join(filter(None, (field_text(product, name) for name in PEER_FIELDS)))


def simple_tokens(text: str) -> list[str]:
    """rank_bm25's usual preprocessing: lowercase, split on non-alphanumerics."""
    return _ALNUM.findall(text.lower())


def build_peers(
    products: Sequence[Any], queries: Sequence[str]
) -> tuple[dict[str, float], Callable[[str], Any], Callable[[str], Any]]:
    """Index the catalog with rank_bm25 (BM25Okapi) and plain bm25s, warm both up.

    Returns their build times and a one-query top-10 function for each.
    """
    import bm25s
    import Stemmer
    from rank_bm25 import BM25Okapi

    texts = [peer_text(p) for p in products]
    out: dict[str, float] = {}

    note("peers: indexing with rank_bm25")
    start = time.perf_counter()
    okapi = BM25Okapi([simple_tokens(t) for t in texts])
    out["rank_bm25_build_s"] = time.perf_counter() - start

    def okapi_top(query: str) -> np.ndarray:
        scores = okapi.get_scores(simple_tokens(query))
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])]

    note("peers: indexing with bm25s")
    stemmer = Stemmer.Stemmer("english")
    start = time.perf_counter()
    plain = bm25s.BM25(backend="numba")
    plain.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    out["bm25s_build_s"] = time.perf_counter() - start

    def bm25s_top(query: str) -> Any:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
        if not plain.get_tokens_ids(tokens[0]):
            return None  # bm25s refuses queries with no known term; shopmatch returns no hits
        return plain.retrieve(tokens, k=K, n_threads=1, show_progress=False)

    for query in queries[:10]:  # warm up (numba compiles here)
        okapi_top(query)
        bm25s_top(query)
    return out, okapi_top, bm25s_top


def report_esci(result: dict[str, Any], runs: int) -> list[str]:
    lines = [
        "## Latency per stage — esci-us-150",
        "",
        f"{result['products']:,} products; the {result['queries']} judged queries cycled to "
        f"{result['requests']} sequential single-query requests, k={K}, after a warm-up; "
        f"median of the per-run p50/p99 over {runs} runs. Index saved, then loaded with backend=numba.",
        "",
        markdown_table(
            ["index", "build s", "save s", "load s", "warm-up s (numba compile)"],
            [
                [
                    f"{result['products']:,} products",
                    result["build_s"],
                    result["save_s"],
                    result["load_s"],
                    result["warmup_s"],
                ]
            ],
        ),
        "",
    ]
    bm25 = stage(result["latency"], "bm25")
    e2e = stage(result["latency"], "end_to_end")
    lines += [
        markdown_table(
            ["stage", "p50 ms", "p99 ms", f"target p50 ≤ {TARGET_BM25_P50_MS:g} ms"],
            [
                [
                    'BM25 (`pipe.retrievers["lexical"].search_texts([q], k=10)`)',
                    bm25[0],
                    bm25[1],
                    mark(bm25[0] <= TARGET_BM25_P50_MS),
                ],
                ["end to end, BM25 + product records (`pipe.search(q, k=10)`)", e2e[0], e2e[1], ""],
                ["dense (query encoding included)", "–", "–", ""],
                ["hybrid", "–", "–", ""],
                ["hybrid + re-rank top 50", "–", "–", ""],
            ],
        ),
        "",
        "> Only BM25 exists so far: the dense, hybrid and re-rank rows come with later issues.",
        "",
    ]
    peers = result["peers"]
    okapi = stage(result["latency"], "rank_bm25")
    plain = stage(result["latency"], "bm25s")
    ratio = okapi[0] / bm25[0]
    lines += [
        "## Peers in the same run — esci-us-150",
        "",
        f"Same catalog (title, brand, color, bullets, description) and queries; ratio = peer p50 / "
        f"shopmatch BM25 p50 ({bm25[0]:.3f} ms). Each of the {runs} runs times every system in turn; "
        "medians over the runs.",
        "",
        markdown_table(
            ["system", "requests/run", "index build s", "p50 ms", "p99 ms", "p50 ratio (peer / shopmatch)"],
            [
                ["shopmatch BM25F (numba)", result["requests"], result["build_s"], bm25[0], bm25[1], "1.0×"],
                [
                    "rank_bm25 BM25Okapi (lowercase + split, get_scores + argpartition)",
                    result["queries"],
                    peers["rank_bm25_build_s"],
                    okapi[0],
                    okapi[1],
                    f"{ratio:.1f}×",
                ],
                [
                    "bm25s (own tokenizer, stopwords + stemming, numba, 1 thread)",
                    result["requests"],
                    peers["bm25s_build_s"],
                    plain[0],
                    plain[1],
                    f"{plain[0] / bm25[0]:.2f}×",
                ],
            ],
        ),
        "",
        f"Target shopmatch ≥ {TARGET_PEER_RATIO:g}× faster than rank_bm25: {mark(ratio >= TARGET_PEER_RATIO)} "
        f"({ratio:.1f}×).",
        "",
    ]
    return lines


# --------------------------------------------------------------------------- scale (1M)


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def worker_build(catalog: Path, index_dir: Path) -> dict[str, Any]:
    """In a fresh process: read the catalog, build and save the index; times and peak RSS."""
    from shopmatch.catalog import read_catalog
    from shopmatch.pipeline import SearchPipeline

    out: dict[str, Any] = {"rss_after_imports_mib": current_rss_mib()}
    start = time.perf_counter()
    products = read_catalog(catalog).products
    out["read_s"] = time.perf_counter() - start
    out["products"] = len(products)
    out["peak_rss_after_read_mib"] = peak_rss_mib()
    start = time.perf_counter()
    pipe = SearchPipeline.build(products, LEXICAL_ONLY, backend="numba")
    out["build_s"] = time.perf_counter() - start
    out["peak_rss_after_build_mib"] = peak_rss_mib()
    lexical = pipe.retrievers["lexical"]
    out["terms"] = len(lexical.vocab)
    out["postings"] = int(len(lexical.model.scores["data"]))
    start = time.perf_counter()
    pipe.save(index_dir)
    out["save_s"] = time.perf_counter() - start
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def worker_load(index_dir: Path, queries_path: Path, runs: int) -> dict[str, Any]:
    """In a fresh process: load the index (numba), warm up, time the queries; peak RSS."""
    from shopmatch.pipeline import SearchPipeline

    queries = [q for q in queries_path.read_text(encoding="utf-8").splitlines() if q.strip()]
    out: dict[str, Any] = {"queries": len(queries), "rss_after_imports_mib": current_rss_mib()}
    start = time.perf_counter()
    pipe = SearchPipeline.load(index_dir, backend="numba")
    out["load_s"] = time.perf_counter() - start
    out["rss_after_load_mib"] = current_rss_mib()
    lexical = pipe.retrievers["lexical"]
    start = time.perf_counter()
    lexical.search_texts([queries[0]], k=K)
    out["first_query_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for query in queries[:100]:
        lexical.search_texts([query], k=K)
        pipe.search(query, k=K)
    out["warmup_s"] = time.perf_counter() - start
    out["latency"] = latency_runs(
        {
            "bm25": (lambda q: lexical.search_texts([q], k=K), queries),
            "end_to_end": (lambda q: pipe.search(q, k=K), queries),
        },
        runs,
    )
    out["rss_after_queries_mib"] = current_rss_mib()
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def run_worker(args: list[str]) -> dict[str, Any]:
    """Run this script as a worker in a fresh interpreter; its last stdout line is JSON."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def bench_scale(catalog: Path, queries: Path, runs: int) -> dict[str, Any] | None:
    if not (skip_if_missing(catalog, "scale") and skip_if_missing(queries, "scale")):
        return None
    with tempfile.TemporaryDirectory(prefix="shopmatch-scale-index-", dir=catalog.parent) as tmp:
        index_dir = Path(tmp) / "index"
        note(f"scale: reading, building and saving {catalog} in a subprocess (minutes)")
        build = run_worker(["--worker", "build", "--scale-catalog", str(catalog), "--index-dir", str(index_dir)])
        note(f"scale: built in {build['build_s']:.1f} s; loading and querying in a fresh subprocess")
        size = {"total_bytes": dir_size(index_dir), "lexical_bytes": dir_size(index_dir / "lexical")}
        load = run_worker(
            ["--worker", "load", "--index-dir", str(index_dir), "--scale-queries", str(queries), "--runs", str(runs)]
        )
    return {"catalog": str(catalog), "build": build, "size": size, "load": load}


def report_scale(result: dict[str, Any], runs: int) -> list[str]:
    build, load, size = result["build"], result["load"], result["size"]
    mib = 2**20
    bm25 = stage(load["latency"], "bm25")
    e2e = stage(load["latency"], "end_to_end")
    return [
        f"## Scale — {build['products']:,} products",
        "",
        f"`{Path(result['catalog']).name}`: {build['products']:,} products, {build['terms']:,} terms, "
        f"{build['postings']:,} postings. Build and load each in a fresh process.",
        "",
        markdown_table(
            ["metric", "value"],
            [
                ["catalog read (`read_catalog`)", f"{build['read_s']:.1f} s"],
                ["index build (`SearchPipeline.build`, numba)", f"{build['build_s']:.1f} s"],
                ["index save", f"{build['save_s']:.1f} s"],
                ["peak RSS of the build process after read", f"{build['peak_rss_after_read_mib']:,.0f} MiB"],
                ["peak RSS of the build process (read + build + save)", f"{build['peak_rss_mib']:,.0f} MiB"],
                [
                    "index size on disk (total / `lexical/`)",
                    f"{size['total_bytes'] / mib:,.0f} MiB / {size['lexical_bytes'] / mib:,.0f} MiB",
                ],
                ["index load (mmap, numba)", f"{load['load_s']:.2f} s"],
                ["first query (numba compile)", f"{load['first_query_s']:.2f} s"],
                [
                    "RSS of the query process: after imports / after load / after queries",
                    f"{load['rss_after_imports_mib']:,.0f} / {load['rss_after_load_mib']:,.0f} / "
                    f"{load['rss_after_queries_mib']:,.0f} MiB",
                ],
                ["peak RSS of the query process", f"{load['peak_rss_mib']:,.0f} MiB"],
            ],
        ),
        "",
        f"{load['queries']:,} queries, sequential, k={K}, after 100 warm-up queries; median of per-run p50/p99 over "
        f"{runs} runs.",
        "",
        markdown_table(
            ["stage", "p50 ms", "p99 ms", f"target p50 ≤ {TARGET_SCALE_BM25_P50_MS:g} ms"],
            [
                [
                    'BM25 (`pipe.retrievers["lexical"].search_texts([q], k=10)`)',
                    bm25[0],
                    bm25[1],
                    mark(bm25[0] <= TARGET_SCALE_BM25_P50_MS),
                ],
                ["end to end, BM25 + product records (`pipe.search(q, k=10)`)", e2e[0], e2e[1], ""],
            ],
        ),
        "",
    ]


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each latency loop (median reported)")
    parser.add_argument("--json", type=Path, help="also write machine-readable results to this file")
    parser.add_argument("--scale-catalog", type=Path, default=DEFAULT_SCALE_CATALOG)
    parser.add_argument("--scale-queries", type=Path, default=DEFAULT_SCALE_QUERIES)
    parser.add_argument("--skip-scale", action="store_true", help="skip the 1M-product scale test")
    parser.add_argument("--worker", choices=("build", "load"), help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker == "build":
        print(json.dumps(worker_build(args.scale_catalog, args.index_dir)))
        return 0
    if args.worker == "load":
        print(json.dumps(worker_load(args.index_dir, args.scale_queries, args.runs)))
        return 0

    info = machine_info()
    print("# shopmatch speed benchmark\n")
    print("\n".join(machine_header(info)))
    print(f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`\n", flush=True)
    results: dict[str, Any] = {"machine": info, "runs": args.runs, "k": K}

    esci = bench_esci(args.runs)
    results["esci_us_150"] = esci
    if esci is not None:
        print("\n".join(report_esci(esci, args.runs)), flush=True)

    if args.skip_scale:
        print("> Scale test skipped (--skip-scale).\n")
        results["scale"] = None
    else:
        scale = bench_scale(args.scale_catalog, args.scale_queries, args.runs)
        results["scale"] = scale
        if scale is not None:
            print("\n".join(report_scale(scale, args.runs)), flush=True)

    results["loadavg_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"- load average at end: {results['loadavg_at_end']} (nproc={info['nproc']}; more means shared CPUs)")
    if args.json:
        write_json(args.json, results)
        note(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
