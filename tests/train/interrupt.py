"""Simulated crashes for the resume tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from shopmatch.train.summary import TrainingSummary


@contextmanager
def crash_as_epoch_ends(monkeypatch, crash_epoch: int) -> Iterator[None]:
    """Training in the block is interrupted (KeyboardInterrupt) as epoch ``crash_epoch`` ends, when
    the summary records it: the checkpoints of the epochs before it stay. The block must crash."""
    original = TrainingSummary.log_epoch

    def crash(self, *, epoch, seconds, metrics=None):
        if epoch == crash_epoch:
            raise KeyboardInterrupt("simulated crash")
        original(self, epoch=epoch, seconds=seconds, metrics=metrics)

    monkeypatch.setattr(TrainingSummary, "log_epoch", crash)
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(TrainingSummary, "log_epoch", original)
