"""Retraining from shopper events: events → labels → a new versioned ranker directory.

:func:`ranker_from_events` turns an events log into a ranker the way ``shopmatch train ranker
--events`` does (click-model labels, position bias and the shown set handled as
:mod:`shopmatch.rank.from_events` describes), so a scheduled retrain ships what was measured.
:func:`write_version` writes the ranker as ``MODELS_DIR/ranker-<UTC time>`` atomically (a
temporary ``.``-sibling renamed into place), which is what ``shopmatch serve --models-dir`` watches.

Example:
    >>> enough_events(EventCounts(impressions=3, clicks=9, clicked_queries=2), min_impressions=10, min_clicks=5,
    ...               min_queries=2)
    Traceback (most recent call last):
    ...
    shopmatch.rank.retrain.NotEnoughEvents: too few events to retrain: 3 impressions (at least 10 needed)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopmatch.errors import ShopmatchError
from shopmatch.events.io import EventLog
from shopmatch.rank.model import Ranker

VERSION_PREFIX = "ranker-"


class NotEnoughEvents(ShopmatchError):
    """The log holds too few impressions or clicks to learn from."""


@dataclass(frozen=True)
class EventCounts:
    """What a log offers to learn from."""

    impressions: int
    clicks: int
    clicked_queries: int

    @classmethod
    def of(cls, log: EventLog) -> EventCounts:
        shown = log.by_search_id
        engaged = [i for i in log.interactions if i.search_id in shown]
        queries = {shown[i.search_id].query.strip().lower() for i in engaged}
        return cls(len(log.impressions), len(engaged), len(queries))


def enough_events(
    counts: EventCounts, *, min_impressions: int = 200, min_clicks: int = 50, min_queries: int = 5
) -> EventCounts:
    """``counts`` when there is enough to learn from.

    Raises:
        NotEnoughEvents: naming every threshold that is not met.
    """
    short = []
    if counts.impressions < min_impressions:
        short.append(f"{counts.impressions:,} impressions (at least {min_impressions:,} needed)")
    if counts.clicks < min_clicks:
        short.append(f"{counts.clicks:,} clicks, carts or purchases on a logged search (at least {min_clicks:,})")
    if counts.clicked_queries < min_queries:
        short.append(f"{counts.clicked_queries:,} queries with a click (at least {min_queries:,})")
    if short:
        raise NotEnoughEvents("too few events to retrain: " + "; ".join(short))
    return counts


def ranker_from_events(
    pipeline: Any,
    log: EventLog,
    *,
    label_model: str | None = None,
    candidates: int = 100,
    seed: int = 0,
) -> Ranker:
    """A LambdaMART ranker learnt from ``log`` over ``pipeline``'s candidates (the ranker stage off),
    exactly as ``shopmatch train ranker --events`` learns it (its defaults: click-model labels,
    ``label_model`` None = COEC; the not-shown candidates at grade 0; rank features ignored,
    monotone regularised trees; :mod:`shopmatch.rank.from_events`).

    Raises:
        NotEnoughEvents: the labels have no positive grade (nothing to learn), or no query of the
            events has a candidate in the index.
    """
    from shopmatch.rank.config import RankerConfig
    from shopmatch.rank.from_events import event_ranking_data, pipeline_features, train_from_events

    if pipeline.ranker is not None:  # features come from the stages before any ranker
        pipeline = pipeline.with_config(ranker=RankerConfig())
    try:
        data = event_ranking_data(log, pipeline_features(pipeline, candidates), label_model=label_model)
    except ShopmatchError as error:
        raise NotEnoughEvents(str(error)) from None
    if not data.query_ids:
        raise NotEnoughEvents("no query of the events has a candidate in the index")
    if not (data.labels > 0).any():
        raise NotEnoughEvents("the events give no product a label above 0: nothing to learn from")
    ranker = train_from_events(data, seed=seed)
    ranker.summary.update(
        trained_from="events",
        label_pairs=int(data.facts["pairs"]),
        label_queries=len(data.query_ids),
        queries=len(data.query_ids),
        rows=len(data.labels),
    )
    return ranker


def write_version(ranker: Ranker, models_dir: str | Path, *, now: datetime | None = None) -> Path:
    """Write ``ranker`` as a new version ``models_dir/ranker-YYYYmmddTHHMMSSffffffZ``, atomically."""
    from shopmatch.store import atomic_directory

    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    target = Path(models_dir) / f"{VERSION_PREFIX}{stamp}"
    with atomic_directory(target, overwrite=False) as tmp:
        ranker.save(tmp)
    return target


def retrain(
    index_dir: str | Path,
    log: EventLog,
    models_dir: str | Path,
    *,
    thresholds: dict[str, int] | None = None,
    **options: Any,
) -> tuple[Path, Ranker, EventCounts]:
    """Check the log has enough, learn a ranker from it over ``index_dir``, write a new version."""
    from shopmatch.pipeline import SearchPipeline

    counts = enough_events(EventCounts.of(log), **(thresholds or {}))
    pipeline = SearchPipeline.load(index_dir)
    ranker = ranker_from_events(pipeline, log, **options)
    ranker.summary.update(index=str(index_dir), impressions=counts.impressions, clicks=counts.clicks)
    path = write_version(ranker, models_dir)
    return path, ranker, counts
