"""Plots of a trained ranker: its feature importances (total gain), a PNG on matplotlib's Agg canvas.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "importance.png"
    >>> plot_importances({"bm25f": 3.0, "price": 1.0, "rating": 0.0}, path, title="demo")
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shopmatch.events.plots import _figure, _label, _save, _style


def plot_importances(importance: Mapping[str, float], path: str | Path, *, title: str, top: int = 20) -> None:
    """The ``top`` features by gain (features with none left out), largest on top."""
    pairs = sorted(((n, g) for n, g in importance.items() if g > 0), key=lambda p: -p[1])[:top][::-1]
    fig = _figure(6.5, 0.8 + 0.28 * max(1, len(pairs)))
    ax = fig.add_subplot()
    ax.barh([n for n, _ in pairs], [g for _, g in pairs], color="#4c72b0")
    ax.set_xlabel("total gain")
    ax.set_title(_label(f"Feature importance — {title}"), fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    _style(ax)
    _save(fig, path)
