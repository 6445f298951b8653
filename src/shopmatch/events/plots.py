"""Plots of shopper behaviour: rates by position (``events stats --report``) and fitted position propensities.

Both draw on matplotlib's Agg canvas (no display, no pyplot state) and write a PNG.

Example:
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "propensities.png"
    >>> plot_propensities(np.array([1.0, 0.5, 0.33]), path, title="pbm")
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

_SERIES = (("clicked", "click-through", "#4c72b0"), ("carted", "add to cart", "#dd8452"))
_SERIES += (("purchased", "purchase", "#55a868"),)


def plot_rates_by_position(positions: Sequence, path: str | Path, *, title: str = "Shopper events") -> None:
    """Click-through, add-to-cart and purchase rates by position (:class:`~shopmatch.events.stats.PositionStats`)."""
    fig = _figure(7.0, 4.0)
    ax = fig.add_subplot()
    xs = [p.position for p in positions]
    for name, label, color in _SERIES:
        ax.plot(xs, [p.rate(name) for p in positions], marker="o", markersize=4, label=label, color=color)
    ax.set_xlabel("position (1 = top)")
    ax.set_ylabel("share of the searches that showed it")
    ax.set_title(_label(f"{title}: rates by position"), fontsize=10)
    if xs:
        ax.set_xticks(xs)
    ax.set_ylim(bottom=0)
    _style(ax)
    ax.legend(frameon=False, fontsize=8)
    _save(fig, path)


def plot_propensities(
    propensities: np.ndarray,
    path: str | Path,
    *,
    title: str,
    reference: np.ndarray | None = None,
    reference_label: str = "raw click-through, relative to position 1",
) -> None:
    """Fitted examination propensity by position (position 1 = 1), with an optional reference curve."""
    values = np.asarray(propensities, dtype=np.float64)
    xs = np.arange(1, len(values) + 1)
    fig = _figure(6.5, 3.8)
    ax = fig.add_subplot()
    ax.bar(xs, values, color="#4c72b0", width=0.7, label="propensity")
    if reference is not None:
        ax.plot(xs, np.asarray(reference)[: len(xs)], color="#c44e52", marker="o", markersize=4, label=reference_label)
        ax.legend(frameon=False, fontsize=8)
    for x, v in zip(xs, values, strict=True):
        ax.annotate(f"{v:.2f}", (x, v), ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(xs)
    ax.set_xlabel("position (1 = top)")
    ax.set_ylabel("examination propensity")
    ax.set_ylim(0, max(1.0, float(values.max(initial=0.0))) * 1.12)
    ax.set_title(_label(f"Position propensities — {title}"), fontsize=10)
    _style(ax)
    _save(fig, path)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax) -> None:
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def _label(text: str) -> str:
    """Matplotlib reads ``$...$`` as mathtext; show dollars as dollars."""
    return text.replace("$", r"\$")


def _save(fig, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
