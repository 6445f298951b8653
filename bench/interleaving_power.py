"""How often team-draft interleaving picks the better of two rankers, with simulated shoppers.

Protocol (``../shared/docs/benchmarks.md``, "Shopper behaviour", item 3): pairs of rankers with a
known true NDCG@10 on the esci-us-150 judgments; for each pair and each N (impressions per
experiment), ``--experiments`` simulated experiments. In one experiment each impression picks a
judged query uniformly, shows the team-draft interleaving (:func:`shopmatch.events.interleaving.team_draft`,
the product code) of the two rankers' top 10, and a simulated shopper (``bench/shopper_sim.py``'s
:class:`Shoppers`: position ``i`` examined with probability ``(1/i)^θ``, an examined product clicked
with probability ``0.05 + 0.9 · gain / max gain``, unjudged 0.05) clicks; each click is credited to
the team that contributed the product. The experiment picks the side with more winning
impressions (none on a tie). Reported: the share of experiments that pick the ranker with the
higher true NDCG@10, that pick the other, that pick neither, and that pick the better one with a
sign test p < 0.05.

Exact and fast: with k = 10 team draft tosses its coin 5 times, so each query's interleavings are
the 32 equally likely coin sequences, enumerated once; the shoppers are simulated with numpy.

Rankers (each the top 10 of the same search as ``shopmatch search``, over ``--index``):
``bm25f`` (the lexical retriever alone), ``hybrid`` (the default pipeline), ``hybrid-no-feedback``
(pseudo-relevance feedback off), ``dense`` (the bi-encoder alone) and ``hybrid-degraded`` (the
hybrid top 10 with each adjacent pair (1,2), (3,4), … swapped with probability 1/2, seeded per query).

Usage::

    .venv/bin/python bench/interleaving_power.py --index /work/cache/esci-us-150-default \\
        [--experiments 200] [--json bench/results/interleaving_power.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir, machine_header, markdown_table, significance_columns, write_json  # noqa: E402
from shopper_sim import Shoppers  # noqa: E402

from shopmatch.events.interleaving import CANDIDATE, sign_test, team_draft  # noqa: E402
from shopmatch.judgments import GainMap, read_judgments  # noqa: E402

K = 10
TOSSES = 5  # team draft over 10 slots: a coin at each of its 5 rounds
PAIRS = [
    ("bm25f", "hybrid"),
    ("hybrid-degraded", "hybrid"),
    ("hybrid-no-feedback", "hybrid"),
    ("dense", "bm25f"),
]


class _Coins:
    """A stand-in for ``random.Random`` whose ``random()`` returns the given bits in turn."""

    def __init__(self, bits: int) -> None:
        self.bits, self.used = bits, 0

    def random(self) -> float:
        bit = (self.bits >> self.used) & 1
        self.used += 1
        return 0.25 if bit else 0.75  # < 0.5: control picks first


def rankings(index: Path, texts: list[str], cache: Path) -> dict[str, dict[str, list[str]]]:
    """Each system's top 10 per query text (cached in ``cache``)."""
    if cache.is_file():
        return json.loads(cache.read_text())
    from shopmatch.pipeline import SearchPipeline

    hybrid = SearchPipeline.load(index)
    systems = {
        "hybrid": hybrid,
        "bm25f": hybrid.with_config(retrievers=("lexical",)),
        "dense": hybrid.with_config(retrievers=("dense",)),
        "hybrid-no-feedback": hybrid.with_config(feedback=replace(hybrid.config.feedback, enabled=False)),
    }
    out = {}
    for name, pipeline in systems.items():
        found = pipeline.search_ids(texts, k=K)
        out[name] = {text: [pid for pid, _ in hits] for text, hits in zip(texts, found, strict=True)}
        print(f"searched {len(texts)} queries with {name}", file=sys.stderr)
    degraded = {}
    for ordinal, text in enumerate(texts):
        ids = list(out["hybrid"][text])
        rng = np.random.default_rng([7, ordinal])
        for i in range(0, len(ids) - 1, 2):
            if rng.random() < 0.5:
                ids[i], ids[i + 1] = ids[i + 1], ids[i]
        degraded[text] = ids
    out["hybrid-degraded"] = degraded
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def ndcg10(ranked: list[str], gains: dict[str, float]) -> float:
    """NDCG@10 with linear gains (ranx's ``ndcg``): unjudged products gain 0."""
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    dcg = sum(gains.get(p, 0.0) * discounts[i] for i, p in enumerate(ranked[:K]))
    ideal = sorted(gains.values(), reverse=True)[:K]
    best = sum(g * discounts[i] for i, g in enumerate(ideal))
    return dcg / best if best > 0 else 0.0


def interleavings(control: list[str], candidate: list[str], gains: dict[str, float], top: float, shoppers: Shoppers):
    """``(32, K)`` click chances and teams (+1 candidate, −1 control, 0 empty) of every coin sequence."""
    chance = np.zeros((2**TOSSES, K))
    team = np.zeros((2**TOSSES, K))
    for bits in range(2**TOSSES):
        merged, teams = team_draft(control, candidate, K, _Coins(bits))
        for i, (pid, side) in enumerate(zip(merged, teams, strict=True)):
            judged = pid in gains and top > 0
            chance[bits, i] = shoppers.base + shoppers.gain_weight * gains[pid] / top if judged else shoppers.unjudged
            team[bits, i] = 1.0 if side == CANDIDATE else -1.0
    return chance, team


