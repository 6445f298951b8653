"""bench/_common.py: the significance cells every benchmark table can print."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import _common  # noqa: E402


def test_significance_columns_hand_computed():
    # better on every one of 10 queries by 0.1: exact p = 2 / 2**10, every resampled mean is 0.1
    baseline = {f"q{i}": i / 20 for i in range(10)}
    system = {q: v + 0.1 for q, v in baseline.items()}
    cells = _common.significance_columns(baseline, system)
    assert len(cells) == len(_common.SIGNIFICANCE_HEADERS) == 5
    assert cells == ["+0.1000", "[+0.1000, +0.1000]", "0.0020", "yes", "10/0"]


def test_significance_columns_options_and_ties():
    rng = np.random.default_rng(0)
    a = rng.random(40)
    b = a.copy()
    b[:3] += 0.2
    b[3:5] -= 0.1
    cells = _common.significance_columns(a, b, resamples=2000, seed=1)
    assert cells[4] == "3/2" and cells[0] == f"{0.4 / 40:+.4f}"
    assert cells == _common.significance_columns(list(a), list(b), resamples=2000, seed=1)  # seeded


def test_doctests():
    assert doctest.testmod(_common).failed == 0
