"""The learned ranker held out: BM25F alone vs BM25F + a LambdaMART ranker, 5-fold by query on esci-us-150.

Usage::

    python bench/experiments/ranker.py [--data ../shared/data/esci-us-150] [--folds 5] [--json out.json]

Lexical-only pipeline (``PipelineConfig(retrievers=("lexical",))``) to stay fast. Each fold's ranker
is trained (``shopmatch.rank.training``: the fused top 100 plus the judged products of each query,
early stopping on a seeded 20% of the training queries) on the other folds' queries only and used on
the fold's queries in retrieval mode (the whole catalog, top 100); NDCG@10 with the ESCI gains,
compared query by query over all held-out queries (``compare_paired``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from shopmatch.catalog import read_catalog
from shopmatch.config import PipelineConfig
from shopmatch.eval.evaluator import evaluate_retrieval
from shopmatch.eval.significance import compare_paired
from shopmatch.judgments import GainMap, read_judgments
from shopmatch.pipeline import SearchPipeline
from shopmatch.rank.training import ranking_data, train_ranker

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "esci-us-150")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    gains = GainMap.esci()
    catalog = read_catalog(args.data / "products.jsonl")
    judged = read_judgments(args.data / "judgments.tsv", gains=gains)
    pipeline = SearchPipeline.build(catalog.products, PipelineConfig(retrievers=("lexical",)))
    data = ranking_data(pipeline, judged, gains)
    print(
        f"features of {len(data.query_ids)} queries, {len(data.labels)} rows in {time.perf_counter() - started:.0f} s"
    )
    before, after = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (train, test) in enumerate(judged.folds(args.folds)):
            ranker = train_ranker(data.subset([q for q in data.query_ids if q in set(train.query_ids)]))
            directory = ranker.save(Path(tmp) / f"fold{k}")
            base = evaluate_retrieval(pipeline, test, gains)
            ranked = evaluate_retrieval(pipeline.with_ranker(directory), test, gains)
            before.update(base.per_query["ndcg@10"])
            after.update(ranked.per_query["ndcg@10"])
            top = list(ranker.importances())[:3]
            print(f"fold {k}: BM25F {base.metrics['ndcg@10']:.4f}  + ranker {ranked.metrics['ndcg@10']:.4f}  {top}")
    comparison = compare_paired(before, after)
    c = comparison
    print(
        f"held out, {c.queries} queries: BM25F {c.baseline_mean:.4f}, + ranker {c.system_mean:.4f}, "
        f"delta {c.delta:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}], p {c.p_value:.4f}, "
        f"+/-/= {c.improved}/{c.worsened}/{c.tied}"
    )
    print(f"took {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"bm25f": before, "ranker": after}, indent=1))


if __name__ == "__main__":
    main()
