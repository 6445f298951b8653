"""Negated queries (``cat treats without chicken``) on esci-us-150: the exclusion stage on and off.

Usage::

    python bench/experiments/negation.py [--reranker DIR --fusion-weight 2] [--feedback off | --feedback 3,2] \\
        [--json FILE]

The default hybrid pipeline (BM25F + MiniLM int8, RRF; built once into ``bench/data/rerank/
hybrid-index``, shared with ``bench/rerank.py``) is evaluated with ``[negation] enabled`` false
and true, in retrieval mode (the whole catalog) and rerank mode (each query's judged products).
The stage has nothing to train, so the 5 folds of the issue's protocol (query position modulo 5)
only split the 150 queries; the table gives their mean, each fold, and the queries that hold an
exclusion apart. With ``--reranker`` the pipeline re-ranks its top 100 with that cross-encoder
first (the settings of ``bench/rerank.py cv``). ``--feedback off`` turns the bi-encoder's
pseudo-relevance feedback (``[feedback]``, on by default) off, as it was before it existed;
``--feedback DOCS,WEIGHT`` sets it (``3,2``: the setting ``bench/experiments/feedback.py`` picks by nested choice).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import data_dir, write_json  # noqa: E402

from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval  # noqa: E402
from shopmatch.judgments import GainMap, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402
from shopmatch.query.exclusion import NegationConfig  # noqa: E402
from shopmatch.query.feedback import FeedbackConfig  # noqa: E402
from shopmatch.query.negation import parse_exclusions  # noqa: E402
from shopmatch.rerank.cross_encoder import CrossEncoderReranker  # noqa: E402

HYBRID_INDEX = Path(__file__).resolve().parents[1] / "data" / "rerank" / "hybrid-index"


def pipeline_with(
    base: SearchPipeline, *, negation: bool, reranker, fusion_weight: float, feedback: FeedbackConfig | None = None
) -> SearchPipeline:
    config = dataclasses.replace(
        base.config, negation=NegationConfig(enabled=negation), feedback=feedback or FeedbackConfig()
    )
    if reranker is not None:
        rerank = dataclasses.replace(reranker.config, top_n=100, fusion_weight=fusion_weight)
        reranker.config = rerank
        config = dataclasses.replace(config, rerank=rerank)
    return SearchPipeline(config, base.products, base.retrievers, reranker)


def feedback_setting(parser: argparse.ArgumentParser, value: str) -> FeedbackConfig:
    if value in ("on", "off"):
        return FeedbackConfig(enabled=value == "on")
    try:
        docs, weight = value.split(",")
        return FeedbackConfig(docs=int(docs), weight=float(weight))
    except ValueError as err:
        parser.error(f"--feedback must be on, off or DOCS,WEIGHT (e.g. 3,2), got {value!r} ({err})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reranker", help="a trained cross-encoder directory (re-ranks the top 100 first)")
    parser.add_argument("--fusion-weight", type=float, default=0.0)
    parser.add_argument("--feedback", default="on", help="pseudo-relevance feedback: on, off, or DOCS,WEIGHT")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    feedback = feedback_setting(parser, args.feedback)

    products_path = data_dir() / "esci-us-150" / "products.jsonl"
    if not (HYBRID_INDEX / "manifest.json").is_file():
        from shopmatch.catalog import read_catalog

        print("building the default hybrid index once", file=sys.stderr)
        SearchPipeline.build(read_catalog(products_path).products).save(HYBRID_INDEX)
    base = SearchPipeline.load(HYBRID_INDEX)
    gains = GainMap.esci()
    judged = read_judgments(data_dir() / "esci-us-150" / "judgments.tsv", gains=gains)
    reranker = None
    if args.reranker:
        from shopmatch.rerank.config import RerankConfig

        reranker = CrossEncoderReranker.from_config(RerankConfig().with_model(args.reranker))
    negated = [q for q in judged.query_ids if parse_exclusions(judged.queries[q])]
    fold_of = {q: i % 5 for i, q in enumerate(judged.query_ids)}

    results = {}
    for enabled in (False, True):
        pipe = pipeline_with(
            base, negation=enabled, reranker=reranker, fusion_weight=args.fusion_weight, feedback=feedback
        )
        for mode, evaluate in (("retrieval", evaluate_retrieval), ("rerank", evaluate_rerank)):
            per_query = evaluate(pipe, judged, gains).per_query
            results[(enabled, mode)] = per_query

    def mean(enabled, mode, metric, queries):
        return float(np.mean([results[(enabled, mode)][metric][q] for q in queries]))

    def folds(enabled, mode):
        return [mean(enabled, mode, "ndcg@10", [q for q in judged.query_ids if fold_of[q] == f]) for f in range(5)]

    system = "hybrid" + (f" + {args.reranker} (fusion weight {args.fusion_weight:g})" if args.reranker else "")
    system += f", feedback {args.feedback}"
    print(f"\n## {system}: {len(judged.query_ids)} queries, {len(negated)} with an exclusion\n")
    print("| negation | NDCG@10 retrieval | MRR@10 | MAP@100 | NDCG@10 rerank | retrieval / rerank, "
          f"the {len(negated)} queries with an exclusion | rest |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    rest = [q for q in judged.query_ids if q not in set(negated)]
    out = {"system": system, "queries": len(judged.query_ids), "negated_queries": negated, "rows": {}}
    for enabled in (False, True):
        row = {
            "ndcg@10": np.mean(folds(enabled, "retrieval")),
            "mrr@10": mean(enabled, "retrieval", "mrr@10", judged.query_ids),
            "map@100": mean(enabled, "retrieval", "map@100", judged.query_ids),
            "rerank ndcg@10": np.mean(folds(enabled, "rerank")),
            "negated": (mean(enabled, "retrieval", "ndcg@10", negated), mean(enabled, "rerank", "ndcg@10", negated)),
            "rest": (mean(enabled, "retrieval", "ndcg@10", rest), mean(enabled, "rerank", "ndcg@10", rest)),
            "folds": list(zip(folds(enabled, "retrieval"), folds(enabled, "rerank"), strict=True)),
        }
        out["rows"]["on" if enabled else "off"] = row
        print(f"| {'on' if enabled else 'off'} | {row['ndcg@10']:.3f} | {row['mrr@10']:.3f} | {row['map@100']:.3f} | "
              f"{row['rerank ndcg@10']:.3f} | {row['negated'][0]:.3f} / {row['negated'][1]:.3f} | "
              f"{row['rest'][0]:.3f} / {row['rest'][1]:.3f} |")  # fmt: skip
    print("\n| NDCG@10 retrieval / rerank | fold 0 | fold 1 | fold 2 | fold 3 | fold 4 |\n|---|---|---|---|---|---|")
    for name, row in out["rows"].items():
        print(f"| negation {name} | " + " | ".join(f"{r:.3f} / {k:.3f}" for r, k in row["folds"]) + " |")
    changed = [
        (judged.queries[q], results[(False, "retrieval")]["ndcg@10"][q], results[(True, "retrieval")]["ndcg@10"][q])
        for q in negated
    ]
    worse = [c for c in changed if c[2] < c[1] - 1e-9]
    better = [c for c in changed if c[2] > c[1] + 1e-9]
    print(f"\nRetrieval NDCG@10 of the queries with an exclusion: {len(better)} better, {len(worse)} worse, "
          f"{len(changed) - len(better) - len(worse)} unchanged. Worse:")  # fmt: skip
    for query, before, after in worse:
        print(f"- {query!r}: {before:.3f} → {after:.3f}")
    write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
