"""Retraining from shopper events: events → labels → a new versioned ranker directory.

:func:`ranker_from_events` is the one place that turns an events log into a ranker; today it goes
through click-model labels (:func:`shopmatch.events.click_models.click_labels`, the same labels
as ``shopmatch judgments from-events``) and the judgments trainer (``shopmatch train ranker``).
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

import tempfile
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
    click_model: str = "pbm",
    grades: int = 4,
    min_pair_impressions: int = 1,
    candidates: int = 100,
    seed: int = 0,
) -> Ranker:
    """A LambdaMART ranker learnt from ``log`` over ``pipeline``'s candidates (the ranker stage off).

    Labels: the click model's score of each (query, product) shown, cut into ``grades`` grades
    (``shopmatch judgments from-events``); training: ``shopmatch train ranker`` on them.

    Raises:
        NotEnoughEvents: the labels have no positive grade (nothing to learn).
    """
    from shopmatch.events.click_models import click_labels
    from shopmatch.events.labels import write_label_files
    from shopmatch.judgments import GainMap, read_judgments
    from shopmatch.rank.config import RankerConfig
    from shopmatch.rank.feature_groups import default_groups
    from shopmatch.rank.selection import fit_ranker
    from shopmatch.rank.training import ranking_data

    if pipeline.ranker is not None:  # features come from the stages before any ranker
        pipeline = pipeline.with_config(ranker=RankerConfig())
    labels = click_labels(log, click_model)
    gains = GainMap.parse("offset=0")
    with tempfile.TemporaryDirectory(prefix="shopmatch-retrain-") as tmp:
        written = write_label_files(
            labels, Path(tmp) / "labels.tsv", grades=grades, min_impressions=min_pair_impressions
        )
        judged = read_judgments(written.judgments, gains=gains)
    if not any(g > 0 for judged_q in judged.qrels(gains).values() for g in judged_q.values()):
        raise NotEnoughEvents("the events give no product a label above 0: nothing to learn from")
    groups = default_groups(pipeline.snapshot)  # as train ranker --judgments: intent when the index has it
    data = ranking_data(pipeline, judged, gains, top_n=candidates, feature_groups=groups)
    if not data.query_ids:
        raise NotEnoughEvents("no query of the events has a candidate in the index")
    ranker = fit_ranker(data, seed=seed).ranker  # the pipeline's own order when the labels do not beat it
    ranker.summary.update(
        trained_from="events",
        click_model=click_model,
        grades=grades,
        label_pairs=written.pairs,
        label_queries=written.queries,
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
