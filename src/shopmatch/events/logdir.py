"""Read shopper events from a file or from a service's events directory (rotated ``events-NNNNNN.jsonl``).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "events-000001.jsonl").write_text(
    ...     '{"type": "impression", "search_id": "s1", "query": "mug", "results": ["a"], "ts": "2026-12-06T10:00Z"}\\n')
    >>> _ = (folder / "events-000002.jsonl").write_text(
    ...     '{"type": "click", "search_id": "s1", "product_id": "a", "ts": "2026-12-06T10:01Z"}\\n')
    >>> read_events_path(folder).summary()
    '1 impressions, 1 interactions'
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shopmatch.errors import DataError
from shopmatch.events.io import EventLog, OnError, SkipReport, _parsed_lines, collect_events, read_events

PATTERNS = ("*.jsonl", "*.jsonl.gz")


def event_files(path: str | Path) -> list[Path]:
    """``path`` itself, or the events files of a directory in name order (rotation order)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError("no such events file or directory", path=path)
    files = sorted({f for pattern in PATTERNS for f in path.glob(pattern) if f.is_file()}, key=lambda f: f.name)
    if not files:
        raise DataError("no events files (*.jsonl, *.jsonl.gz) in this directory", path=path)
    return files


def read_events_path(path: str | Path, *, on_error: OnError = "raise") -> EventLog:
    """:func:`~shopmatch.events.io.read_events` of a file, or of every events file of a directory as one log
    (an interaction may refer to an impression of an earlier file); errors name the file and line."""
    files = event_files(path)
    if len(files) == 1:
        return read_events(files[0], on_error=on_error)
    report = SkipReport(str(path))
    starts: list[tuple[int, Path]] = []  # (first running line number, file)

    def lines() -> Iterator[tuple[int, object]]:
        offset = 0
        for file in files:
            starts.append((offset, file))
            last = 0
            for line, event in _parsed_lines(file, report, on_error):
                last = line
                yield offset + line, event
            offset += last + 1

    try:
        return collect_events(lines(), path=path, on_error=on_error, report=report)
    except DataError as err:  # a join error: located by running line number; name the file and its line
        if err.line is None or err.path != str(path):
            raise
        offset, file = max((s for s in starts if s[0] < err.line), key=lambda s: s[0])
        raise DataError(err.message, path=file, line=err.line - offset, field=err.field) from None
