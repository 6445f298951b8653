"""Ways of blending the fine-tuned cross-encoders with the first stage, measured offline.

``bench/rerank.py cv`` measures one blend: the re-ranked order is
``1 / (60 + CE rank) + w / (60 + fused rank)`` (``rerank.fusion_weight``). This script scores every
test query's candidates once per fold — the default hybrid pipeline's top 100 (retrieval mode) and
its judged products (rerank mode) — with BM25F, the bi-encoder, the fused first stage and each
named cross-encoder variant (its logit, int8 ONNX, the fold's own model), caches the scores under
``bench/results/rerank/blends/``, and then evaluates blends of them in seconds:

- ``rrf2``: the shipped blend above (CE rank with the fused rank);
- ``rrf3``: CE rank with the BM25F and the bi-encoder ranks directly, ``w / (60 + CE rank) +
  1 / (60 + BM25F rank) + 1 / (60 + dense rank)`` (ranks among the candidates; the CE as a third
  retriever of an RRF);
- ``z``: per query, z-scored CE logit + ``w`` · z-scored bi-encoder cosine + ``w`` · z-scored BM25F;
- ``ensemble``: the mean of the z-scored logits of two cross-encoders, alone or blended as above.

A weight is either fixed for every fold, or chosen per test fold on the other four folds' queries
(each scored by its own fold's model, so out of sample for that model) by retrieval NDCG@10 —
"nested" in the table; its rerank column uses the same weights.

Usage::

    .venv/bin/python bench/experiments/rerank_blends.py --variants lr1e-4-2ep-neg mean-head-2ep-neg
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import machine_header, machine_info, markdown_table  # noqa: E402
from rerank import MODELS, RESULTS, esci, hybrid_pipeline, note, shared_model_dir  # noqa: E402

from shopmatch.rerank.blend import RANK_CONSTANT, blended_scores, ranks_of

CACHE = RESULTS / "blends"
WEIGHTS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0)


def fold_model(variant: str, fold: int) -> Path:
    """The model that scores ``fold``'s test queries: the fold's own, or the variant's one model
    for every fold (trained without esci judgments, e.g. ``homedepot-all-mean``)."""
    shared = shared_model_dir(variant)
    return shared if (shared / "config.json").is_file() else MODELS / variant / f"fold{fold}"


def model_stamp(model_dir: Path) -> str:
    """Which trained model scored a fold: its weights' size and modification time."""
    weights = model_dir / "model.safetensors"
    if not weights.is_file():
        raise SystemExit(f"{model_dir}: train it first (bench/rerank.py cv --variant {model_dir.parent.name})")
    stat = weights.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def logits(model_dir: Path, query: str, products: list) -> list[float]:
    """The cross-encoder's logits for ``query`` and each product, rendered with the model's own template."""
    import torch

    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    reranker = _RERANKERS.get(model_dir)
    if reranker is None:
        reranker = _RERANKERS[model_dir] = CrossEncoderReranker.from_config(
            RerankConfig(backend="onnx-int8").with_model(model_dir)
        )
    pairs = [(query, reranker.text_of(p)) for p in products]
    scores = reranker.model.predict(pairs, batch_size=64, activation_fn=torch.nn.Identity(), show_progress_bar=False)
    return np.asarray(scores, dtype=np.float64).reshape(len(products)).tolist()


_RERANKERS: dict[Path, Any] = {}


