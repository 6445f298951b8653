"""Hybrid fusion settings on esci-us-150: the dense retriever's RRF weight and rrf_k, chosen by nested CV.

The default hybrid pipeline fuses BM25F and the bi-encoder by reciprocal rank fusion with equal
weights and ``rrf_k`` 60. This bench evaluates a grid of (dense weight, rrf_k) — the lexical
weight stays 1 — over the 150 queries in retrieval mode (NDCG@10, gains E=1, S=0.1, C=0.01, I=0)
and reports, per bi-encoder:

- the default setting, mean of the 5 query folds (protocol item 3 of ``benchmarks.md``);
- the best setting of the grid on all 150 queries (optimistic: chosen on the test queries);
- nested: each fold tested with the setting that is best on the other four folds — the figure to
  quote — and the settings the folds chose.

BM25F's field weights were themselves tuned on these 150 queries (``bench/experiments/tune_bm25.py``), so every
row leans the lexical way a little; the untuned-weights row shows by how much.

Usage::

    .venv/bin/python bench/experiments/fusion_weights.py [--encoder bench/data/bi_encoder/homedepot-mnrl-4pos]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import REPO_ROOT, data_dir, machine_header, machine_info, markdown_table, skip_if_missing  # noqa: E402

DENSE_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5)
RRF_KS = (10, 30, 60, 100)
UNTUNED_BM25 = REPO_ROOT / "configs" / "bm25-untuned.toml"


def fold_scores(pipeline_for, folds, gains) -> dict[tuple[float, float], list[float]]:
    """(dense weight, rrf_k) → NDCG@10 of each fold's test queries."""
    from shopmatch.eval.evaluator import evaluate_retrieval

    return {
        (weight, k): [evaluate_retrieval(pipeline_for(weight, k), test, gains).metrics["ndcg@10"] for _, test in folds]
        for weight in DENSE_WEIGHTS
        for k in RRF_KS
    }


def nested(scores: dict[tuple[float, float], list[float]]) -> tuple[float, list[tuple[float, float]]]:
    """Mean NDCG@10 when each fold uses the setting best on the other folds, and those settings."""
    n = len(next(iter(scores.values())))
    chosen = [
        max(scores, key=lambda s: statistics.mean(v for i, v in enumerate(scores[s]) if i != fold)) for fold in range(n)
    ]
    return statistics.mean(scores[s][fold] for fold, s in enumerate(chosen)), chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", action="append", default=[], type=Path, help="a trained bi-encoder (repeatable)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    folder = data_dir() / "esci-us-150"
    if not skip_if_missing(folder / "products.jsonl", "esci-us-150"):
        return 0
    from rerank import esci

    from shopmatch.backends.inprocess.products import MemoryProducts
    from shopmatch.config import PipelineConfig
    from shopmatch.encoders.config import EncoderConfig
    from shopmatch.pipeline import SearchPipeline
    from shopmatch.retrieval.dense import DenseConfig, DenseRetriever
    from shopmatch.retrieval.lexical import LexicalRetriever

    catalog, judgments, gains = esci()
    products = catalog.products
    default = PipelineConfig()
    store = MemoryProducts(products)
    folds = judgments.folds(5)
    lexicals = {"tuned BM25F (default)": LexicalRetriever.build(products, default.lexical)}
    if UNTUNED_BM25.is_file():
        lexicals["untuned BM25F"] = LexicalRetriever.build(products, PipelineConfig.from_toml(UNTUNED_BM25).lexical)
    denses = {"MiniLM zero-shot": DenseRetriever.build(products, default.dense)}
    for encoder in args.encoder:
        config = DenseConfig(encoder=EncoderConfig(model=str(encoder), backend="onnx-int8"))
        denses[f"`{encoder.name}`"] = DenseRetriever.build(products, config)

    rows, record = [], {}
    for lexical_name, lexical in lexicals.items():
        for dense_name, dense in denses.items():

            def pipeline_for(weight: float, k: float, lexical=lexical, dense=dense) -> SearchPipeline:
                fusion = replace(default.fusion, rrf_k=k, weights={"lexical": 1.0, "dense": weight})
                return SearchPipeline(replace(default, fusion=fusion), store, {"lexical": lexical, "dense": dense})

            print(f"[fusion_weights] {lexical_name} + {dense_name}", file=sys.stderr, flush=True)
            scores = fold_scores(pipeline_for, folds, gains)
            best = max(scores, key=lambda s: statistics.mean(scores[s]))
            nested_mean, chosen = nested(scores)
            rows.append([
                f"{lexical_name} + {dense_name}",
                statistics.mean(scores[(1.0, 60)]),
                f"{statistics.mean(scores[best]):.3f} (w {best[0]:g}, k {best[1]:g})",
                nested_mean,
                ", ".join(f"{w:g}/{k:g}" for w, k in chosen),
            ])  # fmt: skip
            record[f"{lexical_name} + {dense_name}"] = {f"{w}|{k}": v for (w, k), v in scores.items()}
    print("\n".join(machine_header()))
    print("\n## Hybrid NDCG@10, esci-us-150, mean of 5 query folds (dense RRF weight w, lexical 1; rrf_k k)\n")
    print(markdown_table(["retrievers", "default (w 1, k 60)", "best of grid (optimistic)", "nested CV",
                          "nested: w/k per fold"], rows))  # fmt: skip
    print(f"\nGrid: w in {DENSE_WEIGHTS}, k in {RRF_KS}.")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_info(), "scores": record}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
