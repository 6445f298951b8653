"""Dense retrieval at catalog scale: 1M products, HNSW vs exact search, peers, memory, build time.

Protocol (``../shared/docs/benchmarks.md``, "Speed"; targets from issue [2 of 4]):

1. ``encode``: the 1,000,000 products of ``bench/make_scale_catalog.py`` are encoded once with
   the shipped encoder (int8 ONNX all-MiniLM-L6-v2) and the scale config
   (``configs/scale-1m.toml``: product text = title, 32 tokens); vectors go to a cache file next to
   the catalog (``.npy``, float32), with the encoding time in a ``.json`` sidecar. Encoding 1M
   longer texts does not fit a 2-core session (≈ 120 products/s with the default 64-token
   template); the cache is resumable.
2. ``run``: in fresh subprocesses, for float32 and float16 storage: build the HNSW index and
   the BM25F index over the catalog, save the hybrid index directory (build times), load it
   (peak RSS, ``VmHWM``), then 1,000 queries (the catalog's benchmark queries): recall@100 of
   HNSW against exact search over the same vectors, and per-query latency of dense search
   including query encoding (p50/p99, median of ``--runs`` runs). Peer in the same process: a
   straightforward sentence-transformers (PyTorch) query encoding + numpy matrix product over
   the 1M float32 vectors + ``argpartition`` top 100.

Usage::

    .venv/bin/python bench/dense_scale.py encode            # hours-long step, resumable
    .venv/bin/python bench/dense_scale.py run --runs 5      # markdown tables on stdout
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import REPO_ROOT, machine_header, machine_info, markdown_table, peak_rss_mib, percentiles, write_json

DATA = REPO_ROOT / "bench" / "data"
CATALOG = DATA / "scale-1m.jsonl"
QUERIES = DATA / "scale-1m-queries.txt"
CONFIG = REPO_ROOT / "configs" / "scale-1m.toml"
K = 100


def note(message: str) -> None:
    print(f"[dense_scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def vectors_path(catalog: Path) -> Path:
    return catalog.with_name(catalog.stem + "-vectors.npy")


def cmd_encode(args: argparse.Namespace) -> int:
    """Encode the catalog into the resumable vector cache."""
    from shopmatch.catalog import read_catalog
    from shopmatch.config import PipelineConfig
    from shopmatch.encoders import SentenceEncoder

    config = PipelineConfig.from_toml(args.config).dense
    products = read_catalog(args.catalog).products
    texts = [config.text.render(p) for p in products]
    del products
    path = vectors_path(args.catalog)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"done": 0, "seconds": 0.0}
    encoder = SentenceEncoder.from_config(config.encoder)
    mode = "r+" if path.exists() else "w+"
    out = np.lib.format.open_memmap(path, mode=mode, dtype=np.float32, shape=(len(texts), encoder.dim))
    chunk = args.chunk
    while meta["done"] < len(texts):
        start = meta["done"]
        started = time.perf_counter()
        out[start : start + chunk] = encoder.encode_documents(texts[start : start + chunk])
        out.flush()
        meta["done"] = min(start + chunk, len(texts))
        meta["seconds"] += time.perf_counter() - started
        meta.update(config=str(args.config), encoder=config.encoder.to_dict(), products=len(texts))
        meta_path.write_text(json.dumps(meta, indent=2))
        note(f"encoded {meta['done']:,}/{len(texts):,} ({meta['done'] / meta['seconds']:.0f}/s)")
    return 0


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_build(args: argparse.Namespace) -> dict[str, Any]:
    """Build the hybrid index over the encoded products (lexical + HNSW) and save it."""
    from dataclasses import replace

    from shopmatch.backends.inprocess.products import MemoryProducts
    from shopmatch.catalog import read_catalog
    from shopmatch.config import PipelineConfig
    from shopmatch.encoders import SentenceEncoder
    from shopmatch.index.factory import build_vector_index
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.retrieval.dense import DenseRetriever
    from shopmatch.retrieval.lexical import LexicalRetriever

    config = PipelineConfig.from_toml(args.config)
    config = replace(config, dense=replace(config.dense, index=replace(config.dense.index, dtype=args.dtype)))
    meta = json.loads(vectors_path(args.catalog).with_suffix(".json").read_text())
    n = meta["done"]
    started = time.perf_counter()
    products = read_catalog(args.catalog).products[:n]
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    lexical = LexicalRetriever.build(products, config.lexical)
    lexical_s = time.perf_counter() - started
    vectors = np.load(vectors_path(args.catalog), mmap_mode="r")[:n]
    started = time.perf_counter()
    index = build_vector_index(np.arange(n), np.ascontiguousarray(vectors), config.dense.index)
    hnsw_s = time.perf_counter() - started
    encoder = SentenceEncoder.from_config(config.dense.encoder)
    pipe = SearchPipeline(
        config, MemoryProducts(products), {"lexical": lexical, "dense": DenseRetriever(config.dense, encoder, index)}
    )
    started = time.perf_counter()
    pipe.save(args.index_dir)
    save_s = time.perf_counter() - started
    return {
        "products": n,
        "read_s": read_s,
        "lexical_build_s": lexical_s,
        "hnsw_build_s": hnsw_s,
        "encode_s": meta["seconds"],
        "save_s": save_s,
        "total_build_s": read_s + lexical_s + hnsw_s + meta["seconds"] + save_s,
        "peak_rss_mib": peak_rss_mib(),
    }


def worker_load(args: argparse.Namespace) -> dict[str, Any]:
    """Load the saved hybrid index; latency of dense and hybrid search; recall against exact."""
    from shopmatch.index.exact import ExactIndex
    from shopmatch.pipeline import SearchPipeline

    queries = [q for q in args.queries.read_text(encoding="utf-8").splitlines() if q.strip()]
    baseline_rss = _status("VmRSS")
    started = time.perf_counter()
    pipe = SearchPipeline.load(args.index_dir, backend="numba")
    load_s = time.perf_counter() - started
    dense = pipe.retrievers["dense"]
    for q in queries[:50]:
        pipe.search(q, k=10)
    stages = {
        "dense (query encoding + HNSW, k=100)": lambda q: dense.search_texts([q], k=K),
        "hybrid end to end (k=10, records)": lambda q: pipe.search(q, k=10),
    }
    per_run = []
    for _ in range(args.runs):
        run = {}
        for name, fn in stages.items():
            samples = []
            for q in queries:
                started = time.perf_counter()
                fn(q)
                samples.append(time.perf_counter() - started)
            run[name] = percentiles(samples)
        per_run.append(run)
    rss_loaded = _status("VmHWM")
    query_vectors = dense.encoder.encode_queries(queries)
    approx = dense.index.search(query_vectors, K)
    exact_index = ExactIndex(query_vectors.shape[1])
    vectors = np.load(vectors_path(args.catalog), mmap_mode="r")[: len(pipe)]
    exact_index.vectors, exact_index.table.ids = vectors, np.arange(len(vectors))
    exact_index.table.alive = np.ones(len(vectors), dtype=bool)
    exact = exact_index.search(query_vectors, K)
    recall = float(np.mean([len(set(a) & set(e)) / K for a, e in zip(approx.rows, exact.rows, strict=True)]))
    return {
        "load_s": load_s,
        "runs": per_run,
        "recall@100": recall,
        "peak_rss_mib": rss_loaded,
        "rss_before_load_mib": baseline_rss,
        "queries": len(queries),
    }


def worker_peer(args: argparse.Namespace) -> dict[str, Any]:
    """The straightforward pipeline: sentence-transformers (PyTorch) + numpy over all vectors."""
    from sentence_transformers import SentenceTransformer

    from shopmatch.encoders.models import resolve_model_dir

    queries = [q for q in args.queries.read_text(encoding="utf-8").splitlines() if q.strip()]
    model = SentenceTransformer(str(resolve_model_dir("all-MiniLM-L6-v2")), device="cpu")
    vectors = np.load(vectors_path(args.catalog))  # float32 in memory, as a plain script would
    meta = json.loads(vectors_path(args.catalog).with_suffix(".json").read_text())
    vectors = vectors[: meta["done"]]

    def search(q: str) -> np.ndarray:
        v = model.encode([q], normalize_embeddings=True)[0]
        scores = vectors @ v
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])]

    for q in queries[:20]:
        search(q)
    per_run = []
    for _ in range(args.runs):
        samples = []
        for q in queries[: args.peer_queries]:
            started = time.perf_counter()
            search(q)
            samples.append(time.perf_counter() - started)
        per_run.append(percentiles(samples))
    return {"runs": per_run, "queries": args.peer_queries}


def cmd_sweep(args: argparse.Namespace) -> int:
    """recall@100 against exact search and HNSW search latency for several efSearch values,
    per (M, efConstruction) graph built over the cached vectors (no query encoding)."""
    import statistics

    import faiss

    from shopmatch.config import PipelineConfig
    from shopmatch.encoders import SentenceEncoder
    from shopmatch.index.hnsw import HNSWIndex

    faiss.omp_set_num_threads(2)
    meta = json.loads(vectors_path(args.catalog).with_suffix(".json").read_text())
    vectors = np.ascontiguousarray(np.load(vectors_path(args.catalog), mmap_mode="r")[: meta["done"]])
    queries = [q for q in args.queries.read_text(encoding="utf-8").splitlines() if q.strip()]
    encoder = SentenceEncoder.from_config(PipelineConfig.from_toml(args.config).dense.encoder)
    query_vectors = encoder.encode_queries(queries)
    note(f"exact top {K} of {len(queries)} queries over {len(vectors):,} vectors")
    exact_sets = []
    for start in range(0, len(query_vectors), 50):
        scores = query_vectors[start : start + 50] @ vectors.T  # (50, n)
        exact_sets += [set(row.tolist()) for row in np.argpartition(-scores, K, axis=1)[:, :K]]
    rows, results = [], {"machine": machine_info(), "graphs": []}
    for graph in args.graphs:
        m, ef_construction = (int(x) for x in graph.split(":"))
        index = HNSWIndex(vectors.shape[1], dtype=args.dtype, m=m, ef_construction=ef_construction)
        started = time.perf_counter()
        index.add(np.arange(len(vectors)), vectors)
        build_s = time.perf_counter() - started
        note(f"M={m}, efConstruction={ef_construction}: built in {build_s:.0f} s")
        for ef in args.ef:
            index.ef_search = ef
            found = index.search(query_vectors, K).rows
            recall = float(np.mean([len(set(r.tolist()) & e) / K for r, e in zip(found, exact_sets, strict=True)]))
            per_run = []
            for _ in range(args.runs):
                samples = []
                for v in query_vectors:
                    started = time.perf_counter()
                    index.search(v[None, :], K)
                    samples.append(time.perf_counter() - started)
                per_run.append(percentiles(samples))
            p50 = statistics.median(r["p50_ms"] for r in per_run)
            p99 = statistics.median(r["p99_ms"] for r in per_run)
            rows.append([m, ef_construction, f"{build_s:.0f}", ef, recall, p50, p99])
            results["graphs"].append(
                {"m": m, "ef_construction": ef_construction, "build_s": build_s, "ef_search": ef,
                 "recall@100": recall, "p50_ms": p50, "p99_ms": p99}
            )  # fmt: skip
            note(f"  efSearch {ef}: recall@100 {recall:.3f}, p50 {p50:.2f} ms")
        del index
    print("\n".join(machine_header(results["machine"])))
    print(
        f"\n## HNSW over {len(vectors):,} vectors ({args.dtype}): recall@{K} vs exact, search latency (no encoding)\n"
    )
    print(markdown_table(["M", "efConstruction", "build s", "efSearch", f"recall@{K}", "p50 ms", "p99 ms"], rows))
    write_json(args.json, results)
    return 0


def run_worker(kind: str, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "worker",
        kind,
        "--catalog",
        str(args.catalog),
        "--config",
        str(args.config),
        "--queries",
        str(args.queries),
        "--runs",
        str(args.runs),
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cmd_run(args: argparse.Namespace) -> int:
    import statistics

    results: dict[str, Any] = {"machine": machine_info()}
    with tempfile.TemporaryDirectory(prefix="shopmatch-scale-", dir=args.catalog.parent) as tmp:
        for dtype in ("float32", "float16"):
            index_dir = Path(tmp) / f"idx-{dtype}"
            note(f"{dtype}: building the hybrid index")
            build = run_worker("build", args, ["--dtype", dtype, "--index-dir", str(index_dir)])
            note(f"{dtype}: built in {build['total_build_s']:.0f} s; loading and querying")
            load = run_worker("load", args, ["--index-dir", str(index_dir)])
            results[dtype] = {"build": build, "load": load}
            subprocess.run(["rm", "-rf", str(index_dir)], check=False)
    note("peer: sentence-transformers + numpy")
    results["peer"] = run_worker("peer", args, ["--peer-queries", str(args.peer_queries)])
    n = results["float32"]["build"]["products"]
    rows = []
    for dtype in ("float32", "float16"):
        load = results[dtype]["load"]
        for stage in load["runs"][0]:
            p50 = statistics.median(r[stage]["p50_ms"] for r in load["runs"])
            p99 = statistics.median(r[stage]["p99_ms"] for r in load["runs"])
            rows.append([dtype, stage, p50, p99])
    peer_p50 = statistics.median(r["p50_ms"] for r in results["peer"]["runs"])
    peer_p99 = statistics.median(r["p99_ms"] for r in results["peer"]["runs"])
    rows.append(["float32", "peer: sentence-transformers fp32 + numpy exact, k=100", peer_p50, peer_p99])
    dense32 = statistics.median(
        r["dense (query encoding + HNSW, k=100)"]["p50_ms"] for r in results["float32"]["load"]["runs"]
    )
    build_rows = [
        [
            dtype,
            f"{b['encode_s']:.0f}",
            f"{b['lexical_build_s']:.0f}",
            f"{b['hnsw_build_s']:.0f}",
            f"{b['save_s']:.0f}",
            f"{b['total_build_s']:.0f}",
            f"{results[dtype]['load']['peak_rss_mib']:.0f}",
            f"{results[dtype]['load']['recall@100']:.3f}",
        ]
        for dtype in ("float32", "float16")
        for b in [results[dtype]["build"]]
    ]
    out = [
        f"# Dense retrieval at scale ({n:,} products, {results['float32']['load']['queries']} queries)\n",
        *machine_header(results["machine"]),
        "",
        markdown_table(["storage", "stage", "p50 ms (median)", "p99 ms (median)"], rows),
        "",
        f"Dense search vs the peer, p50: {peer_p50 / dense32:.1f}× faster (float32 index).",
        "",
        markdown_table(
            [
                "storage",
                "encode s",
                "BM25F build s",
                "HNSW build s",
                "save s",
                "total build s",
                "peak RSS loaded + queried (MiB)",
                "recall@100 vs exact",
            ],
            build_rows,
        ),
    ]
    print("\n".join(out))
    write_json(args.json, results)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode")
    enc.add_argument("--catalog", type=Path, default=CATALOG)
    enc.add_argument("--config", type=Path, default=CONFIG)
    enc.add_argument("--chunk", type=int, default=20_000)
    run = sub.add_parser("run")
    sweep = sub.add_parser("sweep", help="recall/latency of HNSW settings over the cached vectors")
    sweep.add_argument("--graphs", nargs="+", default=["32:100", "32:200"], help="M:efConstruction")
    sweep.add_argument("--ef", type=int, nargs="+", default=[128, 256, 512, 1024])
    sweep.add_argument("--dtype", default="float32", choices=("float32", "float16"))
    sweep.add_argument("--json", type=Path)
    worker = sub.add_parser("worker")
    worker.add_argument("kind", choices=("build", "load", "peer"))
    for p in (run, worker, sweep):
        p.add_argument("--catalog", type=Path, default=CATALOG)
        p.add_argument("--config", type=Path, default=CONFIG)
        p.add_argument("--queries", type=Path, default=QUERIES)
        p.add_argument("--runs", type=int, default=5)
        p.add_argument("--peer-queries", type=int, default=200)
    run.add_argument("--json", type=Path)
    worker.add_argument("--dtype", default="float32")
    worker.add_argument("--index-dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "encode":
        return cmd_encode(args)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "sweep":
        return cmd_sweep(args)
    handler = {"build": worker_build, "load": worker_load, "peer": worker_peer}[args.kind]
    print(json.dumps(handler(args), default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