def fold_scores(fold: int, variants: list[str], products, judged, pipeline) -> dict[str, Any]:
    """Per test query of ``fold``: candidates and judged products with every score (cached)."""
    path = CACHE / f"fold{fold}.json"
    cached = json.loads(path.read_text()) if path.is_file() else {"queries": {}}
    stamps = {v: model_stamp(fold_model(v, fold)) for v in variants}
    missing = [v for v in variants if cached.get("stamps", {}).get(v) != stamps[v]]  # new or retrained
    if not missing and cached["queries"]:
        return cached
    _, test_judged = judged.folds(5)[fold]
    for q in test_judged.query_ids:
        query = test_judged.queries[q]
        entry = cached["queries"].get(q)
        if entry is None:
            results = pipeline.search([query], k=100)[0]  # the fused top 100 (the pipeline re-ranks nothing)
            retrieved_ids = [r.product_id for r in results]
            judged_ids = sorted(r.product_id for r in test_judged.by_query[q])
            entry = {"query": query}
            for mode, ids, fused in (
                ("retrieval", retrieved_ids, [r.score for r in results]),
                ("rerank", judged_ids, pipeline.score_candidates(query, judged_ids)),
            ):
                rows = np.asarray([pipeline.products.row_of(pid) for pid in ids], dtype=np.int64)
                entry[mode] = {
                    "ids": ids,
                    "fused": [float(s) for s in fused],
                    "lexical": retriever_scores(pipeline, "lexical", query, rows),
                    "dense": retriever_scores(pipeline, "dense", query, rows),
                }
            cached["queries"][q] = entry
        for variant in missing:
            model_dir = fold_model(variant, fold)
            for mode in ("retrieval", "rerank"):
                entry[mode][variant] = logits(
                    model_dir, query, [products[products.row_of(p)] for p in entry[mode]["ids"]]
                )
    cached["stamps"] = {**cached.get("stamps", {}), **stamps}
    cached["machine"] = machine_info()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cached))
    note(f"fold {fold}: scores cached ({path})")
    return cached


def retriever_scores(pipeline, name: str, query: str, rows: np.ndarray) -> list[float]:
    """One retriever's raw scores of catalog ``rows`` for ``query`` (its plain query: no feedback);
    0 where it would not return the row (BM25F: no query term in the product)."""
    retriever = pipeline.retrievers[name]
    scores = retriever.score_rows(retriever.prepare([query])[0], rows)
    return np.nan_to_num(scores.astype(np.float64), nan=0.0).tolist()


def ranks(scores: np.ndarray, *, returned: np.ndarray) -> np.ndarray:
    """1-based ranks (ties by position, as in the pipeline); ``inf`` where not ``returned``."""
    out = ranks_of(scores)
    out[~returned] = np.inf
    return out


def zscore(scores: np.ndarray) -> np.ndarray:
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


Blend = Callable[[dict[str, np.ndarray], float], np.ndarray]


def ce_of(names: list[str]) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    return lambda f: np.mean([zscore(f[n]) for n in names], axis=0)


def blends(variants: list[str]) -> dict[str, tuple[Blend, bool]]:
    """name → (blend(features, weight), whether the weight matters)."""
    out: dict[str, tuple[Blend, bool]] = {"fused (no re-ranking)": (lambda f, w: f["fused"], False)}
    groups = [[v] for v in variants] + ([variants] if len(variants) > 1 else [])
    for names in groups:
        label = " + ".join(names) if len(names) == 1 else "ensemble of " + " + ".join(names)
        ce = ce_of(names)

        def rrf2(f, w, ce=ce):  # the pipeline's own blend (rerank.fusion_weight = w)
            return blended_scores(ce(f), w, ranks_of(f["fused"]))

        def rrf3(f, w, ce=ce):
            lexical = 1 / (RANK_CONSTANT + ranks(f["lexical"], returned=f["lexical"] > 0))
            return w / (RANK_CONSTANT + ranks_of(ce(f))) + lexical + 1 / (RANK_CONSTANT + ranks_of(f["dense"]))

        def z(f, w, ce=ce):
            return ce(f) + w * (zscore(f["dense"]) + zscore(f["lexical"]))

        out[f"{label}, alone"] = (lambda f, w, ce=ce: ce(f), False)
        out[f"{label}, rrf2"] = (rrf2, True)
        out[f"{label}, rrf3"] = (rrf3, True)
        out[f"{label}, z"] = (z, True)
    return out


