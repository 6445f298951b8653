"""Re-ranking latency with and without cutting product texts to the token limit before tokenizing.

A product text (title, brand, colour, category, three bullets) in esci-us-150 averages about 650
characters, while a latency student reads 32 tokens of query and text together. The re-ranker
now cuts each text after the words the limit would drop anyway (``shopmatch.text.clip``), which
leaves the model's input unchanged. This bench measures both ways side by side: a fresh process
per model and round, and in it each call timed both ways, the order alternating from one call to
the next: the p50 of scoring one query's 50 default-hybrid candidates (the 150 esci-us-150
queries cycled, after 10 warm-up requests), the median over ``--rounds`` rounds, and the largest
difference between the two ways' scores (0 when the inputs are equal). ``--check-inputs`` first
compares the first model's tokenized input with and without the cut on every judged pair at 8 to
256 tokens.

Usage::

    .venv/bin/python bench/experiments/rerank_clipping.py --models bench/data/rerank/student-2layers-32tok/fold0 \\
        bench/data/rerank/homedepot-all-student-2layers-32tok/all-folds --check-inputs --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import machine_header, machine_info, markdown_table, percentiles  # noqa: E402

WAYS = ("whole texts (before)", "texts cut to the limit")


def child(model: str, backend: str, requests: int) -> dict:
    """p50 in ms of each way and the largest score difference, measured in this process."""
    import numpy as np
    from rerank import latency_workload

    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    reranker = CrossEncoderReranker.from_config(RerankConfig(backend=backend).with_model(model))
    queries, candidates = latency_workload(reranker.config.text, 50)
    clipped = reranker._clipped

    def score(query: str, texts: list[str], cut: bool) -> np.ndarray:
        reranker._clipped = clipped if cut else list  # the one thing that differs
        return reranker.score(query, texts)

    largest_difference = 0.0
    for query, texts in zip(queries, candidates, strict=True):
        difference = np.abs(score(query, texts, True) - score(query, texts, False)).max()
        largest_difference = max(largest_difference, float(difference))
    samples: dict[bool, list[float]] = {False: [], True: []}
    for i in range(requests):
        query, texts = queries[i % len(queries)], candidates[i % len(queries)]
        for cut in (i % 2 == 0, i % 2 == 1):
            started = time.perf_counter()
            score(query, texts, cut)
            samples[cut].append(time.perf_counter() - started)
    return {
        WAYS[0]: percentiles(samples[False])["p50_ms"],
        WAYS[1]: percentiles(samples[True])["p50_ms"],
        "max_score_difference": largest_difference,
        "max_length": reranker.config.max_length,
    }


def check_inputs(model: str) -> tuple[list[list[int]], str]:
    """Whether cutting changes what the re-ranker's tokenizer produces, on every judged esci pair
    at several token limits; rows of (limit, pairs, pairs cut, pairs whose input differs)."""
    from rerank import esci

    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    catalog, judged, _ = esci()
    base = RerankConfig(backend="torch").with_model(model)
    by_id = {p.id: p for p in catalog.products}
    rows = []
    for limit in (8, 16, 32, 64, 128, 256):
        reranker = CrossEncoderReranker.from_config(replace(base, max_length=limit))
        pairs = [(judged.queries[r.query_id], reranker.text_of(by_id[r.product_id])) for r in judged.rows]
        clipped = reranker._clipped(pairs)
        differ = 0
        for start in range(0, len(pairs), 500):
            whole = reranker.model.preprocess(pairs[start : start + 500])["input_ids"].tolist()
            cut = reranker.model.preprocess(clipped[start : start + 500])["input_ids"].tolist()
            differ += sum(a != b for a, b in zip(whole, cut, strict=True))
        rows.append([limit, len(pairs), sum(a != b for a, b in zip(pairs, clipped, strict=True)), differ])
    texts = [base.text.render(p) for p in catalog.products]
    chars = statistics.mean(len(t) for t in texts)
    words = statistics.mean(len(t.split()) for t in texts)
    note = f"Product texts: {chars:.0f} characters and {words:.0f} words on average ({len(texts):,} products)."
    return rows, note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[], type=Path, help="re-ranker model directories")
    parser.add_argument("--backend", default="onnx-int8", choices=("torch", "onnx", "onnx-int8"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument(
        "--check-inputs", action="store_true", help="check on every judged esci pair that cutting changes no input"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.backend, args.requests)))
        return 0
    if not args.models:
        parser.error("name the re-rankers to time with --models")
    if args.check_inputs:
        rows, text_note = check_inputs(str(args.models[0]))
        print(f"## Inputs with and without cutting, `{args.models[0]}` (PyTorch tokenizer path)\n")
        print(markdown_table(["token limit", "judged pairs", "pairs cut", "pairs whose input differs"], rows))
        print(f"\n{text_note}\n")
    runs: dict[str, list[dict]] = {str(m): [] for m in args.models}
    for round_ in range(args.rounds):
        for model in runs:
            command = [sys.executable, __file__, "--child", model, "--backend", args.backend,
                       "--requests", str(args.requests)]  # fmt: skip
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs[model].append(json.loads(out.strip().splitlines()[-1]))
            print(f"round {round_ + 1}: {model}: " + ", ".join(f"{w} {runs[model][-1][w]:.1f} ms" for w in WAYS),
                  file=sys.stderr, flush=True)  # fmt: skip
    rows = []
    for model, results in runs.items():
        before, after = (statistics.median(r[w] for r in results) for w in WAYS)
        difference = max(r["max_score_difference"] for r in results)
        name = f"re-rank 50, `{model}` (p50 ms), {results[0]['max_length']} tokens"
        rows.append([name, before, after, f"{after / before:.2f}", f"{difference:.1e}"])
    print("\n".join(machine_header()))
    print(f"\n## Whole and cut texts ({args.backend}), median of {args.rounds} rounds "
          "(each a fresh process, the two ways alternated call by call)\n")  # fmt: skip
    print(markdown_table(["what", *WAYS, "cut / whole", "largest score difference"], rows))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "machine": machine_info()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
