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
  positions ≡ 5 mod 20, disjoint from dev) used only for choosing;
- **systems**: BM25F alone, the old default (equal-weight RRF, ``adaptive = false``), and the
  adaptive default for each ``full_agreement`` of the grid (0 is the old default);
- **choices**: the objective is the mean over the choosing sets of each set's mean NDCG@10
  (every set weighs the same). *Leave one data set out*: each of esci / Home Depot / zh is
  tested with the value chosen on the other two (Home Depot's train sample counts as Home
  Depot). *esci 5 folds*: each fold's queries with the value chosen on the other four folds
  plus the Home Depot train sample and zh. *Shipped*: chosen on all 150 esci queries, the
  Home Depot train sample and zh (so Home Depot dev is held out; esci and zh in-sample).

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


def datasets() -> dict[str, tuple[Any, Any, Any]]:
    """Set name → (pipeline, judgments, gains)."""
    from quality import HOMEDEPOT_GAINS, zh_query_item
    from rerank import esci

    from shopmatch.catalog import read_catalog
    from shopmatch.judgments import GainMap, read_judgments

    out: dict[str, tuple[Any, Any, Any]] = {}
    catalog, judgments, gains = esci()
    out["esci"] = (_pipeline("esci-us-150", lambda: catalog.products), judgments, gains)
    folder = data_dir() / "homedepot"
    hd_gains = GainMap.parse(HOMEDEPOT_GAINS)
    hd = read_judgments(folder / "judgments.tsv", gains=hd_gains)
    hd_pipeline = _pipeline("homedepot", lambda: read_catalog(folder / "products.jsonl").products)
    ids = hd.query_ids
    out["hd-dev"] = (hd_pipeline, hd.subset(ids[::10]), hd_gains)
    out["hd-train"] = (hd_pipeline, hd.subset(ids[5::20]), hd_gains)
    products, zh, _ = zh_query_item(data_dir() / "zh-ecom-query-item" / "pairs.tsv")
    out["zh"] = (_pipeline("zh-ecom-query-item", lambda: products), zh, GainMap.parse("offset=0"))
    return out


def systems(pipeline) -> dict[str, Any]:
    """System name → the pipeline searched with its settings."""
    fusion = pipeline.config.fusion
    out = {
        "BM25F alone": pipeline.with_config(retrievers=("lexical",)),
        "old default (equal RRF)": pipeline.with_config(fusion=replace(fusion, adaptive=False)),
    }
    for value in GRID:
        if value > 0:  # 0 is the old default (the full dense weight for every query)
            out[key(value)] = pipeline.with_config(fusion=replace(fusion, adaptive=True, full_agreement=value))
    return out


def key(value: float) -> str:
    return f"adaptive full_agreement={value:g}"


