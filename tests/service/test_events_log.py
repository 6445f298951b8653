"""The events log on its own: a torn last line cut off on opening, numbering resumed after a restart,
concurrent appends each whole, a search's impression not waiting for a lock held elsewhere."""

from __future__ import annotations

import threading

from shopmatch.events import Interaction, parse_event, read_events
from shopmatch.service.events_log import EventsLog

TS = "2026-12-06T10:00:04Z"


def click(event_id: str, search_id: str = "s") -> Interaction:
    return parse_event({"type": "click", "event_id": event_id, "search_id": search_id, "product_id": "p", "ts": TS})


def test_a_torn_last_line_is_cut_off_when_the_log_opens(tmp_path):
    log = EventsLog(tmp_path)
    log.append([click("e1"), click("e2")])
    log.close()
    with open(log.current, "ab") as handle:
        handle.write(b'{"type": "click", "event_id": "e3", "sea')  # a crash in the middle of a write
    reopened = EventsLog(tmp_path)
    reopened.append([click("e4")])
    reopened.close()
    assert [e.event_id for e in read_events(reopened.current).interactions] == ["e1", "e2", "e4"]


def test_numbering_goes_on_after_a_restart(tmp_path):
    log = EventsLog(tmp_path, max_file_bytes=150)
    for n in range(3):
        log.append([click(f"e{n}")])
    log.close()
    reopened = EventsLog(tmp_path, max_file_bytes=150)
    assert reopened.current == log.current
    reopened.append([click("e9")])
    reopened.close()
    names = [p.name for p in reopened.files()]
    assert names == [f"events-{n:06d}.jsonl" for n in range(1, len(names) + 1)] and len(names) == 4
    found = [e.event_id for p in reopened.files() for e in read_events(p).interactions]
    assert found == ["e0", "e1", "e2", "e9"]


def test_concurrent_appends_are_whole_lines_and_ids_are_written_once(tmp_path):
    log = EventsLog(tmp_path, max_file_bytes=4096)

    def post(worker: int) -> None:
        for n in range(50):
            log.append([click(f"w{worker}-{n}"), click(f"shared-{n}")])

    threads = [threading.Thread(target=post, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    found = [e.event_id for p in log.files() for e in read_events(p).interactions]
    assert sorted(found) == sorted(
        [f"w{w}-{n}" for w in range(8) for n in range(50)] + [f"shared-{n}" for n in range(50)]
    )
    assert log.duplicates == 7 * 50 and log.written == len(found) and len(log.files()) > 1


def test_the_id_window_forgets_the_oldest(tmp_path):
    log = EventsLog(tmp_path, recent_ids=2)
    assert [log.append([click(i)]).written for i in ("a", "b", "c", "a", "c")] == [1, 1, 1, 1, 0]


def test_an_unsynced_append_does_not_wait_for_another_batchs_fsync(tmp_path, monkeypatch):
    """A search's impression (sync=False) goes through while an events batch waits on a slow disk."""
    import os
    import time

    import shopmatch.service.events_log as events_log

    log = EventsLog(tmp_path)
    syncing = threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        syncing.set()
        time.sleep(1.0)
        real_fsync(fd)

    monkeypatch.setattr(events_log.os, "fsync", slow_fsync)
    batch = threading.Thread(target=log.append, args=([click("slow")],))
    batch.start()
    assert syncing.wait(5)
    started = time.perf_counter()
    log.append([click("search", search_id="s2")], sync=False)
    waited = time.perf_counter() - started
    batch.join()
    log.close()
    assert waited < 0.5, f"the unsynced append waited {waited:.2f} s for another batch's fsync"
    assert [e.event_id for e in read_events(log.current).interactions] == ["slow", "search"]
