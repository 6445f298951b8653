"""One-off: esci-us-150's default pipeline, indexed fresh with the current code (spelling guard and
brand protection included), against equal-weight fusion and BM25F alone on the same index, NDCG@10
in retrieval and rerank mode with paired significance. Run from the repository root:
``python bench/experiments/esci_default_refresh.py`` (the index is cached in bench/data/)."""

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import data_dir, markdown_table, significance_columns  # noqa: E402

from shopmatch.catalog import read_catalog  # noqa: E402
from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval  # noqa: E402
from shopmatch.judgments import GainMap, read_judgments  # noqa: E402
from shopmatch.pipeline import SearchPipeline  # noqa: E402

TARGET = Path(__file__).resolve().parents[1] / "data" / "esci-default-fresh"
DEFAULT = "default (adaptive fusion, spelling)"


def main() -> None:
    data = data_dir() / "esci-us-150"
    if not (TARGET / "manifest.json").is_file():
        started = time.perf_counter()
        SearchPipeline.build(read_catalog(data / "products.jsonl").products).save(TARGET)
        print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    gains = GainMap.esci()
    judged = read_judgments(data / "judgments.tsv", gains=gains)
    default = SearchPipeline.load(TARGET)
    systems = {
        DEFAULT: default,
        "equal-weight fusion": default.with_config(fusion=replace(default.config.fusion, adaptive=False)),
        "BM25F alone": default.with_config(retrievers=("lexical",)),
    }
    scores = {
        name: (
            evaluate_retrieval(pipe, judged, gains).per_query["ndcg@10"],
            evaluate_rerank(pipe, judged, gains).per_query["ndcg@10"],
        )
        for name, pipe in systems.items()
    }
    rows = [[name, *(f"{np.mean(list(mode.values())):.4f}" for mode in modes)] for name, modes in scores.items()]
    print(markdown_table(["system", "retrieval NDCG@10", "rerank NDCG@10"], rows))
    for other in ("equal-weight fusion", "BM25F alone"):
        for label, i in (("retrieval", 0), ("rerank", 1)):
            a, b = scores[other][i], scores[DEFAULT][i]
            keys = sorted(a)
            cells = significance_columns([a[k] for k in keys], [b[k] for k in keys])
            print(f"default vs {other}, {label}: " + " | ".join(cells))


if __name__ == "__main__":
    main()
