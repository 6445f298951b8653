"""Click models: relevance of (query, product) pairs from what shoppers did, corrected for where products were shown.

Shoppers click what is on top, so the raw click-through of a product says as much about its
position as about its relevance. Three models turn an :class:`~shopmatch.events.io.EventLog` into a
score per (query, product) pair, from the same **sessions** (:func:`build_sessions`): one row per
product an impression showed at positions 1 to ``positions``, with the strongest thing the shopper
did with it, weighted (``[click_model]``: a click 1, an add to cart 2, a purchase 4 by default). A
row is *engaged* when the shopper did anything with the product. Queries are grouped by
:func:`~shopmatch.events.model.query_key`; orphans and rows past ``positions`` are left out.

- ``ctr`` — naive click-through: the pair's weighted engagements per impression. Position-biased:
  a product usually shown first scores higher than the same product usually shown fifth.
- ``coec`` — clicks over expected clicks: the pair's weighted engagements over those an average
  product would get at the same positions (the mean weighted engagement at each position, over
  every query). Corrects for position, but the average at a position also reflects how good the
  products ranked there are.
- ``pbm`` — the position-based click model: a product at position k is engaged with probability
  ``θ_k · α_qp`` (examined, by position; attractive, by pair). θ and α are fitted by expectation
  maximization; θ is reported relative to position 1 (the *position propensities*) and α on that
  scale (the chance that the pair is engaged when the shopper looks at it). The score is α times
  the pair's mean weight per engagement, so carts and purchases count more than clicks without
  being corrected for position twice. The model needs the pairs to be seen at more than one
  position (rankings that change over time, several rankers, a little randomization); with one
  fixed ranking, position and attractiveness cannot be told apart.

Every model smooths its score towards the mean with ``prior_strength`` pseudo-examinations:
``examined`` is a pair's impressions weighted by the propensity of their positions (for ``ctr`` every
position counts 1), and ``confidence = examined / (examined + prior_strength)`` is the share of the
score that rests on the pair's own data. Everything is deterministic.

Example:
    >>> from datetime import UTC, datetime
    >>> from shopmatch.events import Impression, Interaction, collect_events
    >>> now = datetime(2026, 12, 6, tzinfo=UTC)
    >>> log = collect_events([
    ...     Impression("s1", "mug", ("a", "b"), now), Interaction("click", "s1", "a", now),
    ...     Impression("s2", "mug", ("b", "a"), now), Interaction("purchase", "s2", "a", now)])
    >>> labels = click_labels(log, "ctr", ClickModelConfig(prior_strength=0))
    >>> list(zip(labels.product_ids, labels.score.tolist(), labels.impressions.tolist()))
    [('a', 2.5, 2), ('b', 0.0, 2)]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from shopmatch.events.io import EventLog
from shopmatch.events.model import INTERACTION_TYPES, query_key
from shopmatch.settings import ConfigSection, setting

logger = logging.getLogger(__name__)

_EPS = 1e-9


@dataclass(frozen=True)
class ClickModelConfig(ConfigSection):
    """Settings of the click models (``[click_model]`` in a TOML file).

    Attributes:
        click_weight, add_to_cart_weight, purchase_weight: What one row is worth when its product
            was clicked, put in the cart, bought (the strongest counts).
        positions: The positions modelled (1 to this); rows shown further down are left out.
        prior_strength: Pseudo-examinations at the mean score every pair's score is smoothed with
            (0: none).
        max_iterations, tolerance: When the position-based model's EM stops: after this many
            iterations, or when no propensity and no attractiveness moves by more than ``tolerance``
            in one iteration.

    Example:
        >>> ClickModelConfig.from_dict({"purchase_weight": 10}).weight("purchase")
        10.0
        >>> ClickModelConfig(positions=0)
        Traceback (most recent call last):
        ...
        shopmatch.errors.ConfigError: click_model.positions must be a positive integer, got 0
    """

    SECTION = "click_model"

    click_weight: float = setting(1.0, greater_than=0.0)
    add_to_cart_weight: float = setting(2.0, greater_than=0.0)
    purchase_weight: float = setting(4.0, greater_than=0.0)
    positions: int = setting(10, minimum=1)
    prior_strength: float = setting(1.0, minimum=0.0)
    max_iterations: int = setting(1000, minimum=1)
    tolerance: float = setting(1e-4, greater_than=0.0)

    def weight(self, kind: str) -> float:
        """The weight of an interaction type (``click``, ``add_to_cart``, ``purchase``)."""
        return float(getattr(self, f"{kind}_weight"))

    @classmethod
    def from_toml(cls, path: str | Path) -> ClickModelConfig:
        """The ``[click_model]`` table of a TOML file (other tables are ignored; none: the defaults)."""
        return cls.from_toml_section(path)


@dataclass(frozen=True)
class Sessions:
    """Every product shown at a modelled position, one row each (see the module docstring).

    Attributes:
        queries: Each pair's query (as grouped).
        product_ids: Each pair's product.
        row_pair: ``(rows,)`` the pair of each row.
        row_position: ``(rows,)`` 0-based position of each row.
        row_value: ``(rows,)`` the weight of the strongest interaction (0: none).
        row_done: ``(3, rows)`` whether the row's product was clicked / put in the cart / bought.
    """

    queries: list[str]
    product_ids: list[str]
    row_pair: np.ndarray
    row_position: np.ndarray
    row_value: np.ndarray
    row_done: np.ndarray

    @property
    def pairs(self) -> int:
        return len(self.product_ids)

    @property
    def positions(self) -> int:
        """Positions that occur (the last one shown, up to the configured limit)."""
        return int(self.row_position.max()) + 1 if len(self.row_position) else 0

    @property
    def engaged(self) -> np.ndarray:
        return self.row_value > 0


def build_sessions(log: EventLog, config: ClickModelConfig | None = None) -> Sessions:
    """The rows the click models fit (see the module docstring).

    Example:
        >>> from datetime import UTC, datetime
        >>> from shopmatch.events import Impression, Interaction, collect_events
        >>> now = datetime(2026, 12, 6, tzinfo=UTC)
        >>> log = collect_events([Impression("s1", "Mug", ("a", "b", "c"), now),
        ...                       Interaction("add_to_cart", "s1", "b", now)])
        >>> s = build_sessions(log, ClickModelConfig(positions=2))
        >>> s.product_ids, s.row_position.tolist(), s.row_value.tolist()
        (['a', 'b'], [0, 1], [0.0, 2.0])
    """
    config = config or ClickModelConfig()
    limit = config.positions
    query_ids: dict[str, int] = {}
    product_ids: dict[str, int] = {}
    row_query: list[int] = []
    row_product: list[int] = []
    row_position: list[int] = []
    start_of: dict[str, tuple[int, int, int]] = {}  # search_id -> (first row, first position, rows)
    for impression in log.impressions:
        first = impression.first_position
        shown = impression.results[: max(0, limit - first + 1)]
        if not shown:
            continue
        start_of[impression.search_id] = (len(row_position), first, len(shown))
        query = query_ids.setdefault(query_key(impression.query), len(query_ids))
        row_query.extend([query] * len(shown))
        row_product.extend(product_ids.setdefault(p, len(product_ids)) for p in shown)
        row_position.extend(range(first - 1, first - 1 + len(shown)))

    rows = len(row_position)
    value = np.zeros(rows, dtype=np.float64)
    done = np.zeros((len(INTERACTION_TYPES), rows), dtype=bool)
    which = {kind: i for i, kind in enumerate(INTERACTION_TYPES)}
    for event in log.interactions:
        placed = start_of.get(event.search_id)
        if placed is None or event.position is None:
            continue  # an orphan, or an impression with nothing at a modelled position
        start, first, count = placed
        offset = event.position - first
        if 0 <= offset < count:
            row = start + offset
            done[which[event.type], row] = True
            value[row] = max(value[row], config.weight(event.type))

    queries = np.asarray(row_query, dtype=np.int64)
    products = np.asarray(row_product, dtype=np.int64)
    keys, row_pair = np.unique(queries * max(len(product_ids), 1) + products, return_inverse=True)
    query_names = list(query_ids)
    product_names = list(product_ids)
    pair_query = keys // max(len(product_ids), 1)
    pair_product = keys % max(len(product_ids), 1)
    return Sessions(
        queries=[query_names[q] for q in pair_query],
        product_ids=[product_names[p] for p in pair_product],
        row_pair=row_pair.astype(np.int64).reshape(-1),
        row_position=np.asarray(row_position, dtype=np.int64),
        row_value=value,
        row_done=done,
    )


@dataclass(frozen=True)
class ClickLabels:
    """A score per (query, product) pair from one click model, with what it rests on.

    Attributes:
        model: ``ctr``, ``coec`` or ``pbm``.
        queries, product_ids: The pairs (queries as grouped).
        score: The model's score of each pair (see the module docstring).
        impressions: How many times each pair was shown (at a modelled position).
        clicks, carts, purchases: In how many of those it was clicked, put in the cart, bought.
        examined: Impressions weighted by the propensity of their position.
        confidence: ``examined / (examined + prior_strength)``.
        propensities: ``(positions,)`` examination by position relative to position 1 (``ctr``: all 1).
        engagement_by_position: ``(positions,)`` the observed share of rows engaged at each position.
        shown_by_position: ``(positions,)`` rows at each position.
        iterations: EM iterations (``pbm``; 0 for the others); converged: whether EM met the tolerance.
    """

    model: str
    queries: list[str]
    product_ids: list[str]
    score: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray
    carts: np.ndarray
    purchases: np.ndarray
    examined: np.ndarray
    confidence: np.ndarray
    propensities: np.ndarray
    engagement_by_position: np.ndarray
    shown_by_position: np.ndarray
    iterations: int = 0
    converged: bool = True

    def __len__(self) -> int:
        return len(self.product_ids)

    def score_of(self, query: str, product_id: str) -> float:
        """The score of one pair (the query as typed or grouped); KeyError when it was never shown."""
        key = query_key(query)
        for i, (q, p) in enumerate(zip(self.queries, self.product_ids, strict=True)):
            if q == key and p == product_id:
                return float(self.score[i])
        raise KeyError((query, product_id))


def fit_ctr(sessions: Sessions, config: ClickModelConfig | None = None) -> ClickLabels:
    """Naive click-through: weighted engagements per impression (no position correction)."""
    config = config or ClickModelConfig()
    propensities = np.ones(sessions.positions)
    score, examined = _rate_per_examination(sessions, propensities, config.prior_strength)
    return _labels("ctr", sessions, config, score, examined, propensities)


def fit_coec(sessions: Sessions, config: ClickModelConfig | None = None) -> ClickLabels:
    """Clicks over expected clicks: weighted engagements over the mean at the same positions."""
    config = config or ClickModelConfig()
    shown = _per_position(sessions, np.ones(len(sessions.row_position)))
    expected = _per_position(sessions, sessions.row_value) / np.maximum(shown, 1)
    reference = expected[0] if len(expected) and expected[0] > 0 else float(expected.max(initial=0.0))
    if reference <= 0:  # nothing engaged anywhere: every score is 0
        return _labels("coec", sessions, config, np.zeros(sessions.pairs), np.zeros(sessions.pairs), expected)
    propensities = expected / reference
    rate, examined = _rate_per_examination(sessions, propensities, config.prior_strength)
    return _labels("coec", sessions, config, rate / reference, examined, propensities)


def fit_pbm(sessions: Sessions, config: ClickModelConfig | None = None) -> ClickLabels:
    """The position-based click model, fitted by EM on engaged / not engaged (see the module docstring)."""
    config = config or ClickModelConfig()
    attractive, propensities, iterations, converged = _pbm_em(sessions, config.max_iterations, config.tolerance)
    if not sessions.engaged.any():  # nothing to explain: nothing is attractive
        attractive = np.zeros(sessions.pairs)

    examined = np.bincount(sessions.row_pair, propensities[sessions.row_position], minlength=sessions.pairs)
    s = config.prior_strength
    mean = float(np.sum(attractive * examined) / max(np.sum(examined), _EPS))
    attractive = (attractive * examined + s * mean) / np.maximum(examined + s, _EPS)
    engaged = sessions.engaged
    value = np.bincount(sessions.row_pair, sessions.row_value, minlength=sessions.pairs)
    count = np.bincount(sessions.row_pair, engaged.astype(np.float64), minlength=sessions.pairs)
    per_engagement = float(value.sum() / count.sum()) if count.sum() else config.click_weight
    worth = (value + s * per_engagement) / np.maximum(count + s, _EPS)
    worth = np.where(count + s > 0, worth, per_engagement)
    labels = _labels("pbm", sessions, config, attractive * worth, examined, propensities)
    return replace(labels, iterations=iterations, converged=converged)


MODELS: dict[str, Callable[[Sessions, ClickModelConfig | None], ClickLabels]] = {
    "pbm": fit_pbm,
    "coec": fit_coec,
    "ctr": fit_ctr,
}
"""The click models by name (the choices of ``judgments from-events --model``)."""


def click_labels(log: EventLog, model: str = "pbm", config: ClickModelConfig | None = None) -> ClickLabels:
    """Build the sessions of ``log`` and fit one click model (``pbm``, ``coec`` or ``ctr``) on them.

    Raises:
        ValueError: an unknown model.
    """
    if model not in MODELS:
        raise ValueError(f"unknown click model {model!r} (expected one of {', '.join(MODELS)})")
    config = config or ClickModelConfig()
    sessions = build_sessions(log, config)
    labels = MODELS[model](sessions, config)
    logger.info("%s: %d pairs from %d rows", model, len(labels), len(sessions.row_pair))
    return labels


# ---- kernels --------------------------------------------------------------------------------------


def _pbm_em(sessions: Sessions, max_iterations: int, tolerance: float) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """``(α per pair, θ per position with θ_1 = 1, iterations, converged)`` by EM over (pair, position) cells.

    The rows of one pair at one position are interchangeable, so EM runs on their counts: ``n``
    rows, ``c`` engaged. An engaged row was examined and attractive; a row that was not is, given
    α and θ, attractive with probability ``α(1 − θ) / (1 − αθ)`` and examined with probability
    ``θ(1 − α) / (1 − αθ)``. The M-step averages those over each pair's and each position's rows.
    """
    positions = sessions.positions
    if not len(sessions.row_pair):
        return np.zeros(sessions.pairs), np.zeros(positions), 0, True
    cell_keys, cell_of_row = np.unique(sessions.row_pair * positions + sessions.row_position, return_inverse=True)
    cell_of_row = cell_of_row.reshape(-1)
    n = np.bincount(cell_of_row).astype(np.float64)
    c = np.bincount(cell_of_row, sessions.engaged.astype(np.float64))
    missed = n - c
    pair, position = cell_keys // positions, cell_keys % positions
    rows_of_pair = np.bincount(pair, n, minlength=sessions.pairs)
    rows_at = np.bincount(position, n, minlength=positions)

    attractive = np.full(sessions.pairs, 0.5)
    examination = np.full(positions, 0.5)
    iterations, converged = 0, False
    while iterations < max_iterations and not converged:
        iterations += 1
        a, t = attractive[pair], examination[position]
        unexplained = np.maximum(1.0 - a * t, _EPS)
        new_attractive = np.bincount(pair, c + missed * a * (1.0 - t) / unexplained, minlength=sessions.pairs)
        new_examination = np.bincount(position, c + missed * t * (1.0 - a) / unexplained, minlength=positions)
        new_examination = new_examination / np.maximum(rows_at, _EPS)
        # θ·α is all the data identify: rescale so that position 1 is always examined (θ_1 = 1); the
        # likelihood is unchanged, and EM no longer drifts along θ·c, α/c.
        top = max(float(new_examination[0]), _EPS) if rows_at[0] > 0 else float(new_examination.max())
        new_examination = np.clip(new_examination / top, _EPS, 1.0)
        new_attractive = np.clip(new_attractive / np.maximum(rows_of_pair, _EPS) * top, _EPS, 1.0 - _EPS)
        change = max(np.abs(new_attractive - attractive).max(), np.abs(new_examination - examination).max())
        attractive, examination = new_attractive, new_examination
        converged = change <= tolerance
    if not converged:
        logger.warning("the position-based model stopped after %d EM iterations (last change %.2g)", iterations, change)
    return attractive, examination, iterations, converged


def _per_position(sessions: Sessions, weights: np.ndarray) -> np.ndarray:
    return np.bincount(sessions.row_position, weights, minlength=sessions.positions).astype(np.float64)


def _rate_per_examination(sessions: Sessions, propensities: np.ndarray, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """``(smoothed value per examination, examined)`` of each pair."""
    examined = np.bincount(sessions.row_pair, propensities[sessions.row_position], minlength=sessions.pairs)
    value = np.bincount(sessions.row_pair, sessions.row_value, minlength=sessions.pairs)
    mean = float(value.sum() / examined.sum()) if examined.sum() > 0 else 0.0
    return (value + prior * mean) / np.maximum(examined + prior, _EPS), examined


def _labels(
    model: str,
    sessions: Sessions,
    config: ClickModelConfig,
    score: np.ndarray,
    examined: np.ndarray,
    propensities: np.ndarray,
) -> ClickLabels:
    shown = _per_position(sessions, np.ones(len(sessions.row_position)))
    engaged = _per_position(sessions, sessions.engaged.astype(np.float64))
    done = [np.bincount(sessions.row_pair, d.astype(np.int64), minlength=sessions.pairs) for d in sessions.row_done]
    s = config.prior_strength
    return ClickLabels(
        model=model,
        queries=sessions.queries,
        product_ids=sessions.product_ids,
        score=np.asarray(score, dtype=np.float64),
        impressions=np.bincount(sessions.row_pair, minlength=sessions.pairs),
        clicks=done[0],
        carts=done[1],
        purchases=done[2],
        examined=np.asarray(examined, dtype=np.float64),
        confidence=examined / np.maximum(examined + s, _EPS) if s > 0 else np.ones(sessions.pairs),
        propensities=np.asarray(propensities, dtype=np.float64),
        engagement_by_position=engaged / np.maximum(shown, 1),
        shown_by_position=shown.astype(np.int64),
    )