def experiments(chance, team, examined, n: int, runs: int, rng) -> np.ndarray:
    """``(runs, 2)`` wins and losses of the candidate in ``runs`` experiments of ``n`` impressions."""
    queries, sequences = chance.shape[:2]
    out = np.zeros((runs, 2), dtype=np.int64)
    for r in range(runs):
        q = rng.integers(queries, size=n)
        s = rng.integers(sequences, size=n)
        clicks = (rng.random((n, K)) < examined) & (rng.random((n, K)) < chance[q, s])
        margin = (clicks * team[q, s]).sum(axis=1)
        out[r] = (int((margin > 0).sum()), int((margin < 0).sum()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=Path("/work/cache/esci-us-150-default"))
    parser.add_argument("--judgments", type=Path, default=data_dir() / "esci-us-150" / "judgments.tsv")
    parser.add_argument("--gains", default="E=1,S=0.1,C=0.01,I=0")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 5000])
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument("--thetas", type=float, nargs="+", default=[1.0, 0.5, 2.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("bench/data/interleaving/rankings.json"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    gain_map = GainMap.parse(args.gains)
    judged = read_judgments(args.judgments, gains=gain_map)
    qrels = judged.qrels(gain_map)
    query_ids = sorted(judged.query_ids)
    texts = [judged.queries[q] for q in query_ids]
    ranked = rankings(args.index, list(dict.fromkeys(texts)), args.cache)
    top = max(g for judged_q in qrels.values() for g in judged_q.values())
    true = {name: [ndcg10(ranked[name][judged.queries[q]], qrels.get(q, {})) for q in query_ids] for name in ranked}

    print("\n".join(machine_header()))
    print(f"\n{len(query_ids)} judged queries; true NDCG@10 (linear gains {args.gains}) of each ranker:\n")
    print(markdown_table(["ranker", "NDCG@10"], [[n, f"{np.mean(v):.4f}"] for n, v in sorted(true.items())]))
    pair_rows, power_rows, results = [], [], []
    for control, candidate in PAIRS:
        cells = significance_columns(true[control], true[candidate])
        pair_rows.append(
            [f"{candidate} vs {control}", f"{np.mean(true[control]):.4f}", f"{np.mean(true[candidate]):.4f}", *cells]
        )
    print("\nThe pairs (candidate against control, paired by query; the truth interleaving should find):\n")
    print(
        markdown_table(
            ["pair", "control NDCG@10", "candidate NDCG@10", "Δ", "95% CI", "p", "significant", "better/worse"],
            pair_rows,
        )
    )
    for theta in args.thetas:
        shoppers = Shoppers(theta=theta, k=K)
        examined = shoppers.examination()
        sizes = args.sizes if theta == 1.0 else [1000]
        for p, (control, candidate) in enumerate(PAIRS):
            built = [
                interleavings(
                    ranked[control][judged.queries[q]],
                    ranked[candidate][judged.queries[q]],
                    qrels.get(q, {}),
                    top,
                    shoppers,
                )
                for q in query_ids
            ]
            chance, team = np.stack([b[0] for b in built]), np.stack([b[1] for b in built])
            truth = np.sign(np.mean(true[candidate]) - np.mean(true[control]))
            for n in sizes:
                rng = np.random.default_rng([args.seed, p, n, int(theta * 100)])
                counts = experiments(chance, team, examined, n, args.experiments, rng)
                picks = np.sign(counts[:, 0] - counts[:, 1])
                significant = np.array([sign_test(int(won), int(lost)) < 0.05 for won, lost in counts])
                row = {
                    "theta": theta,
                    "pair": f"{candidate} vs {control}",
                    "impressions": n,
                    "true_delta": float(np.mean(true[candidate]) - np.mean(true[control])),
                    "right": float(np.mean(picks == truth)),
                    "wrong": float(np.mean(picks == -truth)),
                    "none": float(np.mean(picks == 0)),
                    "right_significant": float(np.mean((picks == truth) & significant)),
                    "wrong_significant": float(np.mean((picks == -truth) & significant)),
                    "mean_wins": float(counts[:, 0].mean()),
                    "mean_losses": float(counts[:, 1].mean()),
                    "experiments": args.experiments,
                }
                results.append(row)
                low, high = _wilson(row["right"], args.experiments)
                power_rows.append(
                    [
                        f"{theta:g}",
                        row["pair"],
                        f"{row['true_delta']:+.4f}",
                        f"{n:,}",
                        f"{row['right']:.1%} [{low:.0%}, {high:.0%}]",
                        f"{row['wrong']:.1%}",
                        f"{row['none']:.1%}",
                        f"{row['right_significant']:.1%}",
                        f"{row['wrong_significant']:.1%}",
                        f"{row['mean_wins']:.0f} / {row['mean_losses']:.0f}",
                    ]
                )
    print(
        f"\nShare of {args.experiments} simulated experiments per cell that pick the ranker with the higher true "
        "NDCG@10 (95% Wilson interval), the other one, or neither (a tie), and that do so with a sign test p < 0.05:\n"
    )
    print(
        markdown_table(
            [
                "θ",
                "pair",
                "true Δ NDCG@10",
                "impressions",
                "picks the better",
                "picks the worse",
                "no pick",
                "better, p < 0.05",
                "worse, p < 0.05",
                "mean wins / losses",
            ],
            power_rows,
        )
    )
    write_json(args.json, {"true_ndcg@10": {n: float(np.mean(v)) for n, v in true.items()}, "runs": results})
    return 0


def _wilson(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


if __name__ == "__main__":
    raise SystemExit(main())
