"""Read and write ``events.jsonl`` (plain or ``.gz``): validated, de-duplicated, impressions joined to interactions.

:func:`read_events` reads a JSON-lines file of events (see :mod:`shopmatch.events.model`) into an
:class:`EventLog`; :func:`collect_events` does the same for events already in memory. Both apply
the rules that need more than one line:

- **Idempotency**: events with the same ``event_id`` are one event; an impression repeated with the
  same ``search_id`` and the same content is one impression. The repeats are counted in
  :attr:`EventLog.duplicates`. The same id used for two *different* events is an error.
- **Joining**: an interaction's ``position`` is filled in from its impression when left out; a
  position that disagrees with the impression, or a product the impression did not show, is an error
  naming the interaction's line (and the impression's).
- **Orphans**: a click, cart or purchase whose ``search_id`` has no impression is kept (it may come
  from another service worker, or from before a restart) and counted in :attr:`EventLog.orphans`;
  it cannot be corrected for position bias, so the click models leave it out.

Errors name the file, the line and the field. With ``on_error="skip"`` a bad line is skipped and
recorded in :attr:`EventLog.skipped` instead (as :func:`shopmatch.catalog.read_catalog` does).

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.jsonl"
    >>> _ = path.write_text(
    ...     '{"type": "impression", "search_id": "s1", "query": "mug", "results": ["a", "b"],'
    ...     ' "ts": "2026-12-06T10:00Z"}\\n'
    ...     '{"type": "click", "event_id": "e1", "search_id": "s1", "product_id": "b", "ts": "2026-12-06T10:01Z"}\\n'
    ...     '{"type": "click", "event_id": "e1", "search_id": "s1", "product_id": "b", "ts": "2026-12-06T10:01Z"}\\n'
    ...     '{"type": "purchase", "search_id": "s0", "product_id": "c", "ts": "2026-12-06T10:02Z"}\\n')
    >>> log = read_events(path)
    >>> len(log.impressions), len(log.interactions), log.duplicates, len(log.orphans)
    (1, 2, 1, 1)
    >>> log.interactions[0].position   # filled in from the impression
    2
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shopmatch.errors import DataError, SkipReport
from shopmatch.events.model import Event, Impression, Interaction, parse_event

logger = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]


@dataclass
class EventLog:
    """The events of a file (or a batch), de-duplicated, interactions joined to their impressions.

    Attributes:
        impressions: One per ``search_id``, in file order.
        interactions: Clicks, carts and purchases in file order (repeats of an ``event_id``
            removed), ``position`` filled in from the impression where it was left out.
        duplicates: Events dropped as repeats of one already read.
        skipped: What ``on_error="skip"`` skipped (None when reading with ``on_error="raise"``).
        path: The file read, if any.
    """

    impressions: list[Impression] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    duplicates: int = 0
    skipped: SkipReport | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        self.by_search_id: dict[str, Impression] = {i.search_id: i for i in self.impressions}

    @property
    def orphans(self) -> list[Interaction]:
        """Interactions whose ``search_id`` has no impression (kept, but not usable for debiasing)."""
        return [i for i in self.interactions if i.search_id not in self.by_search_id]

    def events(self) -> Iterator[Event]:
        """Impressions, then interactions (the order :func:`write_events` writes a log in)."""
        yield from self.impressions
        yield from self.interactions

    def summary(self) -> str:
        """One line: how many of each, duplicates, orphans, skipped lines.

        Example:
            >>> EventLog().summary()
            '0 impressions, 0 interactions'
        """
        text = f"{len(self.impressions):,} impressions, {len(self.interactions):,} interactions"
        orphans = len(self.orphans)
        if orphans:
            text += f" ({orphans:,} without an impression)"
        if self.duplicates:
            text += f"; {self.duplicates:,} duplicate events ignored"
        if self.skipped is not None and self.skipped.count:
            text += f"; {self.skipped.count:,} bad lines skipped"
        return text


def read_events(path: str | Path, *, on_error: OnError = "raise") -> EventLog:
    """Read a JSON-lines events file (``.jsonl``, or ``.jsonl.gz``).

    Args:
        path: The file: one event object per line (blank lines are ignored).
        on_error: ``"raise"`` (default) stops at the first bad line with a :class:`DataError`;
            ``"skip"`` skips bad lines, records them in :attr:`EventLog.skipped` and logs a summary.

    Returns:
        The :class:`EventLog` (see the module docstring for duplicates and orphans).

    Raises:
        DataError: unreadable file, a line that is not JSON (or holds NaN/Infinity), a bad event
            (see :func:`~shopmatch.events.model.parse_event`), an ``event_id`` or ``search_id`` used
            for two different events, an interaction that disagrees with its impression.
    """
    path = Path(path)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not path.is_file():
        raise DataError("file not found", path=path)
    report = SkipReport(str(path))
    log = collect_events(_parsed_lines(path, report, on_error), path=path, on_error=on_error, report=report)
    logger.info("%s: %s", path, log.summary())
    return log


def collect_events(
    events: Iterable[Event | tuple[int, Event]],
    *,
    path: str | Path | None = None,
    on_error: OnError = "raise",
    report: SkipReport | None = None,
) -> EventLog:
    """Build an :class:`EventLog` from events in memory (or ``(line, event)`` pairs).

    The same rules as :func:`read_events`; without line numbers an error names the event's
    1-based place in ``events`` as its line.

    Example:
        >>> from datetime import UTC, datetime
        >>> now = datetime(2026, 12, 6, tzinfo=UTC)
        >>> log = collect_events([Impression("s1", "mug", ("a",), now), Interaction("click", "s1", "a", now)])
        >>> log.interactions[0].position
        1
    """
    report = report if report is not None else SkipReport(str(path) if path is not None else "<events>")
    numbered = [item if isinstance(item, tuple) else (n, item) for n, item in enumerate(events, start=1)]
    impressions: dict[str, tuple[int, Impression]] = {}
    seen_ids: dict[str, tuple[int, Event]] = {}
    duplicates = 0
    kept: list[tuple[int, Event]] = []

    def bad(err: DataError, line: int) -> None:
        err = err.located(path=path, line=line)
        if on_error == "raise":
            raise err
        report.errors.append(err)

    for line, event in numbered:  # pass 1: repeats and the impressions by search_id
        try:
            if event.event_id is not None and event.event_id in seen_ids:
                first_line, first = seen_ids[event.event_id]
                if first != event:
                    raise DataError(
                        f"{event.event_id!r} was used on line {first_line} for a different event", field="event_id"
                    )
                duplicates += 1
                continue
            if isinstance(event, Impression) and event.search_id in impressions:
                first_line, first = impressions[event.search_id]
                if _same_impression(first, event):
                    duplicates += 1
                    continue
                raise DataError(
                    f"{event.search_id!r} already has a different impression (line {first_line})", field="search_id"
                )
        except DataError as err:
            bad(err, line)
            continue
        if event.event_id is not None:
            seen_ids[event.event_id] = (line, event)
        if isinstance(event, Impression):
            impressions[event.search_id] = (line, event)
        kept.append((line, event))

    shown: list[Impression] = []
    done: list[Interaction] = []
    for line, event in kept:  # pass 2: interactions checked against their impressions
        if isinstance(event, Impression):
            shown.append(event)
            continue
        try:
            done.append(_joined(event, impressions.get(event.search_id)))
        except DataError as err:
            bad(err, line)
    if on_error == "skip" and report.count:
        logger.warning(report.summary())
    return EventLog(
        shown,
        done,
        duplicates=duplicates,
        skipped=report if on_error == "skip" else None,
        path=str(path) if path is not None else None,
    )


def _same_impression(a: Impression, b: Impression) -> bool:
    return dataclasses.replace(a, event_id=None) == dataclasses.replace(b, event_id=None)


def _joined(event: Interaction, shown: tuple[int, Impression] | None) -> Interaction:
    """The interaction with its position from the impression; DataError where they disagree."""
    if shown is None:
        return event  # an orphan: kept as it is
    line, impression = shown
    position = impression.position_of(event.product_id)
    if position is None:
        where = f"{len(impression.results)} products" if impression.results else "no products"
        raise DataError(
            f"{event.product_id!r} is not among the results of search {event.search_id!r} "
            f"(its impression on line {line} shows {where})",
            field="product_id",
        )
    if event.position is None:
        return event.at(position)
    if event.position != position:
        raise DataError(
            f"is {event.position}, but the impression of search {event.search_id!r} (line {line}) "
            f"shows {event.product_id!r} at position {position}",
            field="position",
        )
    return event


def _parsed_lines(path: Path, report: SkipReport, on_error: OnError) -> Iterator[tuple[int, Event]]:
    with _open(path, "rb") as handle:
        for line, raw in enumerate(handle, start=1):
            try:
                try:
                    text = raw.decode("utf-8-sig" if line == 1 else "utf-8")
                except UnicodeDecodeError as err:
                    byte, column = raw[err.start], err.start + 1
                    raise DataError(f"is not valid UTF-8 (byte {byte:#04x} at column {column})") from None
                if not text.strip():
                    continue
                try:
                    record = _DECODER.decode(text)
                except json.JSONDecodeError as err:
                    raise DataError(f"invalid JSON: {err.msg} at column {err.colno}") from None
                yield line, parse_event(record)
            except DataError as err:
                err = err.located(path=path, line=line)
                if on_error == "raise":
                    raise err from None
                report.errors.append(err)


def _no_constant(name: str) -> Any:
    raise DataError(f"{name} is not a JSON number (JSON has no NaN or infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise DataError(f"the number {text} is too large")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def write_events(events: Iterable[Event], path: str | Path) -> int:
    """Write events as canonical JSON lines (UTF-8; gzip'd when ``path`` ends in ``.gz``).

    The file is written next to ``path`` and renamed into place, so a reader never sees half of
    it. Returns how many events were written.

    Example:
        >>> import pathlib, tempfile
        >>> from datetime import UTC, datetime
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.jsonl.gz"
        >>> write_events([Impression("s1", "mug", ("a",), datetime(2026, 12, 6, tzinfo=UTC))], path)
        1
        >>> read_events(path).impressions[0].query
        'mug'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    count = 0
    try:
        with _open(tmp, "wt", gz=path.suffix.lower() == ".gz") as handle:
            for event in events:
                handle.write(_json_line(event.to_dict()))
                count += 1
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def _json_line(record: dict[str, Any]) -> str:
    """One JSON line; text holding a lone surrogate (valid JSON, not valid UTF-8) is written escaped."""
    text = json.dumps(record, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record, allow_nan=False)
    return text + "\n"


def _open(path: Path, mode: str, *, gz: bool | None = None):
    if gz if gz is not None else path.suffix.lower() == ".gz":
        return gzip.open(path, mode, encoding="utf-8" if "t" in mode else None)
    return open(path, mode, encoding="utf-8" if "t" in mode else None)
