"""A learned combination of the first stage, the cross-encoders and lexical match features.

``bench/experiments/rerank_blends.py`` blends the cross-encoder with the first stage by one weight. This
script asks whether a model *learned* on the judgments combines the same signals better, with
features a hand-made blend cannot weigh: per candidate, the fused, BM25F, bi-encoder and each
cross-encoder score (raw, z-scored within the query's candidates, and as ``1 / (60 + rank)``),
plus the share of the query's terms found in the title and in any field (the project's
:class:`~shopmatch.text.tokenize.Analyzer` terms), the query's numbers found and missed, whether
the brand and the colour are in the query, title length, rating and log review count.

For each test fold the combiner is trained on the four other folds' cached candidates — each
scored by its own fold's cross-encoder, so out of sample for that model, the stacking scheme
``rerank_blends`` uses for its nested weights — with the ESCI gain as target (unjudged products
in the hybrid top 100: 0), and it orders the test fold's top 100 (retrieval) and judged products
(rerank). Combiners: logistic regression on "exact" (standardized features), ridge regression
on the gain, and scikit-learn's histogram gradient boosting (regression on the gain;
classification of "exact").

Needs the score cache of ``bench/experiments/rerank_blends.py`` (run it first with the same variants).

Usage::

    .venv/bin/python bench/experiments/rerank_learned.py --variants lr1e-4-2ep-neg mean-head-2ep-neg
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches

from _common import machine_header, machine_info, markdown_table  # noqa: E402
from rerank import esci  # noqa: E402
from rerank_blends import CACHE, run_metrics, zscore  # noqa: E402

from shopmatch.rerank.blend import RANK_CONSTANT, ranks_of
from shopmatch.text.tokenize import Analyzer

MODES = ("retrieval", "rerank")


def match_features(analyzer: Analyzer, query: str, product) -> list[float]:
    """Lexical match features of one candidate: the share of the query's terms in the title and
    in any field, the share of its numbers in the title (-1 without numbers) and the count missing
    everywhere, brand and colour in the query, title length, rating, log review count, query length."""
    terms = set(analyzer(query))
    numbers = {t for t in terms if any(c.isdigit() for c in t)}
    title = set(analyzer(product.title))
    every = title.union(
        *(analyzer(t) for t in [product.brand, product.color, product.description, *product.bullets] if t)
    )
    brand, colour = set(analyzer(product.brand or "")), set(analyzer(product.color or ""))
    share = len(terms & title) / len(terms) if terms else 0.0
    return [
        share,
        len(terms & every) / len(terms) if terms else 0.0,
        len(numbers & title) / len(numbers) if numbers else -1.0,
        float(len(numbers - every)),
        float(bool(brand) and brand <= terms),
        float(bool(colour & terms)),
        float(len(title)),
        product.rating or 0.0,
        math.log1p(product.rating_count or 0),
        float(len(terms)),
    ]


def candidate_features(part: dict[str, list], signals: list[str], matches: np.ndarray) -> np.ndarray:
    """The feature matrix of one query's candidates: each signal raw, z-scored and as RRF term."""
    columns = []
    for name in signals:
        x = np.asarray(part[name], dtype=np.float64)
        columns += [x, zscore(x), 1 / (RANK_CONSTANT + ranks_of(x))]
    return np.column_stack([*columns, matches])


class FoldData:
    """Per fold and mode: each test query's feature matrix, gains and candidate ids."""

    def __init__(self, variants: list[str]):
        products, judged, gains = esci()
        self.judged, self.gains = judged, gains
        analyzer = Analyzer()
        signals = ["fused", "lexical", "dense", *variants]
        self.queries: dict[tuple[int, str], list[tuple[str, np.ndarray, np.ndarray, list[str]]]] = {}
        for fold in range(5):
            path = CACHE / f"fold{fold}.json"
            if not path.is_file():
                raise SystemExit(
                    f"{path}: run bench/experiments/rerank_blends.py --variants {' '.join(variants)} first"
                )
            cached = json.loads(path.read_text())
            absent = [v for v in variants if v not in cached.get("stamps", {})]
            if absent:
                raise SystemExit(
                    f"{path} has no scores of {absent}: run bench/experiments/rerank_blends.py with them first"
                )
            qrels = judged.folds(5)[fold][1].qrels(gains)
            for mode in MODES:
                rows = []
                for q, entry in cached["queries"].items():
                    part = entry[mode]
                    matches = np.asarray(
                        [match_features(analyzer, entry["query"], products[products.row_of(p)]) for p in part["ids"]]
                    )
                    target = np.asarray([qrels.get(q, {}).get(p, 0.0) for p in part["ids"]])
                    rows.append((q, candidate_features(part, signals, matches), target, part["ids"]))
                self.queries[fold, mode] = rows

    def training_set(self, test_fold: int) -> tuple[np.ndarray, np.ndarray]:
        """Retrieval-mode candidates of the other folds (what the pipeline would re-rank)."""
        rows = [r for f in range(5) if f != test_fold for r in self.queries[f, "retrieval"]]
        return np.vstack([r[1] for r in rows]), np.concatenate([r[2] for r in rows])

    def ndcg(self, fold: int, mode: str, score: Callable[[np.ndarray], np.ndarray]) -> float:
        scored = {q: (ids, score(features)) for q, features, _, ids in self.queries[fold, mode]}
        return run_metrics(self.judged.folds(5)[fold][1], self.gains, scored)["ndcg@10"]


def combiners() -> dict[str, Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]]:
    """name → fit(features, gains) → score(features)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    boosting = {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40, "random_state": 0}

    def logistic(x, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y >= 1)
        return model.decision_function

    def ridge(x, y):
        return make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(x, y).predict

    def boosted_regression(x, y):
        return HistGradientBoostingRegressor(**boosting).fit(x, y).predict

    def boosted_classification(x, y):
        model = HistGradientBoostingClassifier(**boosting).fit(x, y >= 1)
        return lambda f: model.predict_proba(f)[:, 1]

    return {
        "logistic regression, exact vs rest": logistic,
        "ridge regression on the gain": ridge,
        "gradient boosting, regression on the gain": boosted_regression,
        "gradient boosting, exact vs rest": boosted_classification,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["lr1e-4-2ep-neg", "mean-head-2ep-neg"])
    parser.add_argument("--json", type=Path, default=CACHE / "learned.json")
    args = parser.parse_args(argv)
    data = FoldData(args.variants)
    results: dict[str, Any] = {"machine": machine_info(), "variants": args.variants, "systems": {}}
    fused = 0  # the fused score is the first column
    systems = {"fused first stage, no re-ranking": lambda fold: lambda f: f[:, fused]}
    for name, fit in combiners().items():
        systems[name] = lambda fold, fit=fit: fit(*data.training_set(fold))
    rows = []
    for name, make in systems.items():
        per_fold = {m: [] for m in MODES}
        for fold in range(5):
            score = make(fold)
            for mode in MODES:
                per_fold[mode].append(data.ndcg(fold, mode, score))
        results["systems"][name] = per_fold
        rows.append([name, *(statistics.mean(per_fold[m]) for m in MODES),
                     " / ".join(f"{x:.3f}" for x in per_fold["retrieval"])])  # fmt: skip
    print("\n".join(machine_header(results["machine"])))
    print(
        f"\n## Learned combinations, esci-us-150, 5 folds (signals: fused, BM25F, dense, {', '.join(args.variants)})\n"
    )
    print(
        markdown_table(
            ["combiner (mean of 5 folds)", "NDCG@10 retrieval", "NDCG@10 rerank", "retrieval per fold"], rows
        )
    )
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
