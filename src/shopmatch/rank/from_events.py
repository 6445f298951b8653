"""Training data for the ranker from shopper events, with position bias corrected.

One **group** per ordering a query's impressions showed (:func:`shown_orderings`: the products at
positions 1 to ``[click_model] positions``, in order; with rankings that never change, one group per
query, queries grouped by :func:`~shopmatch.events.model.query_key`), one row per product in it, at
the **position** it was shown at there. A row's **label** is a grade (``0 … grades − 1``,
:func:`~shopmatch.events.labels.grade`) of, with ``label_model`` ``ctr``, the product's weighted
engagement per impression *of that ordering*, and with ``coec`` or ``pbm`` the click model's score of
the (query, product) pair (:mod:`shopmatch.events.click_models`). Candidates the shopper was never
shown join each group at grade 0 and a position of their own (``unshown``, 90 by default: the rest of
the pipeline's top 100; the pipeline put them below what it showed, and the ranker re-orders 100
candidates at query time, so it should have seen such rows; chosen on held-out Home Depot training
queries, where it beat leaving them out for every correction).

Position bias (``debias``):

- ``click-model`` (the default): the labels are a click model's position-corrected scores (``coec``
  unless ``label_model`` says ``pbm``); the learner is not corrected again;
- ``position``: LightGBM's position-debiased LambdaMART (Unbiased LambdaMART) on raw engagement
  labels: each row's shown position goes into the training set and LightGBM learns the examination
  bias of each position jointly with the ranker (``lambdarank`` with ``position``, LightGBM ≥ 4.1);
- ``ipw``: inverse-propensity weights on raw engagement labels: each row weighs ``1 / θ_k``
  (clipped at ``max_weight``, normalized to mean 1), ``θ`` the examination propensities the
  position-based click model fits;
- ``none``: naive click-through (raw engagement labels, nothing corrected).

``position`` and ``ipw`` need rankings that vary (a share of shuffled or interleaved impressions):
with one fixed ranking per query the shown position *is* the pipeline's rank, a feature, and no
learner can tell the two apart (``docs/experiments/2026-12-06-learning-from-events.md``).

The rows' base features are the ones the ranker stage computes when searching
(:func:`pipeline_features`), and by default the trees ignore the rank features
(:data:`RANK_FEATURES`), are monotone in the retrievers' scores and cautious (:data:`EVENT_PARAMS`):
with one fixed ranking per query, "rank ≤ 10" *is* the shown set, and a ranker reading the ranks
learns it back instead of what shoppers liked (``docs/experiments/2026-12-06-events-debiasing.md``).

Every ranker from events also reads the event features of :mod:`shopmatch.rank.event_features`
(product click / cart / purchase rates from these events, stored with the ranker); a training row's
own pair is left out of its product's counts.

Example:
    >>> resolved_label_model("click-model", None), resolved_label_model("position", None)
    ('coec', 'ctr')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopmatch.errors import ShopmatchError
from shopmatch.events.click_models import MODELS, ClickModelConfig, build_sessions, fit_pbm
from shopmatch.events.io import EventLog
from shopmatch.events.labels import grade
from shopmatch.events.model import query_key
from shopmatch.progress import track
from shopmatch.rank.event_features import EVENT_FEATURE_NAMES, EventFeatures, pair_counts
from shopmatch.rank.features import FEATURE_NAMES, FEATURE_VERSION
from shopmatch.rank.model import Ranker
from shopmatch.rank.training import RankingData

DEBIAS = ("click-model", "position", "ipw", "none")
"""The position-bias corrections (``--debias``); the first is the default (see ``docs/training.md``)."""
DEFAULT_DEBIAS = "click-model"
UNSHOWN = 90
"""Candidates not shown added to each group at grade 0 by default (``--unshown``; chosen over 0 on
held-out Home Depot training queries)."""

RANK_FEATURES = tuple(name for name in FEATURE_NAMES if name.endswith("_rank"))
"""The features an events-trained ranker ignores by default (``rank_features``): each retriever's
rank and the fused rank."""

EVENT_PARAMS: dict[str, Any] = {"num_leaves": 7, "min_data_in_leaf": 50, "lambda_l2": 10.0}
"""LightGBM settings of a ranker from events (the judgments trainer's cautious candidate); at most
a tenth of the rows per leaf on small data."""

FeaturesOf = Callable[[str, Sequence[str]], tuple[list[str], np.ndarray]]
"""``(query text, shown product ids) -> (ids, their base feature rows)``: the shown products the index
knows, then the query's other candidates in the pipeline's order."""


def resolved_label_model(debias: str, label_model: str | None) -> str:
    """The click model of the labels: as given, else ``coec`` for ``click-model`` (chosen over ``pbm``,
    and ``click-model`` over the other corrections, by 5-fold cross-validation over the Home Depot
    training sample × 3 simulation seeds, ``docs/experiments/2026-12-07-events-selection.md``) and
    ``ctr`` (raw engagement) for the others."""
    if debias not in DEBIAS:
        raise ShopmatchError(f"unknown debiasing {debias!r} (expected one of {', '.join(DEBIAS)})")
    if label_model is None:
        return "coec" if debias == "click-model" else "ctr"
    if label_model not in MODELS:
        raise ShopmatchError(f"unknown click model {label_model!r} (expected one of {', '.join(MODELS)})")
    return label_model


@dataclass
class EventRankingData(RankingData):
    """:class:`~shopmatch.rank.training.RankingData` from events, with each row's shown position
    (0-based) and weight, the fitted propensities and the event-feature table."""

    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    propensities: np.ndarray = field(default_factory=lambda: np.zeros(0))
    events: EventFeatures | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def _subset_rows(self, rows: np.ndarray) -> dict[str, Any]:
        return {"positions": self.positions[rows], "weights": self.weights[rows]}


def event_ranking_data(
    log: EventLog,
    features_of: FeaturesOf,
    *,
    debias: str = DEFAULT_DEBIAS,
    label_model: str | None = None,
    config: ClickModelConfig | None = None,
    grades: int = 5,
    max_weight: float = 20.0,
    prior: float = 20.0,
    unshown: int = UNSHOWN,
) -> EventRankingData:
    """The groups, labels, positions and weights of ``log`` (see the module docstring); ``features_of``
    gives the base features of a query's shown products and of its other candidates
    (:func:`pipeline_features`). With ``unshown``, each group also holds that many of the query's
    candidates that were not shown (in the pipeline's order), at grade 0 and position
    ``config.positions`` (a place of its own: never examined; weight 1).

    Raises:
        ShopmatchError: no impression shows a product, or no shown product is in the index.
    """
    config = config or ClickModelConfig()
    model = resolved_label_model(debias, label_model)
    sessions = build_sessions(log, config)
    if not sessions.pairs:
        where = log.path or "the events"
        raise ShopmatchError(f"{where}: no impression shows a product at positions 1-{config.positions}")
    labels = MODELS[model](sessions, config)
    pbm = labels if model == "pbm" else fit_pbm(sessions, config)
    propensities = np.clip(pbm.propensities, 1.0 / max_weight, 1.0)
    pair_of = {(q, p): i for i, (q, p) in enumerate(zip(sessions.queries, sessions.product_ids, strict=True))}
    orderings = shown_orderings(log, config)
    if model == "ctr":  # the engagement of each ordering's own impressions
        scores = np.concatenate([o.value / o.impressions for o in orderings.values()])
    else:  # the click model's score of the pair, whatever the ordering
        scores = np.concatenate([labels.score[[pair_of[(q, p)] for p in shown]] for (q, shown) in orderings])
    all_grades = grade(scores, grades)
    table = EventFeatures.from_sessions(sessions, prior=prior)
    own = pair_counts(sessions)
    texts: dict[str, str] = {}
    for impression in log.impressions:
        texts.setdefault(query_key(impression.query), impression.query)
    by_query: dict[str, list[tuple[str, ...]]] = {}
    for q, shown in orderings:
        by_query.setdefault(q, []).append(shown)
    offset_of, offset = {}, 0
    for key in orderings:
        offset_of[key] = offset
        offset += len(key[1])

    query_ids, blocks, grade_blocks, position_blocks, groups, unknown = [], [], [], [], [], 0
    for q in track(sorted(by_query), total=len(by_query), description="Features"):
        wanted = list(dict.fromkeys(p for shown in by_query[q] for p in shown))
        ids, base = features_of(texts.get(q, q), wanted)
        shown_set = set(wanted)
        known = [p for p in ids if p in shown_set]
        unknown += len(wanted) - len(known)
        if not known:
            continue
        row_of = {p: i for i, p in enumerate(ids)}
        below = [row_of[p] for p in ids if p not in shown_set][:unshown]
        leave_out = np.zeros((len(ids), own.shape[1]))
        leave_out[[row_of[p] for p in known]] = own[[pair_of[(q, p)] for p in known]]
        features = np.hstack([base, table.values(ids, leave_out=leave_out)])
        for shown in sorted(by_query[q]):
            places = [i for i, p in enumerate(shown) if p in row_of]
            if not places:
                continue
            first = offset_of[(q, shown)]
            query_ids.append(f"{q}\t{len(groups)}")
            blocks.append(features[[row_of[shown[i]] for i in places] + below])
            grade_blocks.append(np.concatenate([all_grades[[first + i for i in places]], np.zeros(len(below), int)]))
            shown_at = np.asarray(places) + orderings[(q, shown)].first
            position_blocks.append(np.concatenate([shown_at, np.full(len(below), config.positions)]))
            groups.append(len(places) + len(below))
    if not query_ids:
        raise ShopmatchError(f"{log.path or 'the events'}: no shown product is in the index")
    positions = np.concatenate(position_blocks).astype(np.int32)
    theta = np.ones(config.positions + 1)  # the last: candidates not shown, weight 1
    theta[: len(propensities)] = propensities
    weights = 1.0 / theta[positions] if debias == "ipw" else np.ones(len(positions))
    flat_grades = np.concatenate(grade_blocks).astype(np.int32)
    return EventRankingData(
        query_ids,
        np.concatenate(blocks).astype(np.float32),
        flat_grades,
        groups,
        positions=positions,
        weights=weights / weights.mean(),
        propensities=pbm.propensities,
        events=table,
        facts={
            "debias": debias,
            "label_model": model,
            "grades": grades,
            "unshown": unshown,
            "event_queries": len(by_query),
            "pairs": sessions.pairs,
            "unknown_products": unknown,
            "impressions": len(log.impressions),
            "interactions": len(log.interactions),
            "engagement_by_position": [round(float(v), 6) for v in labels.engagement_by_position],
            "label_counts": np.bincount(flat_grades, minlength=grades).tolist(),
        },
    )


@dataclass
class Ordering:
    """The impressions of one query that showed the same products in the same order.

    Attributes:
        first: The 0-based position of the first product.
        impressions: How many impressions showed it.
        value: ``(products,)`` the summed weight of the strongest interaction with each product.
    """

    first: int
    impressions: int
    value: np.ndarray


def shown_orderings(log: EventLog, config: ClickModelConfig) -> dict[tuple[str, tuple[str, ...]], Ordering]:
    """``(query key, products shown at positions 1 to config.positions) -> Ordering``; a training
    group each (with rankings that never change, one per query).

    Example:
        >>> from datetime import UTC, datetime
        >>> from shopmatch.events import Impression, Interaction, collect_events
        >>> now = datetime(2026, 12, 6, tzinfo=UTC)
        >>> log = collect_events([Impression("s1", "Mug", ("a", "b"), now), Interaction("purchase", "s1", "b", now),
        ...                       Impression("s2", "mug", ("a", "b"), now), Impression("s3", "mug", ("b", "a"), now)])
        >>> {k[1]: v.value.tolist() for k, v in shown_orderings(log, ClickModelConfig()).items()}
        {('a', 'b'): [0.0, 4.0], ('b', 'a'): [0.0, 0.0]}
    """
    done: dict[str, dict[int, float]] = {}
    for event in log.interactions:
        if event.position is not None:
            values = done.setdefault(event.search_id, {})
            values[event.position] = max(values.get(event.position, 0.0), config.weight(event.type))
    out: dict[tuple[str, tuple[str, ...]], Ordering] = {}
    for impression in log.impressions:
        first = impression.first_position
        shown = impression.results[: max(0, config.positions - first + 1)]
        if not shown:
            continue
        key = (query_key(impression.query), tuple(shown))
        ordering = out.get(key)
        if ordering is None:
            ordering = out[key] = Ordering(first - 1, 0, np.zeros(len(shown)))
        ordering.impressions += 1
        for position, value in done.get(impression.search_id, {}).items():
            if 0 <= position - first < len(shown):
                ordering.value[position - first] += value
    return out


def pipeline_features(pipeline, candidates: int = 100) -> FeaturesOf:
    """Base features exactly as the ranker stage computes them when searching: the search path's
    candidates (:func:`shopmatch.search.retrieval_ranker_inputs`, ``pipeline`` without a ranker), the
    shown products first, then the rest of the top ``candidates`` in the search's order. A shown
    product the search no longer returns is left out (counted as unknown): features computed any
    other way (rerank mode over a list of products) differ from what the stage reads — other fused
    and dense ranks and scores — and a ranker trained on them learns a skewed order
    (``docs/experiments/2026-12-06-events-debiasing.md``)."""
    from shopmatch.rank.features import candidate_features
    from shopmatch.search import retrieval_ranker_inputs

    snapshot = pipeline.snapshot

    def features_of(text: str, wanted: Sequence[str]) -> tuple[list[str], np.ndarray]:
        inputs = retrieval_ranker_inputs(snapshot, text)
        rows = inputs.hits.rows[0]
        found = int((rows >= 0).sum())
        where = {snapshot.id_of(int(row)): i for i, row in enumerate(rows[:found])}
        known = [p for p in dict.fromkeys(wanted) if p in where]
        n = max([min(found, candidates), *(where[p] + 1 for p in known)])
        if not n:
            return [], np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
        features = candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, n)
        shown = set(known)
        top = [snapshot.id_of(int(row)) for row in rows[: min(found, candidates)]]
        ids = known + [p for p in top if p not in shown]
        return ids, features[[where[p] for p in ids]]

    return features_of


def train_from_events(
    data: EventRankingData,
    *,
    valid_share: float = 0.0,
    seed: int = 0,
    rounds: int = 100,
    rank_features: bool = False,
    event_features: bool = True,
    monotone: bool = True,
    **params: Any,
) -> Ranker:
    """LambdaMART on events (the correction ``data`` was built for), ``rounds`` rounds; with
    ``valid_share``, early-stopped on a seeded held-out share of its groups. Off by default: the
    held-out labels carry the same position bias, and stopping on them favours the biased model
    (on a synthetic log it stopped after one round).

    ``rank_features`` (off by default): whether the trees may split on the rank features
    (:data:`RANK_FEATURES`). With one fixed ranking per query the products shown are exactly the
    pipeline's top 10, so "rank ≤ 10" separates every shown row from the not-shown ones at grade 0:
    a ranker reading the ranks learns the shown set and never promotes a candidate from below it
    (the columns stay in the model's input, held constant in training, so the trees ignore them).
    ``event_features``: the ranker also reads the event features (stored with it); ``monotone``:
    the score may only rise with a retriever's score (:data:`shopmatch.rank.selection.MONOTONE`);
    ``params``: LightGBM settings over :data:`EVENT_PARAMS` (few leaves, large leaves, L2)."""
    from shopmatch.rank.selection import MONOTONE

    debias = data.facts.get("debias", "none")
    train, valid = data.held_out(valid_share, seed)
    held = len(valid.query_ids)
    names = (*FEATURE_NAMES, *EVENT_FEATURE_NAMES) if event_features else FEATURE_NAMES
    width = len(names)

    def columns(features: np.ndarray) -> np.ndarray:
        out = features[:, :width].copy()
        if not rank_features:
            out[:, [FEATURE_NAMES.index(n) for n in RANK_FEATURES]] = 0.0
        return out

    settings = {**EVENT_PARAMS, **params}
    settings["min_data_in_leaf"] = min(settings["min_data_in_leaf"], max(1, len(train.labels) // 10))
    ranker = Ranker.train(
        columns(train.features),
        train.labels,
        train.groups,
        names,
        valid=(columns(valid.features), valid.labels, valid.groups) if held else None,
        seed=seed,
        feature_version=FEATURE_VERSION,
        weights=train.weights if debias == "ipw" else None,
        positions=train.positions if debias == "position" else None,
        rounds=rounds,
        monotone=MONOTONE if monotone else None,
        **settings,
    )
    ranker.groups = (data.events,) if event_features else ()
    ranker.summary.update(
        data.facts,
        rank_features=rank_features,
        event_features=event_features,
        monotone=monotone,
        propensities=[round(float(v), 6) for v in data.propensities],
    )
    return ranker
