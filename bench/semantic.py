"""Semantic retrieval benchmark on esci-us-150: quality rows, encoding throughput, per-stage latency.

Protocol (``../shared/docs/benchmarks.md``; targets from issue [2 of 4]):

1. **Quality** (retrieval mode over all 6,764 products, and rerank mode over each query's
   judged products; gains E=1, S=0.1, C=0.01, I=0): BM25F (defaults), dense all-MiniLM-L6-v2
   zero-shot with PyTorch fp32 and with the shipped int8 ONNX model, averaged word2vec + cosine
   (trained on the catalog), hybrid BM25F + dense int8 with RRF (the default pipeline) and with
   weighted min-max fusion (weights ``--weighted``; chosen on these same 150 queries, so in-sample).
   Each component is built once; the hybrids reuse them.
2. **Encoding throughput**: the first 5,000 products' texts (default template, 64 tokens),
   encoded by PyTorch fp32, ONNX Runtime fp32 and ONNX Runtime int8, interleaved in each of
   ``--throughput-runs`` runs; median products/s; mean cosine of int8 and ONNX fp32 vectors to
   PyTorch fp32 vectors of the same texts. Target: int8 ≥ 3× PyTorch fp32, cosine ≥ 0.98, and
   dense NDCG@10 within 0.005 of fp32.
3. **Latency per stage**: the default hybrid index saved, loaded (memory-mapped, numba BM25) and
   warmed up; the 150 queries cycled to 600 single-query requests per stage, timed one by one;
   ``--runs`` runs, median of per-run p50/p99. Stages: query encoding (int8), BM25, dense
   (encoding + exact search), hybrid end to end (``pipeline.search(q, k=10)`` with product
   records; with the default pseudo-relevance feedback, and without it, interleaved in each run).
   Target: hybrid p50 ≤ 8 ms. With ``--ranker DIR`` (a ranker trained on this catalog, e.g. by
   ``shopmatch train ranker``), also the default with that learned ranker over its top 100.

Usage::

    .venv/bin/python bench/semantic.py --json bench/results/semantic.json | tee bench/results/semantic.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_dir, machine_header, machine_info, markdown_table, percentiles, skip_if_missing, write_json

K = 10
REQUESTS = 600
THROUGHPUT_TEXTS = 5_000


def note(message: str) -> None:
    print(f"[semantic {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quality(products, judgments, gains, weighted: dict[str, float]) -> tuple[list[list[Any]], dict[str, Any]]:
    from shopmatch.backends.inprocess.products import MemoryProducts
    from shopmatch.config import PipelineConfig
    from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.retrieval.dense import DenseRetriever
    from shopmatch.retrieval.fusion import FusionConfig
    from shopmatch.retrieval.lexical import LexicalRetriever
    from shopmatch.retrieval.word_vectors import WordVectorRetriever

    default = PipelineConfig()
    torch_dense = replace(default.dense, encoder=replace(default.dense.encoder, backend="torch"))
    built: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    makers = {
        "lexical": lambda: LexicalRetriever.build(products, default.lexical),
        "dense_int8": lambda: DenseRetriever.build(products, default.dense),
        "dense_fp32": lambda: DenseRetriever.build(products, torch_dense),
        "word_vectors": lambda: WordVectorRetriever.build(
            products, default.word_vectors, text=default.dense.text, index=default.dense.index
        ),
    }
    for name, make in makers.items():
        note(f"building {name} over {len(products):,} products")
        started = time.perf_counter()
        built[name] = make()
        seconds[name] = time.perf_counter() - started
    store = MemoryProducts(products)
    systems = [
        ("BM25F (defaults)", {"lexical": "lexical"}, FusionConfig()),
        ("dense MiniLM zero-shot, PyTorch fp32", {"dense": "dense_fp32"}, FusionConfig()),
        ("dense MiniLM zero-shot, ONNX int8 (shipped)", {"dense": "dense_int8"}, FusionConfig()),
        ("word2vec mean + cosine (baseline)", {"word_vectors": "word_vectors"}, FusionConfig()),
        (
            "hybrid BM25F + dense int8, RRF k=60 (default)",
            {"lexical": "lexical", "dense": "dense_int8"},
            FusionConfig(),
        ),
        (
            f"hybrid BM25F + dense int8, weighted min-max {weighted} (in-sample)",
            {"lexical": "lexical", "dense": "dense_int8"},
            FusionConfig(method="weighted", weights=weighted),
        ),
        (
            "hybrid BM25F + dense int8 + word2vec, RRF",
            {"lexical": "lexical", "dense": "dense_int8", "word_vectors": "word_vectors"},
            FusionConfig(),
        ),
    ]
    rows, record = [], []
    for label, parts, fusion in systems:
        note(f"evaluating {label}")
        config = replace(default, retrievers=tuple(parts), fusion=fusion)
        pipe = SearchPipeline(config, store, {role: built[name] for role, name in parts.items()})
        retrieval = evaluate_retrieval(pipe, judgments, gains).metrics
        rerank = evaluate_rerank(pipe, judgments, gains).metrics["ndcg@10"]
        rows.append(
            [label, retrieval["ndcg@10"], retrieval["mrr@10"], retrieval["recall@100"], retrieval["map@100"], rerank]
        )
        record.append(
            {"system": label, **{f"retrieval_{k}": v for k, v in retrieval.items()}, "rerank_ndcg@10": rerank}
        )
    return rows, {"rows": record, "build_seconds": seconds}


def throughput(products, runs: int) -> tuple[list[list[Any]], dict[str, Any]]:
    from shopmatch.config import PipelineConfig
    from shopmatch.encoders import SentenceEncoder

    default = PipelineConfig().dense
    texts = [default.text.render(p) for p in products[:THROUGHPUT_TEXTS]]
    encoders = {
        backend: SentenceEncoder.from_config(replace(default.encoder, backend=backend))
        for backend in ("torch", "onnx", "onnx-int8")
    }
    rates: dict[str, list[float]] = {b: [] for b in encoders}
    vectors: dict[str, np.ndarray] = {}
    for run in range(runs):
        for backend, encoder in encoders.items():
            encoder.encode_documents(texts[:64])
            started = time.perf_counter()
            vectors[backend] = encoder.encode_documents(texts)
            rates[backend].append(len(texts) / (time.perf_counter() - started))
            note(f"throughput run {run + 1}/{runs}: {backend} {rates[backend][-1]:.0f} products/s")
    median = {b: statistics.median(r) for b, r in rates.items()}
    cosine = {b: float((vectors[b] * vectors["torch"]).sum(axis=1).mean()) for b in encoders}
    rows = [
        [b, median[b], median[b] / median["torch"], cosine[b], ", ".join(f"{r:.0f}" for r in rates[b])]
        for b in encoders
    ]
    return rows, {"products_per_s": median, "runs": rates, "mean_cosine_to_torch": cosine, "texts": len(texts)}


def latency(
    products, queries: Sequence[str], runs: int, ranker: Path | None = None
) -> tuple[list[list[Any]], dict[str, Any]]:
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.query.feedback import FeedbackConfig

    requests = [queries[i % len(queries)] for i in range(REQUESTS)]
    with tempfile.TemporaryDirectory(prefix="shopmatch-semantic-") as tmp:
        note("building, saving and loading the default hybrid index")
        started = time.perf_counter()
        SearchPipeline.build(products).save(Path(tmp) / "idx")
        build_s = time.perf_counter() - started
        pipe = SearchPipeline.load(Path(tmp) / "idx", backend="numba")
        dense, lexical = pipe.retrievers["dense"], pipe.retrievers["lexical"]
        pipe_no_feedback = pipe.with_config(feedback=FeedbackConfig(enabled=False))
        stages = {
            "query encoding (int8)": lambda q: dense.encoder.encode_queries([q]),
            "BM25F": lambda q: lexical.search_texts([q], k=100),
            "dense (encoding + exact search)": lambda q: dense.search_texts([q], k=100),
            "hybrid end to end (k=10, records)": lambda q: pipe.search(q, k=K),
            "the same without pseudo-relevance feedback": lambda q: pipe_no_feedback.search(q, k=K),
        }
        if ranker is not None:
            ranked = pipe.with_ranker(ranker)
            stages[f"the default with the learned ranker ({ranked.ranker.booster.num_trees()} trees)"] = lambda q: (
                ranked.search(q, k=K)
            )
        for fn in stages.values():
            for q in queries:
                fn(q)
        per_run: list[dict[str, dict[str, float]]] = []
        for run in range(runs):
            timings = {}
            for name, fn in stages.items():
                samples = []
                for q in requests:
                    started = time.perf_counter()
                    fn(q)
                    samples.append(time.perf_counter() - started)
                timings[name] = percentiles(samples)
            per_run.append(timings)
            note(f"latency run {run + 1}/{runs}: " + ", ".join(f"{n} {t['p50_ms']:.2f} ms" for n, t in timings.items()))
    rows = []
    for name in stages:
        p50 = statistics.median(r[name]["p50_ms"] for r in per_run)
        p99 = statistics.median(r[name]["p99_ms"] for r in per_run)
        rows.append([name, p50, p99, ", ".join(f"{r[name]['p50_ms']:.2f}" for r in per_run)])
    return rows, {"runs": per_run, "build_s": build_s, "requests": len(requests)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="latency runs (median reported)")
    parser.add_argument("--throughput-runs", type=int, default=3)
    parser.add_argument("--weighted", default="lexical=0.7,dense=0.3", help="weights of the weighted-fusion row")
    parser.add_argument("--only", action="append", choices=("quality", "throughput", "latency"))
    parser.add_argument("--ranker", type=Path, help="latency: also time the default with this ranker directory")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import GainMap, read_judgments

    folder = data_dir() / "esci-us-150"
    if not skip_if_missing(folder / "products.jsonl", "esci-us-150"):
        return 0
    products = read_catalog(folder / "products.jsonl").products
    judgments = read_judgments(folder / "judgments.tsv")
    queries = [judgments.queries[q] for q in judgments.query_ids]
    weighted = {k: float(v) for k, v in (part.split("=") for part in args.weighted.split(","))}
    sections = args.only or ["quality", "throughput", "latency"]
    info = machine_info()
    out: list[str] = ["# Semantic retrieval benchmark (esci-us-150)\n", *machine_header(info), ""]
    record: dict[str, Any] = {"machine": info}
    if "quality" in sections:
        rows, record["quality"] = quality(products, judgments, GainMap.esci(), weighted)
        out += [
            "## Quality (150 queries, 6,764 products)\n",
            markdown_table(
                ["system", "NDCG@10 retrieval", "MRR@10 (E)", "Recall@100 (E+S)", "MAP@100", "NDCG@10 rerank"], rows
            ),
            "",
            "Build seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in record["quality"]["build_seconds"].items()),
            "",
        ]
    if "throughput" in sections:
        rows, record["throughput"] = throughput(products, args.throughput_runs)
        out += [
            f"## Encoding throughput ({record['throughput']['texts']:,} product texts, 2 cores)\n",
            markdown_table(
                ["backend", "products/s (median)", "× PyTorch fp32", "mean cosine to fp32", "per run"], rows
            ),
            "",
        ]
    if "latency" in sections:
        rows, record["latency"] = latency(products, queries, args.runs, args.ranker)
        out += [
            f"## Latency per stage ({REQUESTS} requests per run, {args.runs} runs, single queries)\n",
            markdown_table(["stage", "p50 ms (median)", "p99 ms (median)", "p50 per run"], rows),
            "",
            f"Index build (hybrid, default config): {record['latency']['build_s']:.1f} s",
        ]
    print("\n".join(out))
    write_json(args.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
