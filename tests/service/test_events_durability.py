"""Several clients post events (and search) against a real server process, which is SIGKILLed;
every acknowledged event is in the log after, read back with the events reader."""

from __future__ import annotations

import threading
import time

import httpx

from shopmatch.events import read_events
from shopmatch.service.events_log import EventsLog
from shopmatch.service.process import ServiceProcess as Server

TOKEN = "durable"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CLIENTS = 8


def _post(url: str, worker: int, acked: list, searched: list, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers=AUTH, timeout=10.0) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 5 == 0:
                    response = client.get("/search", params={"q": "usb cable", "k": 3})
                    if response.status_code == 200:
                        searched.append(response.json()["search_id"])
                    continue
                batch = [
                    {"type": "click", "event_id": f"w{worker}-{n}-{j}", "search_id": f"s{worker}-{n}",
                     "product_id": f"p{j}", "position": j + 1, "ts": "2026-12-06T10:00:00Z"}
                    for j in range(1 + n % 3)
                ]  # fmt: skip
                response = client.post("/events", json={"events": batch})
            except httpx.HTTPError:
                return  # the server is gone: this batch was never acknowledged
            assert response.status_code == 200, response.text
            acked.extend(e["event_id"] for e in batch)


def test_sigkill_while_clients_post_events_loses_no_acknowledged_event(service_index, tmp_path):
    events = tmp_path / "events"
    server = Server(service_index, "--events", str(events), token=TOKEN).start()
    acked: list[str] = []
    searched: list[str] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_post, args=(server.url, w, acked, searched, stop)) for w in range(CLIENTS)]
    for client in clients:
        client.start()
    deadline = time.monotonic() + 60
    while len(acked) < 600 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    stop.set()
    for client in clients:
        client.join(timeout=30)
    assert len(acked) >= 600, f"only {len(acked)} events acknowledged in 60 s"

    found: set[str] = set()
    impressions: set[str] = set()
    for path in EventsLog(events).files():  # opening the log cuts a torn, unacknowledged last line
        log = read_events(path)
        found |= {e.event_id for e in log.interactions}
        impressions |= {i.search_id for i in log.impressions}
    missing = set(acked) - found
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert len(found) >= len(acked) and set(searched) <= impressions