def per_query(fresh: bool) -> dict[str, dict[str, dict[str, float]]]:
    """Set → system → query id → NDCG@10 (cached)."""
    from shopmatch.eval.evaluator import evaluate_retrieval

    CACHE.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, (pipeline, judgments, gains) in datasets().items():
        path = CACHE / f"{name}.json"
        cached = {} if fresh or not path.is_file() else json.loads(path.read_text())
        for system, searched in systems(pipeline).items():
            if system not in cached:
                started = time.perf_counter()
                result = evaluate_retrieval(searched, judgments, gains)
                cached[system] = result.per_query["ndcg@10"]
                path.write_text(json.dumps(cached))
                print(f"[no_data_default] {name}: {system} {result.metrics['ndcg@10']:.4f} "
                      f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
        cached[key(0.0)] = cached["old default (equal RRF)"]
        out[name] = {system: cached[system] for system in [*systems_order(), *(key(v) for v in GRID)]}
    return out


def systems_order() -> list[str]:
    return ["BM25F alone", "old default (equal RRF)"]


def mean_of(scores: Mapping[str, float], queries: Sequence[str] | None = None) -> float:
    return statistics.mean(scores[q] for q in (queries if queries is not None else scores))


def choose(scores: Mapping[str, Mapping[str, Mapping[str, float]]], sets: Mapping[str, Sequence[str] | None]) -> float:
    """The ``full_agreement`` with the best mean over ``sets`` (set → its queries, None: all) of
    each set's mean NDCG@10; ties go to the smaller value (closer to the old default)."""
    return max(GRID, key=lambda v: (statistics.mean(mean_of(scores[s][key(v)], q) for s, q in sets.items()), -v))


def comparison_rows(name: str, runs: Mapping[str, Mapping[str, float]], new: str) -> list[list[Any]]:
    bm25f, old = runs["BM25F alone"], runs["old default (equal RRF)"]
    queries = sorted(bm25f)
    rows = []
    for label, a, b in (
        ("old default − BM25F", bm25f, old),
        ("new default − BM25F", bm25f, runs[new] if isinstance(new, str) else new),
        ("new default − old default", old, runs[new] if isinstance(new, str) else new),
    ):
        rows.append([name, label, *significance_columns([a[q] for q in queries], [b[q] for q in queries])])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="recompute the cached per-query figures")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    scores = per_query(args.fresh)
    esci_ids = sorted(scores["esci"]["BM25F alone"])
    esci_folds = [[q for i, q in enumerate(esci_ids) if i % 5 == f] for f in range(5)]

    # leave one data set out
    lodo: dict[str, float] = {}
    for held in HELD_OUT:
        lodo[held] = choose(scores, {s: None for s in scores if FAMILY[s] != FAMILY[held] and s != "hd-dev"})
    # esci 5 folds: each fold with the value chosen on the other four, the Home Depot train sample and zh
    fold_choice = []
    nested_esci: dict[str, float] = {}
    for test in esci_folds:
        train = [q for q in esci_ids if q not in set(test)]
        value = choose(scores, {"esci": train, "hd-train": None, "zh": None})
        fold_choice.append(value)
        nested_esci.update({q: scores["esci"][key(value)][q] for q in test})
    shipped = choose(scores, {"esci": None, "hd-train": None, "zh": None})

    lines = ["# The untrained default across catalogs (adaptive dense weight)", "", *machine_header(), ""]
    lines += ["## NDCG@10 retrieval per data set and setting (every cell in-sample for its set)", ""]
    sets = list(scores)
    grid_rows = [[system, *(mean_of(scores[s][system]) for s in sets)] for system in scores["esci"]]
    lines += [markdown_table(["system", *sets], grid_rows), ""]
    lines += ["## Chosen values of `full_agreement`", ""]
    choice_rows = [[f"leave {h} out (chosen on the other sets)", f"{lodo[h]:g}"] for h in HELD_OUT]
    choice_rows += [[f"esci fold {f} (other folds + hd-train + zh)", f"{v:g}"] for f, v in enumerate(fold_choice)]
    choice_rows += [["shipped default (esci all + hd-train + zh; hd-dev held out)", f"{shipped:g}"]]
    lines += [markdown_table(["choice", "full_agreement"], choice_rows), ""]

    lines += ["## Held-out comparisons (paired; Δ = second − first; better/worse = queries)", ""]
    rows: list[list[Any]] = []
    for held in HELD_OUT:
        rows += comparison_rows(f"{held}, leave-one-set-out ({lodo[held]:g})", scores[held], key(lodo[held]))
    rows += comparison_rows("esci, 5 folds nested", scores["esci"], nested_esci)
    rows += comparison_rows(f"hd-dev, shipped ({shipped:g}, held out)", scores["hd-dev"], key(shipped))
    rows += comparison_rows(f"esci, shipped ({shipped:g}, in-sample)", scores["esci"], key(shipped))
    rows += comparison_rows(f"zh, shipped ({shipped:g}, in-sample)", scores["zh"], key(shipped))
    lines += [markdown_table(["set", "comparison", *SIGNIFICANCE_HEADERS], rows), ""]

    means = []
    for name, new in (
        ("esci (150, 5-fold nested)", nested_esci),
        ("esci (150, leave-one-set-out)", scores["esci"][key(lodo["esci"])]),
        ("hd-dev (leave-one-set-out)", scores["hd-dev"][key(lodo["hd-dev"])]),
        ("hd-dev (shipped)", scores["hd-dev"][key(shipped)]),
        ("zh (leave-one-set-out)", scores["zh"][key(lodo["zh"])]),
    ):
        s = scores[name.split(" ")[0]]
        fold_means = ""
        if name.startswith("esci (150, 5"):
            fold_means = ", ".join(f"{mean_of(new, t):.3f}" for t in esci_folds)
        means.append([name, mean_of(s["BM25F alone"]), mean_of(s["old default (equal RRF)"]), mean_of(new), fold_means])
    lines += ["## Held-out NDCG@10", ""]
    lines += [markdown_table(["set", "BM25F alone", "old default", "new default (held out)", "per esci fold"], means)]
    print("\n".join(lines))
    write_json(args.json, {
        "machine": machine_info(), "grid": GRID, "leave_one_set_out": lodo, "esci_fold_choice": fold_choice,
        "shipped": shipped, "means": {s: {k: mean_of(v) for k, v in scores[s].items()} for s in scores},
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
