"""The untrained default across catalogs: equal-weight RRF vs the adaptive dense weight, chosen
across data sets (issue 25 item 4, issue 26 item 4).

A new shop has neither judgments nor clicks, so the default's fusion cannot be fitted to it. The
adaptive fusion (``shopmatch.retrieval.adaptive_fusion``) scales the bi-encoder's weight per
query by how far its top 10 agrees with BM25F's; one constant, ``full_agreement``, is chosen here
across data sets, never on the queries a figure is reported on:

- **data sets** (retrieval NDCG@10, the protocols of ``benchmarks.md``): esci-us-150 (150
  queries, 6,764 products), Home Depot dev (every 10th sorted query id, 54,667 products, gain
  label − 1), zh-ecom-query-item as retrieval (distinct titles as the catalog, as
  ``bench/quality.py::zh_query_item``), and a **Home Depot train sample** (sorted query-id
  positions ≡ 5 mod 40, disjoint from dev) used only for choosing;
- **systems**: BM25F alone, the old default (equal-weight RRF, ``adaptive = false``), and the
  adaptive default for each ``full_agreement`` of the grid (0 is the old default);
- **choices**: the objective is the mean over the choosing sets of each set's mean NDCG@10
  (every set weighs the same). *Leave one data set out*: each of esci / Home Depot / zh is
  tested with the value chosen on the other two (Home Depot's train sample counts as Home
  Depot; Home Depot dev itself is never used to choose). *esci 5 folds*: each fold's queries
  with the value chosen on the other four folds plus the Home Depot train sample and zh.
  *Shipped*: chosen on all 150 esci queries, the Home Depot train sample and zh (so Home
  Depot dev is held out; esci and zh in-sample).

Per-query NDCG@10 of every (set, system) is cached under ``bench/data/no_data_default/``
(``--fresh`` recomputes). The indexes are the prebuilt ``/work/cache/*-default`` ones when
present (else built, which encodes every product), searched through ``with_config``.

Usage::

    PYTHONPATH=src .venv/bin/python bench/experiments/no_data_default.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches
from _common import (  # noqa: E402
    REPO_ROOT,
    SIGNIFICANCE_HEADERS,
    data_dir,
    machine_header,
    machine_info,
    markdown_table,
    significance_columns,
    write_json,
)

GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
"""``full_agreement`` values tried (0: the old equal-weight default)."""

CACHE = REPO_ROOT / "bench" / "data" / "no_data_default"
PREBUILT = Path("/work/cache")
HELD_OUT = ("esci", "hd-dev", "zh")  # the sets figures are reported on
FAMILY = {"esci": "esci", "hd-dev": "hd", "hd-train": "hd", "zh": "zh"}
HD_TRAIN_STEP = 40  # the Home Depot train sample: sorted query-id positions 5, 45, 85, … (never dev)


def _pipeline(name: str, products_of: Callable[[], Any]):
    """The default pipeline of a data set: the prebuilt index if any, else one built and cached."""
    from shopmatch.config import PipelineConfig
    from shopmatch.pipeline import SearchPipeline

    for folder in (PREBUILT / f"{name}-default", CACHE / f"{name}-default"):
        if (folder / "manifest.json").is_file():
            return SearchPipeline.load(folder)
    pipeline = SearchPipeline.build(products_of(), PipelineConfig())
    pipeline.save(CACHE / f"{name}-default")
    return pipeline


def datasets() -> dict[str, Callable[[], tuple[Any, Any, Any]]]:
    """Set name → a loader of (pipeline, judgments, gains), called at most once."""
    from functools import cache

    from quality import HOMEDEPOT_GAINS, zh_query_item
    from rerank import esci

    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import GainMap, read_judgments

    folder = data_dir() / "homedepot"

    @cache
    def homedepot():
        gains = GainMap.parse(HOMEDEPOT_GAINS)
        judged = read_judgments(folder / "judgments.tsv", gains=gains)
        pipeline = _pipeline("homedepot", lambda: read_catalog(folder / "products.jsonl").products)
        return pipeline, judged, gains

    def esci_set():
        catalog, judgments, gains = esci()
        return _pipeline("esci-us-150", lambda: catalog.products), judgments, gains

    def hd(positions: slice):
        pipeline, judged, gains = homedepot()
        return pipeline, judged.subset(judged.query_ids[positions]), gains

    def zh_set():
        products, judgments, _ = zh_query_item(data_dir() / "zh-ecom-query-item" / "pairs.tsv")
        return _pipeline("zh-ecom-query-item", lambda: products), judgments, GainMap.parse("offset=0")

    return {
        "esci": esci_set,
        "hd-dev": lambda: hd(slice(0, None, 10)),
        "hd-train": lambda: hd(slice(5, None, HD_TRAIN_STEP)),
        "zh": zh_set,
    }


def key(value: float) -> str:
    return "old default (equal RRF)" if value == 0 else f"adaptive full_agreement={value:g}"


BM25F = "BM25F alone"
OLD = key(0.0)


class Scores:
    """Per-query NDCG@10 of (set, system), computed on first use and cached on disk."""

    def __init__(self, fresh: bool) -> None:
        CACHE.mkdir(parents=True, exist_ok=True)
        self.loaders = datasets()
        self.loaded: dict[str, tuple[Any, Any, Any]] = {}
        self.cached: dict[str, dict[str, dict[str, float]]] = {}
        for name in self.loaders:
            path = CACHE / f"{name}.json"
            self.cached[name] = {} if fresh or not path.is_file() else json.loads(path.read_text())

    def __call__(self, name: str, system: str) -> dict[str, float]:
        if system not in self.cached[name]:
            from shopmatch.eval.evaluator import evaluate_retrieval

            if name not in self.loaded:
                self.loaded[name] = self.loaders[name]()
            pipeline, judgments, gains = self.loaded[name]
            fusion = pipeline.config.fusion
            if system == BM25F:
                searched = pipeline.with_config(retrievers=("lexical",))
            elif system == OLD:
                searched = pipeline.with_config(fusion=replace(fusion, adaptive=False))
            else:
                value = float(system.split("=")[1])
                searched = pipeline.with_config(fusion=replace(fusion, adaptive=True, full_agreement=value))
            started = time.perf_counter()
            result = evaluate_retrieval(searched, judgments, gains)
            self.cached[name][system] = result.per_query["ndcg@10"]
            (CACHE / f"{name}.json").write_text(json.dumps(self.cached[name]))
            print(f"[no_data_default] {name}: {system} {result.metrics['ndcg@10']:.4f} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
        return self.cached[name][system]


def mean_of(scores: Mapping[str, float], queries: Sequence[str] | None = None) -> float:
    return statistics.mean(scores[q] for q in (queries if queries is not None else scores))


def choose(scores: Scores, sets: Mapping[str, Sequence[str] | None]) -> float:
    """The ``full_agreement`` with the best mean over ``sets`` (set → its queries, None: all) of
    each set's mean NDCG@10; ties go to the smaller value (closer to the old default)."""
    return max(GRID, key=lambda v: (statistics.mean(mean_of(scores(s, key(v)), q) for s, q in sets.items()), -v))


