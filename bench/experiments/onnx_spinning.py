"""ONNX Runtime thread spinning on or off: latency of the int8 re-rankers and of query encoding.

ONNX Runtime's worker threads spin for a while after each run. When PyTorch runs right after it
in the same process (the pooling and mean-token head that follow an exported transformer), the
spinning threads hold the cores. shopmatch loads ONNX re-rankers with spinning off and the
bi-encoder with it on (``shopmatch.encoders.onnx_export.onnx_model_kwargs``); this bench measures
both settings for each side by side: each (model, setting) in a fresh process, the settings
alternated, ``--rounds`` rounds.

- re-rankers: p50 of scoring one query's 50 default-hybrid candidates (the 150 esci-us-150 queries
  cycled, ``--requests`` requests, after 10 warm-up requests);
- ``--encoder``: p50 of encoding one query with the default bi-encoder (int8 ONNX).

Usage::

    .venv/bin/python bench/experiments/onnx_spinning.py --models bench/data/rerank/student-2layers-32tok/fold0 \\
        bench/data/rerank/homedepot-all-student-2layers-32tok/all-folds --encoder --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import machine_header, machine_info, markdown_table, percentiles  # noqa: E402

SETTINGS = ("spinning on (ONNX Runtime's default)", "spinning off")


def use_spinning(on: bool) -> None:
    """Make shopmatch's ONNX loaders (re-ranker and bi-encoder) create sessions with spinning ``on`` or off."""
    import shopmatch.encoders.sentence_encoder as encoder_module
    import shopmatch.rerank.cross_encoder as reranker_module
    from shopmatch.encoders.onnx_export import onnx_model_kwargs

    def kwargs(onnx_file: str, *, spinning: bool) -> dict:
        return onnx_model_kwargs(onnx_file, spinning=on)

    encoder_module.onnx_model_kwargs = kwargs
    reranker_module.onnx_model_kwargs = kwargs


def child(target: str, spinning: bool, requests: int) -> float:
    """p50 in ms of one target measured in this process."""
    use_spinning(spinning)
    from rerank import esci, latency_workload

    if target == "encoder":
        from shopmatch.encoders import EncoderConfig, SentenceEncoder

        _, judged, _ = esci()
        encoder = SentenceEncoder.from_config(EncoderConfig())
        work = [lambda q=q: encoder.encode_queries([q]) for q in (judged.queries[q] for q in judged.query_ids)]
    else:
        from shopmatch.rerank import CrossEncoderReranker, RerankConfig

        reranker = CrossEncoderReranker.from_config(RerankConfig(backend="onnx-int8").with_model(target))
        queries, candidates = latency_workload(reranker.config.text, 50)
        work = [lambda q=q, c=c: reranker.score(q, c) for q, c in zip(queries, candidates, strict=True)]
    for call in work[:10]:
        call()
    samples = []
    for i in range(requests):
        started = time.perf_counter()
        work[i % len(work)]()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)["p50_ms"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[], type=Path, help="re-ranker model directories")
    parser.add_argument("--encoder", action="store_true", help="also time query encoding (default bi-encoder)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("TARGET", "SPINNING"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1] == "on", args.requests)))
        return 0
    targets = [str(m) for m in args.models] + (["encoder"] if args.encoder else [])
    if not targets:
        parser.error("name --models and/or --encoder")
    p50: dict[str, dict[str, list[float]]] = {t: {s: [] for s in SETTINGS} for t in targets}
    for round_ in range(args.rounds):
        for target in targets:
            for setting, flag in zip(SETTINGS, ("on", "off"), strict=True):
                command = [sys.executable, __file__, "--child", target, flag, "--requests", str(args.requests)]
                out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                p50[target][setting].append(json.loads(out.strip().splitlines()[-1]))
                print(f"round {round_ + 1}: {target}, {setting}: p50 {p50[target][setting][-1]:.1f} ms",
                      file=sys.stderr, flush=True)  # fmt: skip
    rows = []
    for target in targets:
        on, off = (statistics.median(p50[target][s]) for s in SETTINGS)
        name = "query encoding, default bi-encoder (int8)" if target == "encoder" else f"re-rank 50, `{target}` (int8)"
        rows.append([name, on, off, f"{on / off:.2f}"])
    print("\n".join(machine_header()))
    print(f"\n## ONNX Runtime spinning, p50 ms (median of {args.rounds} rounds, each a fresh process)\n")
    print(markdown_table(["what", *SETTINGS, "on / off"], rows))
    if args.json:
        args.json.write_text(json.dumps({"p50_ms": p50, "machine": machine_info()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
