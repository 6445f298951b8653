"""Does the one search path give the same results as the two paths it replaced?

Runs the default pipeline and BM25F alone of two source trees (``--old-src``: a checkout of the
code before the change; ``--new-src``: this tree) on esci-us-150, zh-ecom-query-item and Home Depot
dev, each tree in its own interpreter, and compares: NDCG@10 in retrieval and rerank mode (with a
paired test), and how many queries get identical top-10 / top-100 lists and identical rerank-mode
scores. ``--old-encode-singly`` makes the old tree encode queries one at a time (as the new searcher
does), to check that the batch-dependent int8 query encoding explains every retrieval difference.

Usage::

    git worktree add /tmp/old-main e964211
    .venv/bin/python bench/experiments/search_path_parity.py --old-src /tmp/old-main/src --only esci zh
    .venv/bin/python bench/experiments/search_path_parity.py --old-src /tmp/old-main/src --only esci \\
        --old-encode-singly --json bench/results/parity-singly.json

Recorded in ``docs/experiments/2026-12-06-one-search-path.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: _common and the canonical benches

from _common import REPO_ROOT, data_dir, markdown_table, write_json  # noqa: E402

# What each tree runs: the same code for both (only the public API both trees share).
RUNNER = r"""
import json, sys
import numpy as np
args = json.loads(sys.argv[1])
if args["encode_singly"]:
    from shopmatch.encoders.sentence_encoder import SentenceEncoder
    batch = SentenceEncoder.encode_queries
    SentenceEncoder.encode_queries = lambda self, texts: (
        np.concatenate([batch(self, [t]) for t in texts]) if len(texts) > 1 else batch(self, texts))
sys.path.insert(0, args["bench"])
from quality import zh_query_item
from shopmatch.catalog import read_catalog
from shopmatch.config import PipelineConfig
from shopmatch.judgments import GainMap, read_judgments
from shopmatch.pipeline import SearchPipeline
data = args["data"]
name = args["dataset"]
if name == "esci":
    products = read_catalog(f"{data}/esci-us-150/products.jsonl").products
    judged = read_judgments(f"{data}/esci-us-150/judgments.tsv", gains=GainMap.esci())
elif name == "zh":
    products, judged, _ = zh_query_item(__import__("pathlib").Path(f"{data}/zh-ecom-query-item/pairs.tsv"))
else:
    gains = GainMap.parse("offset=1,relevant>=2.5")
    products = read_catalog(f"{data}/homedepot/products.jsonl").products
    judged = read_judgments(f"{data}/homedepot/judgments.tsv", gains=gains)
    judged = judged.subset(judged.query_ids[::10])
out = {}
for label, config in (("default", PipelineConfig()), ("lexical", PipelineConfig(retrievers=("lexical",)))):
    pipe = SearchPipeline.build(products, config)
    ids = judged.query_ids
    found = pipe.search_ids([judged.queries[q] for q in ids], k=100)
    runs = {q: [[p, float(s)] for p, s in r] for q, r in zip(ids, found)}
    scores = {}
    for q in ids:
        candidates = sorted(r.product_id for r in judged.by_query[q])
        scores[q] = [float(x) for x in pipe.score_candidates(judged.queries[q], candidates)]
    out[label] = {"runs": runs, "rerank_scores": scores}
print(json.dumps(out))
"""

GAINS = {"esci": "E=1,S=0.1,C=0.01,I=0", "zh": "offset=0", "hd": "offset=1,relevant>=2.5"}

# Latency: one saved default index, loaded by each tree; the 150 esci queries cycled to 600 single
# queries (`pipeline.search(q, k=10)`, records included) after a warm-up; p50/p99 in ms on stdout.
TIMER = r"""
import json, statistics, sys, time
from shopmatch.judgments import read_judgments
from shopmatch.pipeline import SearchPipeline
index, judgments = sys.argv[1], sys.argv[2]
queries = sorted(read_judgments(judgments).queries.values())
pipe = SearchPipeline.load(index)
for q in queries[:20]:
    pipe.search(q, k=10)
times = []
for i in range(600):
    q = queries[i % len(queries)]
    started = time.perf_counter()
    pipe.search(q, k=10)
    times.append((time.perf_counter() - started) * 1000)
