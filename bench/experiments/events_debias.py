"""Why do events-trained rankers gain less with more sessions, and which change fixes it?

A study on the **inner split of the Home Depot training sample only** (the 1,500 train queries of
``bench/events_learning.py`` split 80/20 as its ``selection`` does; Home Depot dev takes no part):
events are simulated for the 1,200, every variant is trained on them and scored with the true
judgments of the other 300 (their found top 100, features as in training).

Diagnostics per number of sessions: how well the shown rows' grades agree with the true labels,
the importance of the rank and event features, how much of the pipeline's top 10 each ranker
keeps, and two bounds: the ranker trained on the *true* judgments of the shown top 10 only (the
not-shown candidates at grade 0, as events give them), and the ceiling (true judgments of the top
100 and every judged product).

Features come from the cache of ``bench/events_learning.py`` (run it once first, e.g. with
``--skip-esci --skip-selection --only-selection``).

**Selection mode** (``--folds K``): the robust protocol that chooses the events trainer's default
(``docs/experiments/2026-12-07-events-selection.md``). The 1,500 training queries split into K folds
(seeded; fold 0 is the 80/20 split above); for every fold, simulation seed (``--sim-seeds``) and
number of sessions, events are simulated for the other K − 1 folds, each of :data:`CV_CANDIDATES`
is trained on them (``train_from_events``'s defaults) and scored on the held-out fold's true
judgments, with the untrained pipeline and the fold's ceiling (true judgments of the K − 1 folds).
:data:`SELECTION_RULE` picks the default; cells are cached under ``bench/data/events-learning/``,
so a stopped run resumes.

Usage::

    python bench/experiments/events_debias.py --homedepot-index /work/cache/homedepot-default \\
        [--sessions 10 30 100] [--variants NAME ...] [--md bench/results/events_debias_inner.md]
    python bench/experiments/events_debias.py --homedepot-index /work/cache/homedepot-default \\
        --folds 5 --sim-seeds 0 1 2 --md bench/results/events_selection_cv.md \\
        --json bench/results/events_selection_cv.json
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import events_learning as el  # noqa: E402
from _common import (  # noqa: E402
    REPO_ROOT,
    data_dir,
    machine_header,
    markdown_table,
    significance_columns,
    write_json,
)

from shopmatch.events.model import query_key  # noqa: E402
from shopmatch.judgments import GainMap, read_judgments  # noqa: E402
from shopmatch.rank.event_features import EVENT_FEATURE_NAMES  # noqa: E402
from shopmatch.rank.features import FEATURE_NAMES, FEATURE_VERSION  # noqa: E402
from shopmatch.rank.from_events import event_ranking_data, train_from_events  # noqa: E402
from shopmatch.rank.model import Ranker  # noqa: E402
from shopmatch.rank.selection import MONOTONE  # noqa: E402

ALL = (*FEATURE_NAMES, *EVENT_FEATURE_NAMES)
RANKS = tuple(n for n in FEATURE_NAMES if n.endswith("_rank"))
BASE_COLS = list(range(len(FEATURE_NAMES)))
CAUTIOUS = {"num_leaves": 7, "min_data_in_leaf": 50, "lambda_l2": 10.0}


class Sliced:
    """A ranker reading some of the columns (base features, then event features when ``events``)."""

    def __init__(self, ranker: Ranker, columns: Sequence[int], events) -> None:
        self.ranker, self.columns = ranker, list(columns)
        self.groups = (events,) if events is not None else ()

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.ranker.predict(features[:, self.columns])


def fit(data, labels=None, *, columns=None, events=True, weights=None, monotone=False, base=None, **params):
    """LambdaMART on ``data``'s rows (``labels`` instead of its own), 100 rounds as the default trainer."""
    if columns is None:
        columns = list(range(len(ALL))) if events else BASE_COLS
    names = [ALL[c] for c in columns]
    ranker = Ranker.train(
        data.features[:, columns],
        data.labels if labels is None else labels,
        data.groups,
        names,
        rounds=params.pop("rounds", 100),
        seed=0,
        feature_version=FEATURE_VERSION,
        weights=weights,
        monotone=MONOTONE if monotone else None,
        base=base,
        **params,
    )
    uses_events = any(c >= len(FEATURE_NAMES) for c in columns)
    return Sliced(ranker, columns, data.events if uses_events else None)


