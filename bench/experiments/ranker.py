"""The ranker's candidate models, each held out by plain K-fold cross-validation (a diagnosis, not a choice).

Usage::

    python bench/experiments/ranker.py [--data bench/data/ranker-esci-hybrid.npz] [--folds 5]

Reads a feature cache that ``bench/ranker.py`` writes (the candidates a search hands the ranker
stage, their features and grades) and prints, for every candidate of
``shopmatch.rank.selection.CANDIDATES``, the mean NDCG@10 of the held-out queries (the metric of
``evaluate_retrieval``: excluded products last, ideal over all judgments). Which model to ship is
chosen by ``fit_ranker`` inside the training folds (``bench/ranker.py``); this script only shows how
far apart the candidates are, so it must not be used to pick one.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from shopmatch.rank.selection import CANDIDATES, held_out_scores
from shopmatch.rank.training import RankingData

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench" / "data" / "ranker-esci-hybrid.npz")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    data = RankingData.load(str(args.data))
    print(f"{args.data.name}: {len(data.query_ids)} queries, {len(data.labels)} candidates")
    for candidate in CANDIDATES:
        if not candidate.usable(data):
            continue
        scores = held_out_scores(data, candidate, args.folds, seed=args.seed)
        print(f"{candidate.name:55s} {np.mean(list(scores.values())):.4f}", flush=True)
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
