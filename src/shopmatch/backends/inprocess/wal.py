"""Write-ahead log of catalog updates: every acknowledged write is on disk before it is applied.

One JSON line per batch, each with a sequence number and a CRC-32 of its JSON text::

    {"seq": 7, "op": "upsert", "products": [{...}, ...]}\t1c291ca3
    {"seq": 8, "op": "delete", "ids": ["B01"]}\tf0a1b2c3

:meth:`append` writes a line and ``fsync``\\s it before returning, so a write the service
acknowledged survives a crash or ``kill -9``. A torn last line (a crash during the append, so
never acknowledged) is ignored on reading; a damaged line anywhere else is an error naming the
file and line. :meth:`truncate_through` drops the batches a compacted index already holds,
by writing the remainder to a temporary file renamed over the log.

Example:
    >>> import tempfile, pathlib
    >>> log = WriteAheadLog(pathlib.Path(tempfile.mkdtemp()) / "index.wal")
    >>> log.append("delete", {"ids": ["B01"]})
    1
    >>> [(entry.seq, entry.op) for entry in log.read()]
    [(1, 'delete')]
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopmatch.errors import DataError

OPERATIONS = ("upsert", "delete")


@dataclass(frozen=True)
class LogEntry:
    """One logged batch: ``op`` is ``upsert`` (``body["products"]``) or ``delete`` (``body["ids"]``)."""

    seq: int
    op: str
    body: dict[str, Any]


def _encode(seq: int, op: str, body: dict[str, Any]) -> bytes:
    """One log line; strict JSON (``NaN`` or infinity raise ValueError: no JSON reader takes them back)."""
    text = json.dumps({"seq": seq, "op": op, **body}, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return f"{text}\t{zlib.crc32(text.encode('utf-8')):08x}\n".encode()


def _decode(line: bytes, path: Path, number: int) -> LogEntry:
    try:
        text, checksum = line.decode("utf-8").rsplit("\t", 1)
        if f"{zlib.crc32(text.encode('utf-8')):08x}" != checksum.strip():
            raise ValueError("checksum mismatch")
        record = json.loads(text)
        seq, op = record.pop("seq"), record.pop("op")
        if not isinstance(seq, int) or op not in OPERATIONS:
            raise ValueError(f"bad seq {seq!r} or op {op!r}")
    except (ValueError, KeyError, UnicodeDecodeError) as err:
        raise DataError(f"damaged log entry ({err})", path=path, line=number) from None
    return LogEntry(seq, op, record)


class WriteAheadLog:
    """An append-only, fsync'd log of update batches (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._last_seq = max((entry.seq for entry in self.read()), default=0)
        self._file = open(self.path, "ab")

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest logged batch (0 for an empty log)."""
        return self._last_seq

    def append(self, op: str, body: dict[str, Any], *, min_seq: int = 0) -> int:
        """Log one batch durably (written and fsync'd) and return its sequence number.

        ``min_seq``: the next number is above it (the index's own last applied batch, so
        numbering goes on after a compaction emptied the log).
        """
        if op not in OPERATIONS:
            raise ValueError(f"unknown log operation {op!r}; known: {', '.join(OPERATIONS)}")
        with self._lock:
            seq = max(self._last_seq, min_seq) + 1
            self._file.write(_encode(seq, op, body))
            self._file.flush()
            os.fsync(self._file.fileno())
            self._last_seq = seq
            return seq

    def read(self) -> Iterator[LogEntry]:
        """Every complete batch in order; a torn final line (an unacknowledged write) is skipped."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            lines = handle.read().split(b"\n")
        complete, tail = lines[:-1], lines[-1]  # the part after the last newline never finished
        for number, line in enumerate(complete, start=1):
            if line.strip():
                yield _decode(line, self.path, number)
        del tail

    def truncate_through(self, seq: int) -> int:
        """Drop the batches numbered ``seq`` and below (a compacted index holds them); return how
        many batches remain. Atomic: a crash leaves either the old log or the new one."""
        with self._lock:
            keep = [entry for entry in self.read() if entry.seq > seq]
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "wb") as handle:
                for entry in keep:
                    handle.write(_encode(entry.seq, entry.op, entry.body))
                handle.flush()
                os.fsync(handle.fileno())
            self._file.close()
            os.replace(tmp, self.path)
            _fsync_directory(self.path.parent)
            self._file = open(self.path, "ab")
            return len(keep)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