def shown_mask(data) -> np.ndarray:
    return data.positions < 10


def variants(data, true_labels, naive, pbm):
    """name -> a function building the ranker (lazily, so --variants can pick)."""
    unshown = ~shown_mask(data)
    no_ranks = [i for i, n in enumerate(FEATURE_NAMES) if n not in RANKS]
    events = list(range(len(FEATURE_NAMES), len(ALL)))

    def weighted(w):
        return np.where(unshown, w, 1.0)

    return {
        "naive click-through (ctr labels)": lambda: fit(naive),
        "PBM labels (as shipped)": lambda: fit(pbm),
        "COEC labels (as shipped)": lambda: fit(data),
        "COEC, no event features": lambda: fit(data, events=False),
        "COEC, no rank features": lambda: fit(data, columns=no_ranks + events),
        "COEC, no event or rank features": lambda: fit(data, columns=no_ranks),
        "COEC, monotone": lambda: fit(data, monotone=True),
        "COEC, not shown weight 0.1": lambda: fit(data, weights=weighted(0.1)),
        "COEC, 7 leaves, L2 10, min leaf 50": lambda: fit(data, **CAUTIOUS),
        "COEC, correcting the fused order": lambda: fit(data, base="fused_rank", **CAUTIOUS),
        "COEC, correcting fused, monotone": lambda: fit(data, base="fused_rank", monotone=True, **CAUTIOUS),
        "COEC, correcting fused, no event features": lambda: fit(data, base="fused_rank", events=False, **CAUTIOUS),
        "COEC, monotone, no event features": lambda: fit(data, monotone=True, events=False),
        "COEC, monotone, cautious, no event features": lambda: fit(data, monotone=True, events=False, **CAUTIOUS),
        "naive, monotone, cautious, no event features": lambda: fit(naive, monotone=True, events=False, **CAUTIOUS),
        "PBM, monotone, cautious, no event features": lambda: fit(pbm, monotone=True, events=False, **CAUTIOUS),
        "COEC, no rank features, cautious": lambda: fit(data, columns=no_ranks + events, **CAUTIOUS),
        "COEC, no rank features, monotone": lambda: fit(data, columns=no_ranks + events, monotone=True),
        "COEC, no rank features, monotone, cautious": lambda: fit(
            data, columns=no_ranks + events, monotone=True, **CAUTIOUS
        ),
        "COEC, no event or rank features, cautious": lambda: fit(data, columns=no_ranks, **CAUTIOUS),
        "COEC, no event or rank features, monotone, cautious": lambda: fit(
            data, columns=no_ranks, monotone=True, **CAUTIOUS
        ),
        "naive, no rank features": lambda: fit(naive, columns=no_ranks + events),
        "PBM, no rank features": lambda: fit(pbm, columns=no_ranks + events),
        "bound: true labels of the shown rows, no rank features": lambda: fit(
            data, true_labels, columns=no_ranks + events
        ),
        "bound: true labels of the shown rows (+ not shown at 0)": lambda: fit(data, true_labels),
        "bound: true labels of the shown rows, monotone, cautious, no event features": lambda: fit(
            data, true_labels, monotone=True, events=False, **CAUTIOUS
        ),
        "bound: true labels of the shown rows only (no not-shown rows)": lambda: fit(
            data.subset_rows(shown_mask(data)), true_labels[shown_mask(data)]
        ),
    }


