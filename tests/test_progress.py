"""track() yields every item whether or not a bar is drawn."""

from __future__ import annotations

import pytest

from shopmatch import progress


@pytest.mark.parametrize("enabled", [False, True])
def test_track_yields_all_items(enabled, monkeypatch):
    monkeypatch.setattr(progress, "_enabled", False)
    progress.set_progress(enabled)
    try:
        assert list(progress.track(iter(range(5)), total=5, description="x")) == [0, 1, 2, 3, 4]
        assert list(progress.track([], description="empty")) == []
    finally:
        progress.set_progress(False)
