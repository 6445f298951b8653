"""Progress reporting for work that can take seconds (indexing, evaluation).

Library code calls :func:`track`; whether a bar is drawn is decided once, by the CLI, with
:func:`set_progress` (off by default so library use and tests stay quiet).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_enabled = False


def set_progress(enabled: bool) -> None:
    """Turn progress bars on (the CLI does, on a terminal) or off."""
    global _enabled
    _enabled = enabled


def track(items: Iterable[T], *, total: int | None = None, description: str = "") -> Iterator[T]:
    """Iterate over ``items``, drawing a rich progress bar on stderr when enabled."""
    if not _enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield from progress.track(items, total=total, description=description)


def progress_enabled() -> bool:
    """Whether progress bars are on (for libraries that draw their own, such as the trainers)."""
    return _enabled