def comparison_rows(name: str, scores: Scores, set_name: str, new: Mapping[str, float]) -> list[list[Any]]:
    bm25f, old = scores(set_name, BM25F), scores(set_name, OLD)
    queries = sorted(bm25f)
    rows = []
    for label, a, b in (
        ("old default − BM25F", bm25f, old),
        ("new default − BM25F", bm25f, new),
        ("new default − old default", old, new),
    ):
        rows.append([name, label, *significance_columns([a[q] for q in queries], [b[q] for q in queries])])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="recompute the cached per-query figures")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    scores = Scores(args.fresh)
    esci_ids = sorted(scores("esci", BM25F))
    esci_folds = [[q for i, q in enumerate(esci_ids) if i % 5 == f] for f in range(5)]

    choosing = ("esci", "hd-train", "zh")  # hd-dev is never looked at to choose
    lodo = {held: choose(scores, {s: None for s in choosing if FAMILY[s] != FAMILY[held]}) for held in HELD_OUT}
    fold_choice = []
    nested_esci: dict[str, float] = {}
    for test in esci_folds:  # each fold with the value chosen on the other four, hd-train and zh
        held = set(test)
        value = choose(scores, {"esci": [q for q in esci_ids if q not in held], "hd-train": None, "zh": None})
        fold_choice.append(value)
        nested_esci.update({q: scores("esci", key(value))[q] for q in test})
    shipped = choose(scores, {s: None for s in choosing})

    lines = ["# The untrained default across catalogs (adaptive dense weight)", "", *machine_header(), ""]
    lines += ["## Chosen values of `full_agreement`", ""]
    choice_rows = [[f"leave {h} out (chosen on the other sets)", f"{lodo[h]:g}"] for h in HELD_OUT]
    choice_rows += [[f"esci fold {f} (other folds + hd-train + zh)", f"{v:g}"] for f, v in enumerate(fold_choice)]
    choice_rows += [["shipped default (esci all + hd-train + zh; hd-dev held out)", f"{shipped:g}"]]
    lines += [markdown_table(["choice", "full_agreement"], choice_rows), ""]

    lines += ["## Held-out comparisons (paired; Δ = second − first; better/worse = queries)", ""]
    rows: list[list[Any]] = []
    for held in HELD_OUT:
        rows += comparison_rows(
            f"{held}, leave-one-set-out ({lodo[held]:g})", scores, held, scores(held, key(lodo[held]))
        )
    rows += comparison_rows("esci, 5 folds nested", scores, "esci", nested_esci)
    if shipped != lodo["hd-dev"]:
        rows += comparison_rows(
            f"hd-dev, shipped ({shipped:g}, held out)", scores, "hd-dev", scores("hd-dev", key(shipped))
        )
    rows += comparison_rows(f"esci, shipped ({shipped:g}, in-sample)", scores, "esci", scores("esci", key(shipped)))
    rows += comparison_rows(f"zh, shipped ({shipped:g}, in-sample)", scores, "zh", scores("zh", key(shipped)))
    lines += [markdown_table(["set", "comparison", *SIGNIFICANCE_HEADERS], rows), ""]

    means = []
    for name, set_name, new, per_fold in (
        ("esci (150, 5 folds nested)", "esci", nested_esci, True),
        ("esci (150, leave-one-set-out)", "esci", scores("esci", key(lodo["esci"])), False),
        ("hd-dev (leave-one-set-out)", "hd-dev", scores("hd-dev", key(lodo["hd-dev"])), False),
        ("hd-dev (shipped)", "hd-dev", scores("hd-dev", key(shipped)), False),
        ("zh (leave-one-set-out)", "zh", scores("zh", key(lodo["zh"])), False),
    ):
        folds = ", ".join(f"{mean_of(new, t):.3f}" for t in esci_folds) if per_fold else ""
        means.append([name, mean_of(scores(set_name, BM25F)), mean_of(scores(set_name, OLD)), mean_of(new), folds])
    lines += ["## Held-out NDCG@10", ""]
    lines += [markdown_table(["set", "BM25F alone", "old default", "new default (held out)", "per esci fold"], means)]
    lines += ["", "## NDCG@10 per set and setting (in-sample for its set; hd-dev only where a choice needed it)", ""]
    systems = [BM25F, *(key(v) for v in GRID)]
    grid_rows = [
        [
            system,
            *(f"{mean_of(scores.cached[s][system]):.4f}" if system in scores.cached[s] else "–" for s in scores.cached),
        ]
        for system in systems
    ]
    lines += [markdown_table(["system", *scores.cached], grid_rows), ""]
    print("\n".join(lines))
    write_json(args.json, {
        "machine": machine_info(), "grid": GRID, "leave_one_set_out": lodo, "esci_fold_choice": fold_choice,
        "shipped": shipped, "means": {s: {k: mean_of(v) for k, v in c.items()} for s, c in scores.cached.items()},
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
