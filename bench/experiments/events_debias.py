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

Usage::

    python bench/experiments/events_debias.py --homedepot-index /work/cache/homedepot-default \\
        [--sessions 10 30 100] [--variants NAME ...] [--md bench/results/events_debias_inner.md]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import events_learning as el  # noqa: E402
from _common import REPO_ROOT, data_dir, machine_header, write_json  # noqa: E402

from shopmatch.events.model import query_key  # noqa: E402
from shopmatch.judgments import GainMap, read_judgments  # noqa: E402
from shopmatch.rank.event_features import EVENT_FEATURE_NAMES  # noqa: E402
from shopmatch.rank.features import FEATURE_NAMES, FEATURE_VERSION  # noqa: E402
from shopmatch.rank.from_events import event_ranking_data  # noqa: E402
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--homedepot-index", type=Path, default=el.CACHE / "homedepot-default")
    parser.add_argument("--train-queries", type=int, default=1500)
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--train-features", choices=("search", "rerank"), default="search")
    parser.add_argument("--variants", nargs="*", default=None, help="only these (substring match)")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "bench" / "results" / "events_debias_inner.json")
    parser.add_argument("--md", type=Path, default=REPO_ROOT / "bench" / "results" / "events_debias_inner.md")
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


if __name__ == "__main__":
    sys.exit(main())
