"""Tune the BM25F parameters (k1, per-field weight and b) on esci-us-150, with an honest estimate.

Protocol (``../shared/docs/benchmarks.md``, "Quality", items 1-3):

- Objective: retrieval-mode NDCG@10 on esci-us-150 (all 150 queries against the whole
  6,764-product catalog; ESCI gains ``E=1, S=0.1, C=0.01, I=0``).
- Search: coordinate ascent from the current defaults (``LexicalConfig()``, or ``--start CONFIG``) over a small grid:
  ``k1``, the title's ``b``, and the weight and ``b`` of brand, color, category, bullets,
  attributes and description. The title weight stays fixed at its default (3.0): scaling every
  weight by ``c`` is the same as dividing ``k1`` by ``c``, so one of them is redundant. Each
  round tries every grid value of every parameter in turn, keeping a change only when it
  improves the objective by more than ``--min-gain`` (ties keep the current value); rounds
  stop when one changes nothing, or after ``--rounds``. A few hundred configs per search.
  Fields with no text in the catalog (esci-us-150 has no ``attributes``) are left as they are.
- (a) the best config on all 150 queries (this is what the TOML snippet holds; its score is
  optimistic, it was selected on the same queries);
- (b) the held-out estimate: 5-fold cross-validation by query (a query's fold is its position
  among the sorted query ids modulo 5): the search is run on four folds, the config it picks is
  scored on the fifth; the mean over the five folds is the estimate to quote.
- Check: rerank-mode NDCG@10 (each query's judged products re-ranked) of the defaults vs the
  tuned config, on all 150 queries and held-out per fold.

Speed: tokenizing the catalog is the expensive part of building an index (~4 s here), and it
does not depend on the weights. So the catalog is tokenized once per field (exactly as
``LexicalRetriever.build`` does) and each config only recomputes the score matrix with the
*private* helpers ``shopmatch.retrieval.lexical._bm25f_matrix`` and ``_bm25s_model`` (~0.25 s per
config). Using private helpers is acceptable for a bench script; the script checks once at start
that this shortcut ranks exactly like ``SearchPipeline.build`` for the default config.

Usage::

    .venv/bin/python bench/experiments/tune_bm25.py                                  # search + CV + checks
    .venv/bin/python bench/experiments/tune_bm25.py --json bench/results/tune_bm25.json \\
        --toml-out bench/results/bm25-tuned.toml | tee bench/results/tune_bm25.md
    .venv/bin/python bench/experiments/tune_bm25.py --no-cv                          # the full-data search only

Markdown goes to stdout (machine header first); progress notes go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import data_dir, machine_header, machine_info, markdown_table, skip_if_missing  # noqa: E402

from shopmatch.backends.inprocess.products import MemoryProducts
from shopmatch.catalog import Product, read_catalog
from shopmatch.config import PipelineConfig
from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval
from shopmatch.eval.metrics import ranking_metrics
from shopmatch.judgments import GainMap, Judgments, read_judgments
from shopmatch.pipeline import SearchPipeline

# Private helpers: used on purpose so that each config costs a score matrix, not a re-tokenization.
from shopmatch.retrieval.lexical import FieldWeight, LexicalConfig, LexicalRetriever, _bm25f_matrix, _bm25s_model
from shopmatch.text.fields import FIELD_GETTERS, field_text

FIELDS = tuple(FIELD_GETTERS)  # title, brand, color, category, bullets, attributes, description
K1_GRID = (0.5, 0.75, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0)
WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
B_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
FOLDS = 5


def log(message: str) -> None:
    """A progress note on stderr (stdout holds only the report)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Parameters as a flat, hashable point: (k1, ((field, weight, b), ...)) in FIELDS order.

Point = tuple[float, tuple[tuple[str, float, float], ...]]


def point_of(config: LexicalConfig) -> Point:
    fields = tuple(
        (name, float(config.fields[name].weight), float(config.fields[name].b))
        if name in config.fields
        else (name, 0.0, 0.75)
        for name in FIELDS
    )
    return (float(config.k1), fields)


def config_of(point: Point, base: LexicalConfig) -> LexicalConfig:
    k1, fields = point
    return replace(base, k1=k1, fields={name: FieldWeight(weight, b) for name, weight, b in fields if weight > 0})


def with_param(point: Point, param: tuple[str, str], value: float) -> Point:
    """``point`` with one parameter changed: ``("k1", "")`` or ``(field, "weight" | "b")``."""
    k1, fields = point
    name, attr = param
    if name == "k1":
        return (value, fields)
    return (
        k1,
        tuple(
            (f, value if attr == "weight" else w, value if attr == "b" else b) if f == name else (f, w, b)
            for f, w, b in fields
        ),
    )


