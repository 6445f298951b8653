"""Live catalog updates on an index: how long a write takes to be durable and searchable, how long
compaction and a start-up replay take.

On a private copy of INDEX (the demo shop: 6,809 products, hybrid int8), in one process:

- upsert of 1 product and of a batch of 100 (new ids; validated, embedded, logged with fsync,
  applied): latency until the call returns — the product is then searchable, which is checked by a
  search for its unique title word right after each call;
- delete of 1 product;
- re-open with the log holding those batches (replay) against a plain open;
- compaction of the delta into a new index directory.

Medians over ``--runs``; ``--json FILE`` also writes every timing (ms) with the machine.

Usage::

    .venv/bin/python bench/live_updates.py demo-index/shop [--runs 5] [--json bench/results/live_updates.json]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import machine_info, write_json

from shopmatch.backends.inprocess.live import LiveIndex, wal_path_for
from shopmatch.query import Query


def product(i: int, run: int) -> dict:
    word = f"zq{run}x{i}"
    return {"id": f"bench-{run}-{i}", "title": f"{word} insulated steel water bottle 750 ml", "price": 19.5}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the timings (ms) and the machine here")
    args = parser.parse_args()
    info = machine_info()
    timings: dict[str, list[float]] = {}

    def timed(name: str, seconds: float) -> None:
        timings.setdefault(name, []).append(seconds * 1000)

    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            index = Path(tmp) / f"index-{run}"
            shutil.copytree(args.index, index)
            started = time.perf_counter()
            live = LiveIndex(index, compact_after=0)
            timed("open (no log)", time.perf_counter() - started)
            live.search(Query("warm up"))
            for i in range(20):
                started = time.perf_counter()
                live.upsert([product(i, run)])
                timed("upsert 1 product", time.perf_counter() - started)
                found = live.search(Query(f"zq{run}x{i}", k=1)).results
                assert found and found[0].product_id == f"bench-{run}-{i}", "upsert not searchable"
            started = time.perf_counter()
            live.upsert([product(100 + i, run) for i in range(100)])
            timed("upsert batch of 100", time.perf_counter() - started)
            for i in range(5):
                started = time.perf_counter()
                live.delete([f"bench-{run}-{i}"])
                timed("delete 1 product", time.perf_counter() - started)
            live.close()
            started = time.perf_counter()
            live = LiveIndex(index, compact_after=0)
            timed("open + replay 26 batches (120 upserts, 5 deletes)", time.perf_counter() - started)
            started = time.perf_counter()
            report = live.compact()
            timed(f"compaction ({report['products']:,} products)", time.perf_counter() - started)
            live.close()
            assert wal_path_for(index).read_bytes() == b""
            shutil.rmtree(index)
    print("| operation | median ms | min | max | n |")
    print("|---|---|---|---|---|")
    for name, values in timings.items():
        print(f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} | {len(values)} |")
    summary = {
        name: {"median_ms": statistics.median(v), "min_ms": min(v), "max_ms": max(v), "n": len(v), "ms": v}
        for name, v in timings.items()
    }
    write_json(args.json, {"machine": info, "index": str(args.index), "runs": args.runs, "operations": summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
