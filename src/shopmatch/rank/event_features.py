"""Event features of products: how often shoppers clicked, carted and bought a product when it was shown, smoothed.

A feature group of the learned ranker (:data:`EVENT_FEATURE_NAMES`, appended after
:data:`~shopmatch.rank.features.FEATURE_NAMES`), computed from the *training* events only and stored
in the ranker directory (``event_features.json``), so that the stage reads the same numbers at query
time as the ranker was trained on. Per product, over every query it was shown for:

- ``event_click_coec``: clicks (a cart or purchase counts as one) over expected clicks (COEC),
  ``(c + m·ē) / (e + m·ē)``: ``e`` sums, over the product's impressions, the mean click rate at the
  position it was shown at, ``ē`` is the mean of those per impression and ``m`` = ``prior``
  pseudo-impressions, so a product never shown gets 1 (average) and one shown a few times stays near 1;
- ``event_cart_rate``, ``event_purchase_rate``: ``(a + m·ā) / (n + m)``, carts (purchases) per
  impression smoothed towards the mean rate ``ā``;
- ``event_impressions``: ``log(1 + n)``.

Training rows must not see their own outcome: :meth:`EventFeatures.values` takes the counts of the
row's own (query, product) pair to leave out (``leave_out``), so a training row's features come from
the product's *other* queries only, as a new query's would.

Example:
    >>> from datetime import UTC, datetime
    >>> from shopmatch.events import Impression, Interaction, collect_events
    >>> now = datetime(2026, 12, 6, tzinfo=UTC)
    >>> log = collect_events([Impression("s1", "mug", ("a", "b"), now), Interaction("click", "s1", "b", now),
    ...                       Impression("s2", "cup", ("a", "b"), now),
    ...                       Impression("s3", "tea", ("b", "a"), now), Interaction("purchase", "s3", "b", now)])
    >>> table = EventFeatures.from_log(log, prior=0)  # 1 click in 3 at either position
    >>> table.values(["b", "a", "never-shown"])[:, 0].round(2).tolist()   # b: 2 clicks, 1 expected
    [2.0, 0.0, 1.0]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopmatch.errors import ShopmatchError
from shopmatch.events.click_models import ClickModelConfig, Sessions, build_sessions
from shopmatch.events.io import EventLog

EVENT_FEATURE_NAMES: tuple[str, ...] = (
    "event_click_coec",
    "event_cart_rate",
    "event_purchase_rate",
    "event_impressions",
)
FILE = "event_features.json"
COUNTS = ("impressions", "clicks", "carts", "purchases", "expected")
"""The counts kept per product (and per pair, to leave a pair out), in this order."""


@dataclass
class EventFeatures:
    """Per-product counts from training events and the smoothing that turns them into features.

    Attributes:
        product_ids: The products shown at least once.
        counts: ``(products, 5)`` impressions, clicks, carts, purchases, expected clicks (:data:`COUNTS`).
        prior: Pseudo-impressions at the mean (``m``).
        means: ``(5,)`` the counts per impression over every product (the prior's rates).
    """

    name = "events"
    names = EVENT_FEATURE_NAMES

    product_ids: list[str]
    counts: np.ndarray
    prior: float
    means: np.ndarray

    def __post_init__(self) -> None:
        self._row = {p: i for i, p in enumerate(self.product_ids)}

    @classmethod
    def from_sessions(cls, sessions: Sessions, *, prior: float = 20.0) -> EventFeatures:
        """The table of the products in ``sessions`` (see :func:`pair_counts`)."""
        pairs = pair_counts(sessions)
        product_ids = sorted(set(sessions.product_ids))
        where = {p: i for i, p in enumerate(product_ids)}
        counts = np.zeros((len(product_ids), len(COUNTS)))
        np.add.at(counts, [where[p] for p in sessions.product_ids], pairs)
        shown = max(float(counts[:, 0].sum()), 1.0)
        return cls(product_ids, counts, float(prior), counts.sum(axis=0) / shown)

    @classmethod
    def from_log(cls, log: EventLog, *, prior: float = 20.0, config: ClickModelConfig | None = None) -> EventFeatures:
        """The table of an event log (its sessions as the click models build them)."""
        return cls.from_sessions(build_sessions(log, config), prior=prior)

    def values(self, product_ids: Sequence[str], leave_out: np.ndarray | None = None) -> np.ndarray:
        """``(len(product_ids), 4)`` float32 features; ``leave_out`` (``(n, 5)`` counts, optional)
        is taken off each product's counts first (a training row's own pair)."""
        counts = np.zeros((len(product_ids), len(COUNTS)))
        for i, p in enumerate(product_ids):
            row = self._row.get(p)
            if row is not None:
                counts[i] = self.counts[row]
        if leave_out is not None:
            counts = np.maximum(counts - leave_out, 0.0)
        n, clicks, carts, purchases, expected = counts.T
        m, mean = self.prior, self.means
        out = np.empty((len(product_ids), len(EVENT_FEATURE_NAMES)), dtype=np.float32)
        prior_clicks = m * mean[4]
        denominator = expected + prior_clicks
        out[:, 0] = np.where(denominator > 0, (clicks + prior_clicks) / np.maximum(denominator, 1e-12), 1.0)
        for column, done in ((1, carts), (2, purchases)):
            rate = mean[column + 1]
            out[:, column] = np.where(n + m > 0, (done + m * rate) / np.maximum(n + m, 1e-12), rate)
        out[:, 3] = np.log1p(n)
        return out

    def rows_values(self, index, rows: np.ndarray) -> np.ndarray:
        """The features of index rows (the stage's candidates)."""
        return self.values([index.id_of(int(r)) for r in rows])

    # ---- in a ranker directory -------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``event_features.json`` into ``directory``."""
        path = Path(directory) / FILE
        data = {
            "names": list(EVENT_FEATURE_NAMES),
            "columns": list(COUNTS),
            "prior": self.prior,
            "means": self.means.tolist(),
            "products": {
                p: [round(float(v), 6) for v in c] for p, c in zip(self.product_ids, self.counts, strict=True)
            },
        }
        path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> EventFeatures:
        """Read ``event_features.json`` of a ranker directory.

        Raises:
            ShopmatchError: a missing or damaged file; the message names it.
        """
        path = Path(directory) / FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            products = data["products"]
            if data["columns"] != list(COUNTS) or data["names"] != list(EVENT_FEATURE_NAMES):
                raise ValueError("other columns or feature names than this version's")
            counts = np.array([products[p] for p in products], dtype=np.float64).reshape(-1, len(COUNTS))
            return cls(list(products), counts, float(data["prior"]), np.asarray(data["means"], dtype=np.float64))
        except FileNotFoundError:
            raise ShopmatchError(f"{path}: not found; the ranker reads event features") from None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ShopmatchError(f"{path}: unreadable event features ({err})") from None


def pair_counts(sessions: Sessions) -> np.ndarray:
    """``(pairs, 5)``: each (query, product) pair's impressions, clicks, carts, purchases and expected
    clicks (the mean click rate of every position it was shown at, summed)."""
    positions = sessions.positions
    shown = np.bincount(sessions.row_position, minlength=positions).astype(np.float64)
    clicked = sessions.engaged.astype(np.float64)  # a cart or a purchase counts as a click
    click_rate = np.bincount(sessions.row_position, clicked, minlength=positions) / np.maximum(shown, 1.0)
    columns = [
        np.ones(len(sessions.row_pair)),
        clicked,
        sessions.row_done[1].astype(np.float64),
        sessions.row_done[2].astype(np.float64),
        click_rate[sessions.row_position],
    ]
    return np.stack([np.bincount(sessions.row_pair, c, minlength=sessions.pairs) for c in columns], axis=1)
