"""Kill the server with SIGKILL in the middle of a stream of upserts and deletes, restart it, and
find every acknowledged write applied and the index loadable (compactions run during the stream)."""

from __future__ import annotations

import random
import threading
import time

import httpx

from shopmatch.service.process import ServiceProcess as Server
from shopmatch.store import read_manifest

TOKEN = "durable"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _stream(url: str, acked: list, unacked: list, stop: threading.Event) -> None:
    rng = random.Random(7)
    with httpx.Client(base_url=url, headers=AUTH, timeout=10.0) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 4 == 0:
                    target = rng.choice([f"w{rng.randrange(n)}", f"p{rng.randrange(1, 33):03d}"])
                    op = ("delete", target, None)
                    response = client.delete(f"/products/{target}")
                    ok = response.status_code in (200, 404)
                    if response.status_code == 404:
                        op = ("noop", target, None)
                else:
                    batch = [
                        {"id": f"w{n}-{j}" if j else f"w{n}", "title": f"widget {n} v{j}"} for j in range(1 + n % 3)
                    ]
                    op = ("upsert", None, batch)
                    response = client.post("/products", json={"products": batch})
                    ok = response.status_code == 200
            except httpx.HTTPError:
                unacked.append(op)
                return  # the server is gone
            (acked if ok else unacked).append(op)


def test_sigkill_during_writes_loses_no_acknowledged_write(service_index):
    server = Server(service_index, "--compact-after", "40", token=TOKEN).start()
    acked: list = []
    unacked: list = []
    stop = threading.Event()
    writer = threading.Thread(target=_stream, args=(server.url, acked, unacked, stop))
    writer.start()
    deadline = time.monotonic() + 60
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    stop.set()
    writer.join(timeout=30)
    assert len(acked) >= 150, f"only {len(acked)} writes acknowledged in 60 s"

    expected: dict[str, str | None] = {}  # id → title, None = deleted
    for op, target, batch in acked:
        if op == "upsert":
            expected.update({p["id"]: p["title"] for p in batch})
        elif op == "delete":
            expected[target] = None
    uncertain = {t for op, t, b in unacked if op == "delete"} | {p["id"] for op, t, b in unacked if b for p in b}

    restarted = Server(service_index, "--compact-after", "0", token=TOKEN).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=10.0) as client:
            for product_id, title in expected.items():
                if product_id in uncertain:
                    continue  # its last write may or may not have happened: it was never acknowledged
                response = client.get(f"/products/{product_id}")
                if title is None:
                    assert response.status_code == 404, product_id
                else:
                    assert response.status_code == 200 and response.json()["title"] == title, product_id
            assert client.get("/search", params={"q": "widget"}).status_code == 200
            health = client.get("/health").json()
            assert health["status"] == "ok" and health["last_seq"] >= len([a for a in acked if a[0] != "noop"])
    finally:
        restarted.stop()
    assert read_manifest(service_index, kind="shopmatch-index", supported_version=99)["live_seq"] > 0  # compacted
