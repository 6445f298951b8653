"""Graded judgments from a click model: ``judgments.tsv`` for every reader of judgments, plus what each label rests on.

:func:`write_label_files` writes the scores of :class:`~shopmatch.events.click_models.ClickLabels`
as a judgments file in the usual four columns (``query_id query product_id label``), which
:func:`~shopmatch.judgments.read_judgments` — evaluation, every trainer — reads without a warning,
and a sidecar ``NAME.counts.tsv`` with the score, impressions, clicks, carts, purchases, examined
and confidence of each row (see ``docs/data-formats.md``).

- ``query_id`` is ``q-`` and 10 hex digits of the SHA-1 of the grouped query, so one query has one id
  in every file made from events; ``query`` is the grouped text (lower case, single spaces).
- ``label`` is a grade ``0 … K − 1`` (:func:`grade`): the score over the 99th percentile of the
  positive scores, in K equal steps (the few scores above it get the top grade); with ``grades=0``
  the score itself.
- Pairs shown fewer than ``min_impressions`` times are left out (and counted).

Example:
    >>> import numpy as np
    >>> grade(np.array([0.0, 0.1, 0.3, 0.7, 0.9]), 4, top=0.8).tolist()
    [0, 0, 1, 3, 3]
    >>> query_id("  Cordless DRILL") == query_id("cordless drill")
    True
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopmatch.events.click_models import ClickLabels
from shopmatch.events.model import query_key
from shopmatch.judgments import Judgment, Judgments

logger = logging.getLogger(__name__)

JUDGMENT_COLUMNS = ("query_id", "query", "product_id", "label")
COUNT_COLUMNS = (*JUDGMENT_COLUMNS, "score", "impressions", "clicks", "carts", "purchases", "examined", "confidence")
TOP_QUANTILE = 0.99
"""Scores at or above this quantile of the positive scores get the top grade."""


def query_id(query: str) -> str:
    """A stable id for a query: ``q-`` and 10 hex digits of the SHA-1 of its grouped form."""
    return "q-" + hashlib.sha1(query_key(query).encode("utf-8")).hexdigest()[:10]


def grade_scale(scores: np.ndarray) -> float:
    """The score that gets the top grade: the 99th percentile of the positive scores (0 if none)."""
    positive = np.asarray(scores, dtype=np.float64)
    positive = positive[positive > 0]
    return float(np.quantile(positive, TOP_QUANTILE)) if len(positive) else 0.0


def grade(scores: np.ndarray, grades: int, *, top: float | None = None) -> np.ndarray:
    """Integer grades ``0 … grades − 1``: ``min(grades − 1, ⌊grades · score / top⌋)``.

    Args:
        scores: The scores.
        grades: How many grades (at least 2).
        top: The score of the top grade (default :func:`grade_scale` of ``scores``).
    """
    if grades < 2:
        raise ValueError(f"grades must be at least 2, got {grades}")
    scores = np.asarray(scores, dtype=np.float64)
    top = grade_scale(scores) if top is None else top
    if top <= 0:
        return np.zeros(len(scores), dtype=np.int64)
    return np.minimum(grades - 1, np.floor(grades * scores / top)).astype(np.int64)


@dataclass(frozen=True)
class LabelFiles:
    """What :func:`write_label_files` wrote.

    Attributes:
        judgments: The judgments file.
        counts: The sidecar with scores, counts and confidence.
        pairs: Rows written; queries: distinct queries among them.
        dropped: Pairs left out for being shown fewer than ``min_impressions`` times.
        top: The score that got the top grade (0 with ``grades=0``).
    """

    judgments: Path
    counts: Path
    pairs: int
    queries: int
    dropped: int
    top: float


def counts_path(path: str | Path) -> Path:
    """The sidecar of a judgments file: ``judgments.tsv`` → ``judgments.counts.tsv`` (``.gz`` kept).

    Example:
        >>> counts_path("out/clicks.tsv.gz").as_posix(), counts_path("labels").name
        ('out/clicks.counts.tsv.gz', 'labels.counts.tsv')
    """
    path = Path(path)
    name, gz = (path.name[:-3], ".gz") if path.name.lower().endswith(".gz") else (path.name, "")
    stem = name[:-4] if name.lower().endswith(".tsv") else name
    return path.with_name(f"{stem}.counts.tsv{gz}")


def _kept(labels: ClickLabels, min_impressions: int) -> np.ndarray:
    if min_impressions < 1:
        raise ValueError(f"min_impressions must be at least 1, got {min_impressions}")
    keep = np.flatnonzero(labels.impressions >= min_impressions)
    # one query's pairs together, best first
    order = sorted(keep.tolist(), key=lambda i: (labels.queries[i], -labels.score[i], labels.product_ids[i]))
    return np.asarray(order, dtype=np.int64)


def _label_texts(scores: np.ndarray, grades: int) -> tuple[list[str], float]:
    if grades == 0:
        return [f"{s:.6g}" for s in scores], 0.0
    top = grade_scale(scores)
    return [str(g) for g in grade(scores, grades, top=top)], top


def to_judgments(labels: ClickLabels, *, grades: int = 4, min_impressions: int = 1) -> Judgments:
    """The rows :func:`write_label_files` writes, as :class:`~shopmatch.judgments.Judgments`.

    Example:
        >>> from shopmatch.events.click_models import ClickModelConfig, click_labels
        >>> from shopmatch.events import Impression, Interaction, collect_events
        >>> from datetime import UTC, datetime
        >>> now = datetime(2026, 12, 6, tzinfo=UTC)
        >>> log = collect_events([Impression("s1", "Mug", ("a", "b"), now), Interaction("click", "s1", "b", now)])
        >>> [(j.query, j.product_id, j.label) for j in to_judgments(click_labels(log, "ctr"), grades=2).rows]
        [('mug', 'b', '1'), ('mug', 'a', '0')]
    """
    keep = _kept(labels, min_impressions)
    texts, _ = _label_texts(labels.score[keep], grades)
    return Judgments(
        [
            Judgment(query_id(labels.queries[i]), labels.queries[i], labels.product_ids[i], text)
            for i, text in zip(keep, texts, strict=True)
        ]
    )


def write_label_files(
    labels: ClickLabels, path: str | Path, *, grades: int = 4, min_impressions: int = 1
) -> LabelFiles:
    """Write ``path`` (a judgments TSV; gzip'd when it ends in ``.gz``) and its sidecar :func:`counts_path`.

    Args:
        labels: A fitted click model's scores.
        path: The judgments file to write (replaced atomically, as is the sidecar).
        grades: K grades ``0 … K − 1`` (at least 2), or 0 to write the scores themselves.
        min_impressions: Pairs shown fewer times are left out.
    """
    if grades != 0 and grades < 2:
        raise ValueError(f"grades must be 0 (the scores themselves) or at least 2, got {grades}")
    path = Path(path)
    keep = _kept(labels, min_impressions)
    texts, top = _label_texts(labels.score[keep], grades)
    judgment_lines, count_lines = ["\t".join(JUDGMENT_COLUMNS)], ["\t".join(COUNT_COLUMNS)]
    for i, text in zip(keep, texts, strict=True):
        row = [query_id(labels.queries[i]), labels.queries[i], labels.product_ids[i], text]
        judgment_lines.append("\t".join(row))
        numbers = [f"{labels.score[i]:.6g}", *(str(int(a[i])) for a in _counted(labels))]
        numbers += [f"{labels.examined[i]:.4g}", f"{labels.confidence[i]:.4f}"]
        count_lines.append("\t".join(row + numbers))
    sidecar = counts_path(path)
    _write_text(path, "\n".join(judgment_lines) + "\n")
    _write_text(sidecar, "\n".join(count_lines) + "\n")
    written = LabelFiles(
        path,
        sidecar,
        pairs=len(keep),
        queries=len({labels.queries[i] for i in keep}),
        dropped=len(labels) - len(keep),
        top=top,
    )
    logger.info("wrote %d judgments of %d queries to %s", written.pairs, written.queries, path)
    return written


def _counted(labels: ClickLabels) -> tuple[np.ndarray, ...]:
    return labels.impressions, labels.clicks, labels.carts, labels.purchases


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        data = text.encode("utf-8")
        with open(tmp, "wb") as handle:
            handle.write(gzip.compress(data, mtime=0) if path.name.lower().endswith(".gz") else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