def trainer_variants(log, features_of):
    """The corrections and label grades under the chosen trainer (``train_from_events``'s defaults)."""
    from shopmatch.rank.from_events import train_from_events

    def build(debias, model, grades=5, **options):
        data = event_ranking_data(log, features_of, debias=debias, label_model=model, grades=grades)
        return train_from_events(data, **options)

    return {
        "new trainer: naive click-through": lambda: build("none", "ctr"),
        "new trainer: PBM labels": lambda: build("click-model", "pbm"),
        "new trainer: COEC labels (the default)": lambda: build("click-model", "coec"),
        "new trainer: position-debiased LambdaMART": lambda: build("position", "ctr"),
        "new trainer: inverse-propensity weights": lambda: build("ipw", "ctr"),
        "new trainer: COEC labels, 10 grades": lambda: build("click-model", "coec", grades=10),
        "new trainer: COEC labels, linear label gain": lambda: build(
            "click-model", "coec", label_gain=[0.0, 1.0, 2.0, 3.0, 4.0]
        ),
    }


def subset_rows(data, mask):
    """The rows of ``mask`` (groups shrink; empty groups dropped), same table."""
    starts = np.concatenate([[0], np.cumsum(data.groups)])
    groups = [int(mask[a:b].sum()) for a, b in zip(starts[:-1], starts[1:], strict=True)]
    out = type(data)(
        [q for q, g in zip(data.query_ids, groups, strict=True) if g],
        data.features[mask],
        data.labels[mask],
        [g for g in groups if g],
        positions=data.positions[mask],
        weights=data.weights[mask],
        propensities=data.propensities,
        events=data.events,
        facts=data.facts,
    )
    return out


def row_ids(log, fit_queries, found, unshown=90):
    """The product id of each row of ``event_ranking_data`` (same lookup), by query key."""
    lookup = el.features_lookup(fit_queries, found)
    seen: dict[str, list[str]] = {}

    def features_of(text, wanted):
        ids, rows = lookup(text, wanted)
        seen[query_key(text)] = ids
        return ids, rows

    return features_of, seen


def true_grades(data, seen, fit_queries) -> np.ndarray:
    """Each row's grade from the true judgments (shown rows), 0 for the not-shown rows."""
    by_key = {query_key(t.text): t for t in fit_queries.values()}
    out = []
    for qid, size in zip(data.query_ids, data.groups, strict=True):
        key = qid.split("\t")[0]
        t = by_key[key]
        grade_of = dict(zip(t.ids, t.grades.tolist(), strict=True))
        out.extend(grade_of.get(p, 0) for p in seen[key][:size])
    labels = np.asarray(out, dtype=np.int32)
    labels[~shown_mask(data)] = 0
    return labels


def overlap_at_10(ranker, tests) -> float:
    """Mean share of the pipeline's top 10 the ranker keeps in its top 10."""
    shares = []
    for t in tests.values():
        if not len(t.ids):
            continue
        n = len(t.ids)
        features = t.features
        if ranker.groups:
            features = np.hstack([features, *(g.values(t.ids) for g in ranker.groups)])
        top = np.argsort(-ranker.predict(features), kind="stable")[:10]
        shares.append(len(set(top.tolist()) & set(range(min(10, n)))) / min(10, n))
    return float(np.mean(shares))


def label_diagnostics(data, true_labels) -> dict:
    shown = shown_mask(data)
    g, t = data.labels[shown], true_labels[shown]
    from scipy.stats import spearmanr

    return {
        "shown rows": int(shown.sum()),
        "shown rows at grade 0": float((g == 0).mean()),
        "grade counts (shown)": np.bincount(g, minlength=5).tolist(),
        "spearman(grade, true) on shown rows": float(spearmanr(g, t).statistic),
    }


def importance_shares(ranker) -> dict:
    imp = ranker.ranker.importances() if isinstance(ranker, Sliced) else ranker.importances()
    total = sum(imp.values()) or 1.0
    return {
        "rank features": round(sum(v for k, v in imp.items() if k in RANKS) / total, 3),
        "event features": round(sum(v for k, v in imp.items() if k in EVENT_FEATURE_NAMES) / total, 3),
        "top 3": list(imp)[:3],
    }


