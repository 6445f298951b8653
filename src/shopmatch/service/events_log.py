"""The service's events log: shopper events appended as JSON lines, fsync'd, rotated by size.

Files are ``events-000001.jsonl``, ``events-000002.jsonl``, … in one directory, each a plain
``events.jsonl`` in the public format (:mod:`shopmatch.events`), so
:func:`shopmatch.events.read_events` reads every one of them. A file is closed and the next one
started when an append would take it past ``max_file_bytes`` (a single batch larger than that gets
a file of its own).

- :meth:`EventsLog.append` writes a batch and ``fsync``\\s it before returning (the ``POST /events``
  path: an acknowledged event survives a crash or ``kill -9``). With ``sync=False`` (impressions
  recorded by ``/search``) the lines are handed to the operating system but not fsync'd: they
  survive the service process dying, not the machine losing power; a search never waits for a disk.
- **Idempotency**: an ``event_id`` seen within the last ``recent_ids`` ids this process wrote is
  acknowledged but not written again (the window is per process and starts empty; the readers drop
  repeats that slip through, e.g. a client retrying across a restart).
- **Orphans**: an interaction whose ``search_id`` is not among the last ``recent_searches``
  impressions this process wrote is written and counted (:attr:`EventsLog.orphans`): it may come
  from another worker or from before a restart. Those impressions are kept in memory
  (:meth:`EventsLog.impression`) so that the service can refuse an interaction that disagrees with
  one (a product it did not show, another position), which would make the log unreadable.
- A final line left torn by a crash (never acknowledged) is cut off when the log is opened.

One lock covers the append (the write and the id bookkeeping); the fsync comes after it, under a
lock of its own, and validation and JSON encoding come before it. So a search (whose impression is
not fsync'd) never waits for an events batch's fsync, and batches that arrive together share the
disk flushes.

Example:
    >>> import pathlib, tempfile
    >>> from shopmatch.events import parse_event
    >>> log = EventsLog(pathlib.Path(tempfile.mkdtemp()))
    >>> click = parse_event({"type": "click", "event_id": "e1", "search_id": "s1", "product_id": "p1",
    ...                      "ts": "2026-12-06T10:00Z"})
    >>> log.append([click]).written, log.append([click]).duplicates, log.orphans
    (1, 1, 1)
    >>> [path.name for path in log.files()]
    ['events-000001.jsonl']
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopmatch.events.model import Event, Impression

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_RECENT_IDS = 100_000
DEFAULT_RECENT_SEARCHES = 100_000
FILE_NAME = re.compile(r"^events-(\d{6,})\.jsonl$")


@dataclass(frozen=True)
class AppendResult:
    """What one :meth:`EventsLog.append` did: events ``written``, repeats skipped, orphans among them."""

    written: int
    duplicates: int
    orphans: int


class EventsLog:
    """An append-only, size-rotated directory of ``events-NNNNNN.jsonl`` files (see the module docstring).

    Args:
        directory: where the files go (created if missing).
        max_file_bytes: start a new file once the current one would grow past this.
        recent_ids: how many ``event_id``\\s are remembered for idempotency.
        recent_searches: how many served ``search_id``\\s are remembered to tell orphans apart.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        recent_ids: int = DEFAULT_RECENT_IDS,
        recent_searches: int = DEFAULT_RECENT_SEARCHES,
    ) -> None:
        if max_file_bytes < 1:
            raise ValueError(f"max_file_bytes must be ≥ 1, got {max_file_bytes}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self._recent_ids: OrderedDict[str, None] = OrderedDict()
        self._recent_searches: OrderedDict[str, Impression] = OrderedDict()
        self._id_window, self._search_window = recent_ids, recent_searches
        self._lock = threading.Lock()  # the append: write and bookkeeping
        self._sync_lock = threading.Lock()  # fsync and closing a file (taken inside _lock, never the other way)
        self.written = self.duplicates = self.orphans = 0
        existing = self.files()
        self._number = _number(existing[-1]) if existing else 1
        self._path = self._file_path(self._number)
        _cut_torn_tail(self._path)
        self._file = open(self._path, "ab")
        self._size = self._file.tell()

    def files(self) -> list[Path]:
        """The log's files, oldest first."""
        return sorted((p for p in self.directory.iterdir() if FILE_NAME.match(p.name)), key=_number)

    @property
    def current(self) -> Path:
        """The file being appended to."""
        return self._path

    def impression(self, search_id: str) -> Impression | None:
        """The impression of ``search_id`` if it is among the recent ones this process wrote."""
        return self._recent_searches.get(search_id)

    def append(self, events: Iterable[Event], *, sync: bool = True) -> AppendResult:
        """Append validated events (written in canonical form) and return what was done.

        ``sync``: fsync before returning (the default). Repeats of an ``event_id`` in the window,
        in the log or within ``events``, are counted and skipped. Raises ValueError (before
        writing anything) when an event holds NaN or infinity.
        """
        encoded = [(event, encode_event(event.to_dict())) for event in events]
        with self._lock:
            data: list[bytes] = []
            ids: list[str] = []
            searches: dict[str, Impression] = {}
            duplicates = orphans = 0
            for event, line in encoded:
                if event.event_id is not None:
                    if event.event_id in self._recent_ids or event.event_id in ids:
                        duplicates += 1
                        continue
                    ids.append(event.event_id)
                if isinstance(event, Impression):
                    searches[event.search_id] = event
                elif event.search_id not in self._recent_searches and event.search_id not in searches:
                    orphans += 1
                data.append(line)
            if data:
                self._write(b"".join(data))
            written_to = self._file
            _remember(self._recent_ids, dict.fromkeys(ids), self._id_window)
            _remember(self._recent_searches, searches, self._search_window)
            self.written += len(data)
            self.duplicates += duplicates
            self.orphans += orphans
        if sync and data:
            with self._sync_lock:
                if not written_to.closed:  # a rotation closes a file only after its fsync
                    os.fsync(written_to.fileno())
        return AppendResult(len(data), duplicates, orphans)

    def stats(self) -> dict[str, Any]:
        """Counts since the service started, and the file being written (for ``/health``)."""
        return {
            "events_written": self.written,
            "events_duplicates": self.duplicates,
            "orphan_events": self.orphans,
            "events_file": str(self._path),
        }

    def close(self) -> None:
        with self._lock, self._sync_lock:
            self._file.close()

    def _write(self, data: bytes) -> None:
        if self._size and self._size + len(data) > self.max_file_bytes:
            self._rotate()
        self._file.write(data)
        self._file.flush()  # in the OS's hands: survives the process
        self._size += len(data)

    def _rotate(self) -> None:
        with self._sync_lock:  # the closed file is complete on disk, whatever was written unsynced
            os.fsync(self._file.fileno())
            self._file.close()
        self._number += 1
        self._path = self._file_path(self._number)
        self._file = open(self._path, "ab")
        self._size = 0
        _fsync_directory(self.directory)  # the new file's name is durable too

    def _file_path(self, number: int) -> Path:
        return self.directory / f"events-{number:06d}.jsonl"


def encode_event(record: Mapping[str, Any]) -> bytes:
    """The log line of ``record``: compact JSON, UTF-8; text holding a lone surrogate (valid JSON, not
    valid UTF-8) is written escaped. Raises ValueError for NaN or infinity (no JSON reader takes them back).

    Example:
        >>> encode_event({"type": "click", "search_id": "s1"})
        b'{"type":"click","search_id":"s1"}\\n'
    """
    text = json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n").encode("ascii")


def _remember(window: OrderedDict[str, Any], items: Mapping[str, Any], size: int) -> None:
    for key, value in items.items():
        window[key] = value
    while len(window) > size:
        window.popitem(last=False)


def _number(path: Path) -> int:
    match = FILE_NAME.match(path.name)
    assert match is not None
    return int(match.group(1))


def _cut_torn_tail(path: Path) -> None:
    """Drop bytes after the last newline: a line a crash left half-written was never acknowledged."""
    if not path.exists():
        return
    with open(path, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        step = 64 * 1024
        end = size
        while end > 0:
            start = max(0, end - step)
            handle.seek(start)
            chunk = handle.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        if keep != size:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