def get_param(point: Point, param: tuple[str, str]) -> float:
    k1, fields = point
    if param[0] == "k1":
        return k1
    for f, w, b in fields:
        if f == param[0]:
            return w if param[1] == "weight" else b
    raise KeyError(param)


def describe(point: Point) -> str:
    k1, fields = point
    parts = [f"k1={k1:g}"] + [f"{f}={w:g}/{b:g}" for f, w, b in fields if w > 0]
    return " ".join(parts)


def toml_snippet(config: LexicalConfig, header: Sequence[str] = ()) -> str:
    """The config as TOML for ``configs/bm25.toml`` (fields of weight 0 are left out = not indexed)."""
    lines = [f"# {h}" for h in header]
    lines += ["[lexical]", f"k1 = {config.k1:g}", "", "[lexical.fields]"]
    for name in FIELDS:
        fw = config.fields.get(name)
        if fw is not None and fw.weight > 0:
            lines.append(f"{name} = {{ weight = {fw.weight:g}, b = {fw.b:g} }}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Token cache and fast per-config evaluation.


@dataclass
class TokenCache:
    """Every field of every product tokenized once, as ``LexicalRetriever.build`` does it."""

    vocab: dict[str, int]
    rows: dict[str, list[int]]
    cols: dict[str, list[int]]
    num_docs: int

    @classmethod
    def build(cls, products: Sequence[Product], config: LexicalConfig) -> TokenCache:
        analyzer = config.analyzer()
        vocab: dict[str, int] = {}
        rows: dict[str, list[int]] = {name: [] for name in FIELDS}
        cols: dict[str, list[int]] = {name: [] for name in FIELDS}
        cache: dict[str, list[int]] = {}
        for row, product in enumerate(products):
            for name in FIELDS:
                text = field_text(product, name)
                if not text:
                    continue
                ids = cache.get(text)
                if ids is None:
                    ids = [vocab.setdefault(tok, len(vocab)) for tok in analyzer(text)]
                    if len(text) < 64:
                        cache[text] = ids
                rows[name].extend([row] * len(ids))
                cols[name].extend(ids)
        return cls(vocab, rows, cols, len(products))

    def non_empty_fields(self) -> list[str]:
        return [name for name in FIELDS if self.rows[name]]


class Tuner:
    """Scores configs on esci-us-150 (per-query NDCG@10, memoized) from a :class:`TokenCache`."""

    def __init__(self, products: Sequence[Product], judgments: Judgments, gains: GainMap, base: LexicalConfig) -> None:
        self.base = base
        self.judgments = judgments
        self.gains = gains
        self.store = MemoryProducts(products)
        self.tokens = TokenCache.build(products, base)
        self.query_ids = judgments.query_ids
        self.texts = [judgments.queries[q] for q in self.query_ids]
        self.qrels = judgments.qrels(gains)
        self.relevant = judgments.relevant(gains)
        self.memo: dict[Point, dict[str, float]] = {}

    def pipeline(self, config: LexicalConfig) -> SearchPipeline:
        """A pipeline equivalent to building a lexical-only ``PipelineConfig(lexical=config)``."""
        fields = {name: fw for name, fw in config.fields.items() if fw.weight > 0}
        scores, _ = _bm25f_matrix(
            self.tokens.num_docs, len(self.tokens.vocab), fields, self.tokens.rows, self.tokens.cols, config.k1
        )
        model = _bm25s_model(scores, self.tokens.vocab, self.tokens.num_docs, "numpy")
        return SearchPipeline(
            PipelineConfig(retrievers=("lexical",), lexical=config),
            self.store,
            {"lexical": LexicalRetriever(config, model)},
        )

    def per_query(self, point: Point) -> dict[str, float]:
        """Retrieval NDCG@10 of every query for one config (memoized)."""
        found = self.memo.get(point)
        if found is None:
            pipe = self.pipeline(config_of(point, self.base))
            run = dict(zip(self.query_ids, pipe.search_ids(self.texts, k=10), strict=True))
            found = ranking_metrics(self.qrels, self.relevant, run, ("ndcg@10",)).per_query["ndcg@10"]
            self.memo[point] = found
        return found

    def objective(self, point: Point, query_ids: Sequence[str]) -> float:
        values = self.per_query(point)
        return float(np.mean([values[q] for q in query_ids]))


@dataclass
class SearchResult:
    point: Point
    score: float
    evaluated: int
    trace: list[str]


def coordinate_ascent(
    tuner: Tuner,
    start: Point,
    query_ids: Sequence[str],
    params: Sequence[tuple[str, str]],
    grids: Mapping[tuple[str, str], Sequence[float]],
    *,
    rounds: int,
    min_gain: float,
) -> SearchResult:
    """Greedy one-parameter-at-a-time search over ``grids``, from ``start``."""
    seen: set[Point] = set()
    best, best_score = start, tuner.objective(start, query_ids)
    seen.add(best)
    trace = [f"start {best_score:.4f} {describe(best)}"]
    for round_no in range(1, rounds + 1):
        changed = False
        for param in params:
            if param[1] == "b" and get_param(best, (param[0], "weight")) == 0:
                continue  # b of an unused field does nothing
            for value in grids[param]:
                candidate = with_param(best, param, value)
                if candidate in seen:
                    continue
                seen.add(candidate)
                score = tuner.objective(candidate, query_ids)
                if score > best_score + min_gain:
                    best, best_score, changed = candidate, score, True
                    name = param[0] if param[0] == "k1" else f"{param[0]}.{param[1]}"
                    trace.append(f"round {round_no}: {name}={value:g} → {score:.4f}")
        if not changed:
            break
    return SearchResult(best, best_score, len(seen), trace)


def search_space(fields: Sequence[str]) -> tuple[list[tuple[str, str]], dict[tuple[str, str], Sequence[float]]]:
    params: list[tuple[str, str]] = [("k1", ""), ("title", "b")]
    for name in fields:
        if name != "title":
            params += [(name, "weight"), (name, "b")]
    grids: dict[tuple[str, str], Sequence[float]] = {("k1", ""): K1_GRID}
    for name, attr in params[1:]:
        grids[(name, attr)] = WEIGHT_GRID if attr == "weight" else B_GRID
    return params, grids


def rerank_per_query(tuner: Tuner, point: Point) -> dict[str, float]:
    result = evaluate_rerank(tuner.pipeline(config_of(point, tuner.base)), tuner.judgments, tuner.gains)
    return result.per_query["ndcg@10"]


def bootstrap_ci(values: Sequence[float], *, resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of ``values``."""
    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def mean_over(values: Mapping[str, float], query_ids: Sequence[str]) -> float:
    return float(np.mean([values[q] for q in query_ids]))


def check_shortcut(tuner: Tuner, products: Sequence[Product], config: LexicalConfig) -> bool:
    """The cached-token pipeline must rank exactly like a freshly built one."""
    fast = tuner.pipeline(config).search_ids(tuner.texts, k=100)
    built = SearchPipeline.build(products, PipelineConfig(retrievers=("lexical",), lexical=config)).search_ids(
        tuner.texts, k=100
    )
    same_ids = all([p for p, _ in a] == [p for p, _ in b] for a, b in zip(fast, built, strict=True))
    close = all(np.allclose([s for _, s in a], [s for _, s in b], rtol=1e-5) for a, b in zip(fast, built, strict=True))
    return same_ids and close


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (default: ../shared/data)")
    parser.add_argument("--rounds", type=int, default=3, help="coordinate-ascent rounds at most (default 3)")
    parser.add_argument("--min-gain", type=float, default=1e-4, help="smallest NDCG@10 gain that moves a parameter")
    parser.add_argument("--no-cv", action="store_true", help="skip the 5-fold cross-validation")
    parser.add_argument(
        "--start",
        type=Path,
        help="start from this pipeline config (TOML) instead of the built-in defaults; "
        "e.g. configs/bm25-untuned.toml to measure what tuning is worth held out",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--toml-out", type=Path, help="write the tuned config (TOML) here")
    args = parser.parse_args(argv)

    folder = (args.data or data_dir()) / "esci-us-150"
    info = machine_info()
    print("# BM25F tuning on esci-us-150 (retrieval NDCG@10)\n")
    print("\n".join(machine_header(info)) + "\n")
    if not skip_if_missing(folder, "esci-us-150"):
        return 0

    started = time.perf_counter()
    products = read_catalog(folder / "products.jsonl").products
    judgments = read_judgments(folder / "judgments.tsv")
    gains = GainMap.esci()
    base = PipelineConfig.from_toml(args.start).lexical if args.start else LexicalConfig()
    log("tokenizing the catalog once …")
    tuner = Tuner(products, judgments, gains, base)
    if not check_shortcut(tuner, products, base):
        raise SystemExit("the cached-token shortcut does not match SearchPipeline.build; the tuning would be wrong")
    log(f"shortcut verified against SearchPipeline.build ({time.perf_counter() - started:.1f} s)")

    fields = tuner.tokens.non_empty_fields()
    params, grids = search_space(fields)
    start = point_of(base)
    all_ids = tuner.query_ids

    # (a) the full-data search
    t0 = time.perf_counter()
    full = coordinate_ascent(tuner, start, all_ids, params, grids, rounds=args.rounds, min_gain=args.min_gain)
    full_seconds = time.perf_counter() - t0
    log(f"full-data search: {full.evaluated} configs, {full_seconds:.0f} s, NDCG@10 {full.score:.4f}")
    tuned = config_of(full.point, base)

    # Full metrics (all four retrieval metrics + rerank) of defaults vs tuned, all 150 queries.
    rows_a = []
    summary: dict[str, dict[str, float]] = {}
    for label, config in (
        (f"start: {args.start}" if args.start else "defaults (LexicalConfig())", base),
        ("tuned on all 150 queries", tuned),
    ):
        pipe = tuner.pipeline(config)
        retrieval = evaluate_retrieval(pipe, judgments, gains).metrics
        rerank = evaluate_rerank(pipe, judgments, gains).metrics
        summary[label] = {**{f"retrieval_{k}": v for k, v in retrieval.items()}, "rerank_ndcg@10": rerank["ndcg@10"]}
        rows_a.append(
            [
                label,
                retrieval["ndcg@10"],
                retrieval["mrr@10"],
                retrieval["recall@100"],
                retrieval["map@100"],
                rerank["ndcg@10"],
            ]
        )

    # (b) 5-fold CV by query
    fold_of = {q: i % FOLDS for i, q in enumerate(all_ids)}
    cv_rows: list[list[Any]] = []
    cv_json: list[dict[str, Any]] = []
    means: dict[str, float] = {}
    held_out_delta: dict[str, float] = {}  # query → tuned − defaults, each query under its own fold's config
    if not args.no_cv:
        rerank_default = rerank_per_query(tuner, start)
        for fold in range(FOLDS):
            train = [q for q in all_ids if fold_of[q] != fold]
            test = [q for q in all_ids if fold_of[q] == fold]
            t0 = time.perf_counter()
            found = coordinate_ascent(tuner, start, train, params, grids, rounds=args.rounds, min_gain=args.min_gain)
            rerank_tuned = rerank_per_query(tuner, found.point)
            tuned_pq, default_pq = tuner.per_query(found.point), tuner.per_query(start)
            held_out_delta.update({q: tuned_pq[q] - default_pq[q] for q in test})
            record = {
                "fold": fold,
                "train_queries": len(train),
                "test_queries": len(test),
                "configs_evaluated": found.evaluated,
                "config": describe(found.point),
                "train_ndcg@10_tuned": found.score,
                "test_ndcg@10_default": tuner.objective(start, test),
                "test_ndcg@10_tuned": tuner.objective(found.point, test),
                "test_rerank_ndcg@10_default": mean_over(rerank_default, test),
                "test_rerank_ndcg@10_tuned": mean_over(rerank_tuned, test),
            }
            cv_json.append(record)
            log(
                f"fold {fold}: {found.evaluated} configs, {time.perf_counter() - t0:.0f} s, "
                f"test {record['test_ndcg@10_default']:.4f} → {record['test_ndcg@10_tuned']:.4f}"
            )
        keys = [k for k in cv_json[0] if k.startswith(("train_ndcg", "test_"))]
        means = {k: float(np.mean([r[k] for r in cv_json])) for k in keys}
        for r in cv_json:
            cv_rows.append(
                [
                    r["fold"],
                    r["train_ndcg@10_tuned"],
                    r["test_ndcg@10_default"],
                    r["test_ndcg@10_tuned"],
                    r["test_ndcg@10_tuned"] - r["test_ndcg@10_default"],
                    r["test_rerank_ndcg@10_default"],
                    r["test_rerank_ndcg@10_tuned"],
                    r["config"],
                ]
            )
        cv_rows.append(
            [
                "**mean**",
                means["train_ndcg@10_tuned"],
                means["test_ndcg@10_default"],
                means["test_ndcg@10_tuned"],
                means["test_ndcg@10_tuned"] - means["test_ndcg@10_default"],
                means["test_rerank_ndcg@10_default"],
                means["test_rerank_ndcg@10_tuned"],
                "",
            ]
        )

    # ---- report
    missing = ", ".join(f for f in FIELDS if f not in fields) or "none"
    print(
        f"Coordinate ascent from the defaults, at most {args.rounds} rounds; grids: k1 {list(K1_GRID)}, "
        f"weight {list(WEIGHT_GRID)}, b {list(B_GRID)}; title weight fixed at "
        f"{base.fields['title'].weight:g} (scaling every weight by c is the same as dividing k1 by c). "
        f"Fields without text in this catalog, left as they are: {missing}. "
        f"Gains E=1, S=0.1, C=0.01, I=0; MRR counts E, Recall counts E+S.\n"
    )
    print("## (a) Best config on all 150 queries (selected on the same queries: optimistic)\n")
    print(markdown_table(["config", "NDCG@10 retrieval", "MRR@10", "Recall@100", "MAP@100", "NDCG@10 rerank"], rows_a))
    print(f"\n{full.evaluated} configs evaluated in {full_seconds:.0f} s. Path:\n")
    print("\n".join(f"- {line}" for line in full.trace))
    header = [
        "Tuned on esci-us-150 retrieval NDCG@10 by bench/experiments/tune_bm25.py",
        f"(all 150 queries: {full.score:.4f} vs defaults {tuner.objective(start, all_ids):.4f}; "
        + (
            f"5-fold CV held-out: {means['test_ndcg@10_tuned']:.4f} vs {means['test_ndcg@10_default']:.4f})"
            if cv_json
            else "no CV run)"
        ),
        "Fields left out are not indexed.",
    ]
    snippet = toml_snippet(tuned, header)
    print("\nTOML for `configs/bm25.toml`:\n\n```toml\n" + snippet + "```\n")
    if cv_json:
        print("## (b) Held-out estimate: 5-fold CV by query (fold = position in sorted query ids mod 5)\n")
        print(
            markdown_table(
                [
                    "fold",
                    "train NDCG@10 (tuned)",
                    "test NDCG@10 defaults",
                    "test NDCG@10 tuned",
                    "Δ",
                    "test rerank defaults",
                    "test rerank tuned",
                    "config picked on the 4 training folds (field=weight/b)",
                ],
                cv_rows,
            )
        )
        print(
            f"\nHeld-out retrieval NDCG@10 of tuning: **{means['test_ndcg@10_tuned']:.4f}** "
            f"(defaults on the same folds: {means['test_ndcg@10_default']:.4f}; "
            f"Δ {means['test_ndcg@10_tuned'] - means['test_ndcg@10_default']:+.4f}). "
            f"Rerank NDCG@10 held-out: {means['test_rerank_ndcg@10_tuned']:.4f} "
            f"vs defaults {means['test_rerank_ndcg@10_default']:.4f}."
        )
        low, high = bootstrap_ci(list(held_out_delta.values()))
        wins = sum(d > 1e-9 for d in held_out_delta.values())
        losses = sum(d < -1e-9 for d in held_out_delta.values())
        print(
            f"\nPer held-out query (each scored under the config tuned without it): mean Δ "
            f"{np.mean(list(held_out_delta.values())):+.4f}, 95% paired-bootstrap CI [{low:+.4f}, {high:+.4f}] "
            f"(10,000 resamples of the {len(held_out_delta)} queries); better on {wins}, worse on {losses}, "
            f"unchanged on {len(held_out_delta) - wins - losses}."
        )
    print(f"\nTotal time {time.perf_counter() - started:.0f} s; {len(tuner.memo)} distinct configs scored.")

    if args.toml_out:
        args.toml_out.parent.mkdir(parents=True, exist_ok=True)
        args.toml_out.write_text(snippet, encoding="utf-8")
        log(f"wrote {args.toml_out}")
    if args.json:
        out: dict[str, Any] = {
            "machine": info,
            "grids": {"k1": K1_GRID, "weight": WEIGHT_GRID, "b": B_GRID},
            "rounds": args.rounds,
            "full": {
                "config": config_of(full.point, base).to_dict(),
                "ndcg@10": full.score,
                "configs_evaluated": full.evaluated,
                "trace": full.trace,
                "metrics": summary,
            },
            "cv": {"folds": cv_json, "mean": means, "held_out_delta_per_query": held_out_delta} if cv_json else None,
            "toml": snippet,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=_jsonable), encoding="utf-8")
        log(f"wrote {args.json}")
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


if __name__ == "__main__":
    raise SystemExit(main())