CV_CANDIDATES = {
    "naive click-through": ("none", "ctr"),
    "PBM labels": ("click-model", "pbm"),
    "COEC labels (the current default)": ("click-model", "coec"),
    "position-debiased LambdaMART": ("position", "ctr"),
    "inverse-propensity weights": ("ipw", "ctr"),
    "COEC labels + position-debiased LambdaMART": ("position", "coec"),
}
"""The candidates of the selection mode: name -> (debias, label model), each trained with
``train_from_events``'s defaults (no rank features, monotone, 7 leaves, min leaf 50, L2 10). Fixed
before the run (``docs/experiments/2026-12-07-events-selection.md``)."""
INCUMBENT = "COEC labels (the current default)"
NAIVE = "naive click-through"
SELECTION_RULE = (
    "the candidate with the best mean share of the ceiling's gain over the 9 (simulation seed × sessions) "
    "cells (each cell: NDCG@10 of the 1,500 training queries, each scored in the fold that held it out) "
    "becomes the default if its per-query NDCG@10 averaged over the 9 cells is above the current "
    "default's (COEC labels) with paired randomization p < 0.05; otherwise COEC labels stay"
)
"""How the selection mode chooses (fixed before the run)."""


def fold_sets(queries, k: int) -> list[set[str]]:
    """``k`` folds of the training queries (seeded shuffle as the 80/20 split: fold 0 is its 20 %)."""
    qs = sorted(queries)
    random.Random(1).shuffle(qs)
    return [set(qs[i * len(qs) // k : (i + 1) * len(qs) // k]) for i in range(k)]


def candidate_rankers(log, features_of, candidates=CV_CANDIDATES):
    """name -> ranker from ``log``; one training table per label model (the corrections differ only
    in what ``train_from_events`` reads of it: weights for ``ipw``, positions for ``position``)."""
    tables, out = {}, {}
    for name, (debias, model) in candidates.items():
        if model not in tables:
            tables[model] = event_ranking_data(log, features_of, debias="ipw", label_model=model)
        table = tables[model]
        out[name] = train_from_events(dataclasses.replace(table, facts={**table.facts, "debias": debias}))
    return out


def cross_validate(args, train, found, judged, gains, started) -> dict:
    """Per-query NDCG@10 of every candidate, the untrained pipeline and the ceiling, by (seed, sessions)
    over the held-out folds; and each (fold, seed, sessions) cell's means."""
    key = f"{args.homedepot_index}|{FEATURE_VERSION}|{FEATURE_NAMES}|{sorted(train)}|{list(CV_CANDIDATES.items())}"
    pooled: dict = {}
    cells: list[dict] = []
    for f, held in enumerate(fold_sets(train, args.folds)):
        fit = {q: t for q, t in train.items() if q not in held}
        tests = el.as_eval({q: t for q, t in train.items() if q in held}, found)
        fixed = el._cached(
            "cv-fixed",
            f"{key}|{args.folds}|{f}",
            lambda fit=fit, tests=tests: {
                "untrained pipeline": el.ranked_ndcg(None, tests, judged, gains),
                "ceiling: true judgments": el.ranked_ndcg(el.ceiling(fit), tests, judged, gains),
            },
        )
        for seed in args.sim_seeds:
            for sessions in args.sessions:

                def run(fit=fit, tests=tests, seed=seed, sessions=sessions):
                    log = el.simulated_log(fit, found, judged, gains, sessions, 1.0, seed=seed)
                    rankers = candidate_rankers(log, el.features_lookup(fit, found))
                    return {name: el.ranked_ndcg(r, tests, judged, gains) for name, r in rankers.items()}

                rows = {**fixed, **el._cached("cv-cell", f"{key}|{args.folds}|{f}|{seed}|{sessions}", run)}
                for name, per_query in rows.items():
                    pooled.setdefault((seed, sessions), {}).setdefault(name, {}).update(per_query)
                cells.append(
                    {
                        "fold": f,
                        "seed": seed,
                        "sessions": sessions,
                        "queries": len(tests),
                        "ndcg@10": {n: float(np.mean(list(v.values()))) for n, v in rows.items()},
                    }
                )
                print(
                    f"fold {f}, seed {seed}, {sessions} sessions: "
                    + ", ".join(f"{n} {v:.4f}" for n, v in cells[-1]["ndcg@10"].items())
                    + f" ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
    return {"pooled": pooled, "cells": cells}


def share(row: float, base: float, top: float) -> float:
    return (row - base) / (top - base) if top != base else float("nan")


def selection_report(cv: dict, seeds, levels) -> tuple[list[str], dict]:
    """The inner tables (mean and spread over folds × seeds), the paired tests and the choice."""
    base, top = "untrained pipeline", "ceiling: true judgments"
    pooled, cells = cv["pooled"], cv["cells"]
    mean = {k: {n: float(np.mean(list(v.values()))) for n, v in rows.items()} for k, rows in pooled.items()}
    shares = {n: {k: share(m[n], m[base], m[top]) for k, m in mean.items()} for n in CV_CANDIDATES}
    md, out = [], {"rule": SELECTION_RULE, "levels": {}}
    qids = sorted(pooled[(seeds[0], levels[0])][base])

    def averaged(name, keys):
        return {q: float(np.mean([pooled[k][name][q] for k in keys])) for q in qids}

    for sessions in levels:
        keys = [(s, sessions) for s in seeds]
        per_q = {n: averaged(n, keys) for n in (base, top, *CV_CANDIDATES)}
        lines, records = [], []
        for name in (base, *CV_CANDIDATES, top):
            fold_shares = [
                share(c["ndcg@10"][name], c["ndcg@10"][base], c["ndcg@10"][top])
                for c in cells
                if c["sessions"] == sessions
            ]
            fold_deltas = [c["ndcg@10"][name] - c["ndcg@10"][base] for c in cells if c["sessions"] == sessions]
            seed_shares = [shares[name][k] for k in keys] if name in CV_CANDIDATES else []
            vs_naive = (
                significance_columns(per_q[NAIVE], per_q[name]) if name in CV_CANDIDATES and name != NAIVE else []
            )
            vs_inc = (
                significance_columns(per_q[INCUMBENT], per_q[name])
                if name in CV_CANDIDATES and name != INCUMBENT
                else []
            )
            nd = float(np.mean([mean[k][name] for k in keys]))
            lines.append(
                [
                    name,
                    f"{nd:.4f}",
                    f"{np.mean(seed_shares):.0%}" if seed_shares else "",
                    " / ".join(f"{v:.0%}" for v in seed_shares),
                    f"{np.mean(fold_deltas):+.4f} ± {np.std(fold_deltas, ddof=1):.4f}" if name != base else "",
                    f"{np.median(fold_shares):.0%} [{min(fold_shares):.0%}, {max(fold_shares):.0%}]"
                    if name != base
                    else "",
                    f"{vs_naive[0]}, p {vs_naive[2]}, {vs_naive[4]}" if vs_naive else "",
                    f"{vs_inc[0]}, p {vs_inc[2]}, {vs_inc[4]}" if vs_inc else "",
                ]
            )
            records.append(
                {
                    "system": name,
                    "ndcg@10": nd,
                    "share_by_seed": seed_shares,
                    "delta_by_fold_seed": fold_deltas,
                    "share_by_fold_seed": fold_shares,
                    "vs_naive": vs_naive,
                    "vs_incumbent": vs_inc,
                }
            )
        out["levels"][sessions] = records
        headers = [
            "system",
            "NDCG@10 (mean of seeds)",
            "share of ceiling's gain",
            "share by seed",
            "Δ vs untrained, mean ± sd over folds × seeds",
            "share per fold × seed: median [min, max]",
            "vs naive (per-query mean of seeds): Δ, p, better/worse",
            "vs COEC: Δ, p, better/worse",
        ]
        md += [f"### {sessions} sessions per query, θ = 1", "", markdown_table(headers, lines), ""]

    all_keys = [(s, n) for s in seeds for n in levels]
    overall = {n: float(np.mean([shares[n][k] for k in all_keys])) for n in CV_CANDIDATES}
    best = max(overall, key=overall.get)
    per_all = {n: averaged(n, all_keys) for n in CV_CANDIDATES}
    from shopmatch.eval.significance import compare_paired

    test = compare_paired(per_all[INCUMBENT], per_all[best]) if best != INCUMBENT else None
    chosen = best if test is not None and test.delta > 0 and test.p_value < 0.05 else INCUMBENT
    lines = []
    for name in sorted(overall, key=overall.get, reverse=True):
        cols = significance_columns(per_all[INCUMBENT], per_all[name]) if name != INCUMBENT else [""] * 5
        naive_cols = significance_columns(per_all[NAIVE], per_all[name]) if name != NAIVE else [""] * 5
        lines.append([name, f"{overall[name]:.0%}", cols[0], cols[2], cols[4], naive_cols[0], naive_cols[2]])
    md += [
        "### All 9 cells (3 seeds × 3 session levels): the selection",
        "",
        markdown_table(
            [
                "system",
                "mean share of ceiling's gain",
                "vs COEC Δ",
                "vs COEC p",
                "vs COEC better/worse",
                "vs naive Δ",
                "vs naive p",
            ],
            lines,
        ),
        "",
        f"Rule: {SELECTION_RULE}.",
        "",
        f"**Best mean share: {best}; chosen: {chosen}**"
        + (f" (vs COEC Δ {test.delta:+.4f}, p {test.p_value:.4f})." if test is not None else "."),
        "",
    ]
    out.update({"mean_share": overall, "best": best, "chosen": chosen})
    return md, out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--homedepot-index", type=Path, default=el.CACHE / "homedepot-default")
    parser.add_argument("--train-queries", type=int, default=1500)
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--train-features", choices=("search", "rerank"), default="search")
    parser.add_argument("--variants", nargs="*", default=None, help="only these (substring match)")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "bench" / "results" / "events_debias_inner.json")
    parser.add_argument("--md", type=Path, default=REPO_ROOT / "bench" / "results" / "events_debias_inner.md")
    parser.add_argument("--folds", type=int, default=0, help="selection mode: K folds of the training queries")
    parser.add_argument("--sim-seeds", type=int, nargs="+", default=[0], help="selection mode: simulation seeds")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    gains = GainMap.parse("offset=1")
    hd = read_judgments(data_dir() / "homedepot" / "judgments.tsv", gains=gains)
    ids = sorted(hd.query_ids)
    train_ids = [q for i, q in enumerate(ids) if i % 10]
    train_ids = sorted(random.Random(0).sample(train_ids, args.train_queries))
    key = f"{args.homedepot_index}|{FEATURE_VERSION}|{FEATURE_NAMES}|"
    main_module = sys.modules["__main__"]  # the cache pickles events_learning's classes as __main__'s
    main_module.TrainQuery, main_module.EvalQuery = el.TrainQuery, el.EvalQuery
    missing = lambda: (_ for _ in ()).throw(SystemExit("run bench/events_learning.py first (features cache)"))  # noqa: E731
    if args.train_features == "rerank":
        train = el._cached("hd-train", key + ",".join(train_ids), missing)
    else:
        pipeline = el.SearchPipeline.load(args.homedepot_index)
        train = el.hd_train(pipeline, hd, gains, train_ids, key, "search")
    found = el._cached("hd-found", key + ",".join(train_ids), missing)
    if args.folds:
        return select(args, train, found, hd, gains, started)
    qs = sorted(train)
    random.Random(1).shuffle(qs)  # the split of events_learning.selection
    held = set(qs[: len(qs) // 5])
    fit_queries = {q: t for q, t in train.items() if q not in held}
    tests = el.as_eval({q: t for q, t in train.items() if q in held}, found)
    untrained = el.ranked_ndcg(None, tests, hd, gains)
    ceiling = el.ceiling(fit_queries)
    ceiling_row = el.ranked_ndcg(ceiling, tests, hd, gains)
    md = [
        "# Events rankers on the inner split of the Home Depot training sample",
        "",
        *machine_header(),
        "",
        f"{len(fit_queries)} queries' events, {len(tests)} held-out training queries judged; dev takes no part.",
        "",
    ]
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    for sessions in args.sessions:
        log = el.simulated_log(fit_queries, found, hd, gains, sessions, 1.0)
        features_of, seen = row_ids(log, fit_queries, found)
        data = event_ranking_data(log, features_of, debias="click-model", label_model="coec")
        data.subset_rows = lambda mask, d=data: subset_rows(d, mask)
        naive = event_ranking_data(log, features_of, debias="none", label_model="ctr")
        pbm = event_ranking_data(log, features_of, debias="click-model", label_model="pbm")
        true_labels = true_grades(data, seen, fit_queries)
        diagnostics = {
            "COEC": label_diagnostics(data, true_labels),
            "PBM": label_diagnostics(pbm, true_labels),
            "ctr": label_diagnostics(naive, true_labels),
        }
        rows = {"untrained pipeline": untrained}
        extra = {}
        candidates = {**variants(data, true_labels, naive, pbm), **trainer_variants(log, features_of)}
        for name, build in candidates.items():
            if args.variants and not any(v in name for v in args.variants):
                continue
            ranker = build()
            rows[name] = el.ranked_ndcg(ranker, tests, hd, gains)
            extra[name] = {"overlap@10": overlap_at_10(ranker, tests), **importance_shares(ranker)}
            print(
                f"{sessions} sessions, {name}: {np.mean(list(rows[name].values())):.4f} "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        rows["ceiling: true judgments"] = ceiling_row
        extra["ceiling: true judgments"] = {"overlap@10": overlap_at_10(ceiling, tests), **importance_shares(ceiling)}
        naive_name = "naive click-through (ctr labels)" if "naive click-through (ctr labels)" in rows else None
        text, records = el.table(rows, "untrained pipeline", naive_name, "ceiling: true judgments")
        for r in records:
            r.update(extra.get(r["system"], {}))
        results[f"inner-{sessions}"] = {"rows": records, "labels": diagnostics}
        diag = "\n".join(f"- {k}: {v}" for k, v in diagnostics.items())
        keep = "\n".join(
            f"| {k} | {v['overlap@10']:.2f} | {v['rank features']:.2f} | {v['event features']:.2f} "
            f"| {', '.join(v['top 3'])} |"
            for k, v in extra.items()
        )
        md += [
            f"## {sessions} sessions per query, θ = 1 ({log.summary()})",
            "",
            text,
            "",
            "Labels of the shown rows against the true grades:",
            "",
            diag,
            "",
            "| system | share of the pipeline's top 10 kept | importance: rank features | event features | top 3 |",
            "|---|---|---|---|---|",
            keep,
            "",
        ]
        print(f"\n{text}\n{diag}\n{keep}\n", flush=True)
        write_json(args.json, results)
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text("\n".join(md) + "\n", encoding="utf-8")
    md.append(f"Took {time.perf_counter() - started:.0f} s on the loaded 2-core machine.")
    args.md.write_text("\n".join(md) + "\n", encoding="utf-8")
    return 0


def select(args, train, found, judged, gains, started) -> int:
    """The selection mode: K-fold cross-validation over the training queries × simulation seeds."""
    cv = cross_validate(args, train, found, judged, gains, started)
    text, chosen = selection_report(cv, args.sim_seeds, args.sessions)
    md = [
        "# Choosing the events trainer's default: K-fold cross-validation on the Home Depot training sample",
        "",
        *machine_header(),
        "",
        f"{len(train):,} training queries in {args.folds} folds (events of the other folds, true judgments of "
        f"the held-out fold's found top 100), simulation seeds {', '.join(map(str, args.sim_seeds))}, "
        f"{' / '.join(map(str, args.sessions))} sessions per query, θ = 1; Home Depot dev takes no part. "
        "Candidates trained with `train_from_events`'s defaults.",
        "",
        *text,
        f"Took {time.perf_counter() - started:.0f} s on the loaded 2-core machine.",
    ]
    write_json(args.json, {"args": {k: str(v) for k, v in vars(args).items()}, "cells": cv["cells"], **chosen})
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(text), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