times.sort()
print(json.dumps({"p50": statistics.median(times), "p99": times[int(0.99 * len(times)) - 1]}))
"""


def latency(old_src: Path, new_src: Path, runs: int) -> list[list]:
    """p50/p99 of the default hybrid (k = 10) in each tree, the trees alternating run by run."""
    with tempfile.TemporaryDirectory() as work:
        index = Path(work) / "index"
        products = data_dir() / "esci-us-150" / "products.jsonl"
        subprocess.run(
            [sys.executable, "-m", "shopmatch.cli", "-q", "index", str(products), "-o", str(index)],
            env={**os.environ, "PYTHONPATH": str(new_src)}, check=True, cwd=work,
        )  # fmt: skip
        judgments = str(data_dir() / "esci-us-150" / "judgments.tsv")
        seen: dict[str, list[dict]] = {"old": [], "new": []}
        for _ in range(runs):
            for name, src in (("old", old_src), ("new", new_src)):
                done = subprocess.run(
                    [sys.executable, "-c", TIMER, str(index), judgments],
                    env={**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"},
                    capture_output=True, text=True, check=True, cwd=work,
                )  # fmt: skip
                seen[name].append(json.loads(done.stdout.splitlines()[-1]))
    rows = []
    for name in ("old", "new"):
        p50 = sorted(r["p50"] for r in seen[name])[runs // 2]
        p99 = sorted(r["p99"] for r in seen[name])[runs // 2]
        rows.append([name, f"{p50:.2f}", f"{p99:.2f}", runs])
    return rows


def run_tree(src: Path, dataset: str, encode_singly: bool) -> dict:
    args = {
        "data": str(data_dir()),
        "bench": str(REPO_ROOT / "bench"),
        "dataset": dataset,
        "encode_singly": encode_singly,
    }
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as cwd:  # nothing of this checkout's src/ on the path by accident
        done = subprocess.run(
            [sys.executable, "-c", RUNNER, json.dumps(args)], env=env, cwd=cwd, capture_output=True, text=True
        )
    if done.returncode:
        raise SystemExit(f"{src}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def judgments_of(dataset: str):
    from quality import zh_query_item

    from shopmatch.judgments import GainMap, read_judgments

    data = data_dir()
    gains = GainMap.parse(GAINS[dataset])
    if dataset == "esci":
        return read_judgments(data / "esci-us-150/judgments.tsv", gains=gains), gains
    if dataset == "zh":
        return zh_query_item(data / "zh-ecom-query-item/pairs.tsv")[1], gains
    judged = read_judgments(data / "homedepot/judgments.tsv", gains=gains)
    return judged.subset(judged.query_ids[::10]), gains


def evaluated(system: dict, judged, gains, mode: str):
    from shopmatch.eval.evaluator import score_run

    if mode == "retrieval":
        run = {q: [tuple(x) for x in found] for q, found in system["runs"].items()}
    else:
        run = {}
        for q, scores in system["rerank_scores"].items():
            candidates = sorted(r.product_id for r in judged.by_query[q])
            order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i]))
            run[q] = [(candidates[i], scores[i]) for i in order]
    return score_run(run, judged, gains, mode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old-src", type=Path, required=True, help="the src/ of a checkout of the old code")
    parser.add_argument("--new-src", type=Path, default=REPO_ROOT / "src")
    parser.add_argument("--only", nargs="*", choices=tuple(GAINS), default=list(GAINS))
    parser.add_argument("--old-encode-singly", action="store_true", help="the old tree encodes queries one by one")
    parser.add_argument("--latency-runs", type=int, default=0, help="also time both trees, alternating, N runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from shopmatch.eval.significance import compare_paired, format_interval, format_p

    rows, record = [], {}
    for dataset in args.only:
        old = run_tree(args.old_src, dataset, args.old_encode_singly)
        new = run_tree(args.new_src, dataset, False)
        judged, gains = judgments_of(dataset)
        for label in ("default", "lexical"):
            a, b = old[label], new[label]
            same10 = sum([p for p, _ in a["runs"][q][:10]] == [p for p, _ in b["runs"][q][:10]] for q in a["runs"])
            same100 = sum([p for p, _ in a["runs"][q]] == [p for p, _ in b["runs"][q]] for q in a["runs"])
            same_scores = sum(
                bool(np.allclose(a["rerank_scores"][q], b["rerank_scores"][q], atol=1e-6)) for q in a["rerank_scores"]
            )
            for mode in ("retrieval", "rerank"):
                before, after = evaluated(a, judged, gains, mode), evaluated(b, judged, gains, mode)
                c = compare_paired(before.per_query["ndcg@10"], after.per_query["ndcg@10"])
                identical = f"{same10}/{same100}" if mode == "retrieval" else f"{same_scores}"
                rows.append(
                    [dataset, label, mode, c.baseline_mean, c.system_mean, f"{c.delta:+.4f}",
                     format_interval(c.ci_low, c.ci_high), format_p(c.p_value), identical, len(a["runs"])]
                )  # fmt: skip
                record[f"{dataset}/{label}/{mode}"] = {**c.to_dict(), "identical": identical}
    print(
        markdown_table(
            ["dataset", "pipeline", "mode", "NDCG@10 old", "NDCG@10 new", "Δ", "95% CI", "p",
             "identical top-10/top-100 lists (retrieval) or score lists (rerank)", "queries"],
            rows,
        )
    )  # fmt: skip
    if args.latency_runs:
        timing = latency(args.old_src, args.new_src, args.latency_runs)
        print("\nHybrid search, k = 10, records included (median of per-run p50 / p99, ms):\n")
        print(markdown_table(["tree", "p50", "p99", "runs"], timing))
        record["latency"] = timing
    write_json(args.json, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
