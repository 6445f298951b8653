"""Load and crash test of ``POST /events``: N concurrent clients, then SIGKILL, then every acknowledged event checked.

Starts ``shopmatch serve INDEX --events DIR --token T`` on a free 127.0.0.1 port (a copy of the
index, so nothing is written beside the original), then:

1. **Load**: ``--clients`` asyncio clients (httpx) post batches for ``--seconds``, one after another.
   A batch holds ``--batch`` events: impressions and clicks on their products, each with a unique
   ``event_id``. Reported: batches, events, errors (any status ≠ 200 or transport error),
   throughput (events/s, batches/s) and batch latency percentiles.
2. **Bad input** (after the load): a wrong event type, a missing field, a batch over the limit and a
   click for a search the service never saw; the first three must get a 4xx whose ``field`` names the
   event and its field, the last must be accepted and counted as an orphan.
3. **Crash**: the service is killed with SIGKILL (no shutdown, no flushing), the log files are read
   (a torn last line is allowed) and every ``event_id`` the service acknowledged with a 200 must be in them.

The exit status is 0 only when there were no errors, every check passed and no acknowledged event
is missing. Bounded: it stops by itself after ``--seconds``.

Usage::

    .venv/bin/python bench/events_load.py demo-index/shop [--clients 32] [--seconds 60] [--batch 20] \\
        [--json bench/results/events_load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from shopmatch.service.process import ServiceProcess

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_header, markdown_table, write_json  # noqa: E402

TOKEN = "events-load-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
TS = "2026-12-06T10:00:00Z"


def batch(client: int, number: int, size: int) -> list[dict[str, Any]]:
    """``size`` events: an impression of 5 products, then clicks on 4 of them, repeated."""
    events: list[dict[str, Any]] = []
    step = 0
    while len(events) < size:
        search_id = f"load-{client}-{number}-{step}"
        products = [f"p{(client * 31 + number * 7 + step + i) % 997}" for i in range(5)]
        events.append(
            {
                "type": "impression",
                "event_id": f"{search_id}-i",
                "search_id": search_id,
                "query": "usb cable",
                "results": products,
                "ts": TS,
                "session_id": f"session-{client}",
            }
        )
        for i, product in enumerate(products[:4]):
            if len(events) >= size:
                break
            events.append(
                {
                    "type": "click",
                    "event_id": f"{search_id}-c{i}",
                    "search_id": search_id,
                    "product_id": product,
                    "position": i + 1,
                    "ts": TS,
                }
            )
        step += 1
    return events


async def client_loop(url: str, client_no: int, size: int, until: float, out: dict[str, list]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30.0, headers=HEADERS) as client:
        number = 0
        while time.perf_counter() < until:
            events = batch(client_no, number, size)
            number += 1
            started = time.perf_counter()
            try:
                response = await client.post("/events", json={"events": events})
                ok = response.status_code == 200 and response.json().get("accepted") == len(events)
            except httpx.HTTPError as error:
                ok, response = False, error
            out["latencies"].append(time.perf_counter() - started)
            if ok:
                out["acknowledged"].extend(e["event_id"] for e in events)
            else:
                out["errors"].append(str(getattr(response, "status_code", response)))


async def load(url: str, clients: int, seconds: float, size: int) -> dict[str, Any]:
    out: dict[str, list] = {"latencies": [], "acknowledged": [], "errors": []}
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(client_loop(url, c, size, until, out) for c in range(clients)))
    elapsed = time.perf_counter() - started
    ordered = sorted(out["latencies"])

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1) if ordered else 0.0

    return {
        "clients": clients,
        "batch": size,
        "seconds": round(elapsed, 1),
        "batches": len(ordered),
        "events_acknowledged": len(out["acknowledged"]),
        "errors": len(out["errors"]),
        "error_kinds": sorted(set(out["errors"]))[:5],
        "events_per_s": round(len(out["acknowledged"]) / elapsed, 1),
        "batches_per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
        "_acknowledged": out["acknowledged"],
    }


def bad_input_checks(url: str, max_batch: int) -> list[dict[str, Any]]:
    """Each check: what was sent, the status and error field expected and got, passed or not."""
    click = {"type": "click", "search_id": "load-0-0-0", "product_id": "p0", "ts": TS}
    cases = [
        ("wrong event type", [click, {**click, "type": "clik"}], 422, "events[1].type"),
        ("missing field", [{k: v for k, v in click.items() if k != "product_id"}], 422, "events[0].product_id"),
        ("ts not a time", [{**click, "ts": "yesterday"}], 422, "events[0].ts"),
        ("oversized batch", [click] * (max_batch + 1), 413, "events"),
    ]
    results = []
    with httpx.Client(base_url=url, timeout=30.0, headers=HEADERS) as client:
        for name, events, status, field in cases:
            response = client.post("/events", json={"events": events})
            error = response.json().get("error", {}) if response.status_code != 200 else {}
            got_field = error.get("field")
            passed = response.status_code == status and got_field == field and field in error.get("message", "")
            results.append(
                {
                    "check": name,
                    "expected": f"{status} {field}",
                    "got": f"{response.status_code} {got_field}",
                    "message": error.get("message"),
                    "passed": passed,
                }
            )
        before = client.get("/health").json().get("orphan_events", 0)
        orphan = {"type": "click", "search_id": "never-served-0001", "product_id": "p1", "ts": TS}
        response = client.post("/events", json={"events": [orphan]})
        after = client.get("/health").json().get("orphan_events", 0)
        answer = response.json() if response.status_code == 200 else {}
        passed = response.status_code == 200 and answer.get("orphans") == 1 and after == before + 1
        results.append(
            {
                "check": "click for an unknown search_id",
                "expected": "200, counted as an orphan",
                "got": f"{response.status_code}, orphans {answer.get('orphans')}, /health {before} → {after}",
                "message": None,
                "passed": passed,
            }
        )
    return results


def logged_ids(directory: Path) -> tuple[set[str], int]:
    """Every event_id in the log files, and how many lines could not be read (a torn tail)."""
    found: set[str] = set()
    torn = 0
    for path in sorted(directory.glob("events-*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                torn += 1
                continue
            if "event_id" in record:
                found.add(record["event_id"])
    return found, torn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch", type=int, default=20, help="events per POST /events")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    max_batch = 1_000  # the service default (events_max_batch)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        index, events_dir = work / "index", work / "events"
        shutil.copytree(args.index, index)
        server = ServiceProcess(index, "--events", str(events_dir), token=TOKEN).start()
        try:
            result = asyncio.run(load(server.url, args.clients, args.seconds, args.batch))
            checks = bad_input_checks(server.url, max_batch)
            health = httpx.get(server.url + "/health", timeout=30).json()
        finally:
            server.kill()  # SIGKILL: whatever was acknowledged must already be on disk
        acknowledged = result.pop("_acknowledged")
        found, torn = logged_ids(events_dir)
        files = len(list(events_dir.glob("events-*.jsonl")))
    missing = [e for e in acknowledged if e not in found]
    result.update(
        events_written_per_health=health.get("events_written"),
        log_files=files,
        torn_lines=torn,
        acknowledged_missing_after_kill=len(missing),
        missing_examples=missing[:5],
    )
    print("\n".join(machine_header()))
    print()
    print(f"## POST /events: {args.clients} clients × {args.seconds:g} s, {args.batch} events a batch\n")
    print(
        markdown_table(
            ["batches", "events acked", "errors", "events/s", "batches/s", "p50 ms", "p90 ms", "p99 ms"],
            [
                [
                    f"{result['batches']:,}",
                    f"{result['events_acknowledged']:,}",
                    result["errors"],
                    result["events_per_s"],
                    result["batches_per_s"],
                    result["p50_ms"],
                    result["p90_ms"],
                    result["p99_ms"],
                ]
            ],
        )
    )
    print(
        f"\n## After SIGKILL\n\n{len(acknowledged):,} acknowledged events, {len(missing)} missing from the "
        f"{files} log file(s) ({torn} torn line(s) skipped).\n"
    )
    print("## Bad input\n")
    print(
        markdown_table(
            ["check", "expected", "got", "passed"],
            [[c["check"], c["expected"], c["got"], "yes" if c["passed"] else "**no**"] for c in checks],
        )
    )
    write_json(args.json, {"load": result, "checks": checks})
    ok = result["errors"] == 0 and not missing and all(c["passed"] for c in checks)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