def run_metrics(test_judged, gains, scored: dict[str, tuple[list[str], np.ndarray]]) -> dict[str, float]:
    """Mean NDCG@10, MRR@10 and MAP@100 of ``scored`` (query id → candidate ids and their scores).

    Ties keep the candidates' order: the fused order in retrieval mode (as the pipeline's re-ranking
    stage does), sorted ids in rerank mode (as evaluate_rerank does)."""
    from shopmatch.eval.metrics import ranking_metrics

    run = {}
    for q, (ids, scores) in scored.items():
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
        run[q] = [(ids[i], float(scores[i])) for i in order]
    metrics = ("ndcg@10", "mrr@10", "map@100")
    return ranking_metrics(test_judged.qrels(gains), test_judged.relevant(gains), run, metrics,
                           recall_relevant=test_judged.relevant(gains, for_recall=True)).mean  # fmt: skip


def evaluate(folds: dict[int, dict[str, Any]], judged, gains, blend: Blend, weight: float, fold: int, mode: str):
    """Metrics of one blend on one fold's test queries in ``mode``."""
    scored = {}
    for q, entry in folds[fold]["queries"].items():
        part = entry[mode]
        features = {k: np.asarray(v, dtype=np.float64) for k, v in part.items() if k != "ids"}
        scored[q] = (part["ids"], blend(features, weight))
    return run_metrics(judged.folds(5)[fold][1], gains, scored)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["lr1e-4-2ep-neg", "mean-head-2ep-neg"])
    parser.add_argument("--json", type=Path, default=CACHE / "table.json")
    args = parser.parse_args(argv)
    products, judged, gains = esci()
    pipeline = hybrid_pipeline(products.products)
    folds = {f: fold_scores(f, args.variants, products, judged, pipeline) for f in range(5)}

    def ndcg(blend, w, fold, mode="retrieval"):
        return evaluate(folds, judged, gains, blend, w, fold, mode)["ndcg@10"]

    rows, results = [], {}
    for name, (blend, weighted) in blends(args.variants).items():
        weights = WEIGHTS if weighted else (0.0,)
        grid = {(w, f, m): ndcg(blend, w, f, m) for w in weights for f in range(5) for m in ("retrieval", "rerank")}

        def mean_over(w, mode, folds_=range(5), grid=grid):
            return statistics.mean(grid[w, f, mode] for f in folds_)

        for w in weights:
            rows.append([name, f"{w:g}" if weighted else "–", mean_over(w, "retrieval"), mean_over(w, "rerank"),
                         " / ".join(f"{grid[w, f, 'retrieval']:.3f}" for f in range(5))])  # fmt: skip
        if weighted:  # each test fold gets the weight that is best on the four other folds
            picks = [max(weights, key=lambda w, f=f: mean_over(w, "retrieval", [g for g in range(5) if g != f]))
                     for f in range(5)]  # fmt: skip
            nested_retrieval = [grid[picks[f], f, "retrieval"] for f in range(5)]
            nested_rerank = [grid[picks[f], f, "rerank"] for f in range(5)]
            rows.append([f"**{name}, nested**", "/".join(f"{w:g}" for w in picks), statistics.mean(nested_retrieval),
                         statistics.mean(nested_rerank), " / ".join(f"{x:.3f}" for x in nested_retrieval)])  # fmt: skip
        results[name] = {f"{w:g}/{f}/{m}": v for (w, f, m), v in grid.items()}
    print("\n".join(machine_header()))
    print(f"\n## Blends of the first stage with {', '.join(args.variants)} (esci-us-150, 5 folds, int8 ONNX)\n")
    print(markdown_table(["blend", "weight", "NDCG@10 retrieval", "NDCG@10 rerank", "retrieval per fold"], rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"variants": args.variants, "results": results, "machine": machine_info()}))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
