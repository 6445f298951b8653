"""Training data for the ranker from judgments: each judged query's candidates, features and graded labels.

A query's candidates are exactly what the ranker stage will re-order when searching: the first
``[ranker] top_n`` candidates of a retrieval-mode search (the whole catalog; after fusion, feedback
and the cross-encoder when there is one), through :func:`shopmatch.search.retrieval_ranker_inputs`.
Judged products the pipeline does not find are left out (the ranker never sees them either);
unjudged candidates get grade 0, as the evaluation counts them (gain 0).

Labels are grades: the judgments' distinct gains in increasing order are 0, 1, 2, … (ESCI: I=0,
C=1, S=2, E=3). :attr:`RankingData.gains` keeps each grade's gain, and LambdaMART is trained with
those gains (``label_gain``), so it optimises the NDCG the evaluation reports (linear gains), not
LightGBM's default ``2**grade - 1``.

How data flows (to add a source of training data, e.g. events): build a :class:`RankingData`
(``features`` from :func:`shopmatch.rank.features.candidate_features`, one block per query,
``labels`` the integer grades, ``gains`` the gain of each grade), then
:func:`shopmatch.rank.selection.fit_ranker` chooses and trains the model. With ``feature_groups``
(:mod:`shopmatch.rank.feature_groups`, e.g. category intent), their columns follow the base
features and the shipped ranker keeps the groups.

Example:
    >>> grades({"a": 1.0, "b": 0.1, "c": 0.0, "d": 0.1})
    {0.0: 0, 0.1: 1, 1.0: 2}
    >>> data = RankingData(["q"], np.zeros((2, 1), np.float32), np.array([0, 1]), [2], (0.0, 1.0), ("x",))
    >>> data.subset(["q"]).groups
    [2]
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopmatch.judgments import GainMap, Judgments
from shopmatch.pipeline import SearchPipeline
from shopmatch.progress import track
from shopmatch.rank.feature_groups import group_features, group_names
from shopmatch.rank.features import FEATURE_NAMES, candidate_features
from shopmatch.search import retrieval_ranker_inputs


@dataclass
class RankingData:
    """Feature rows grouped by query (``groups``: rows per query, in ``query_ids`` order), integer
    grades (``labels``), the gain of each grade (``gains``) and the feature names of the columns."""

    query_ids: list[str]
    features: np.ndarray
    labels: np.ndarray
    groups: list[int]
    gains: tuple[float, ...] = ()
    feature_names: tuple[str, ...] = field(default=FEATURE_NAMES)
    ideal: np.ndarray | None = None  # each query's ideal DCG@10 over all its judgments (None: its candidates')
    feature_groups: tuple = ()  # the groups whose columns follow the base features (the ranker keeps them)

    @property
    def starts(self) -> np.ndarray:
        """Each query's first row (and the row count last)."""
        return np.concatenate([[0], np.cumsum(self.groups)]).astype(np.int64)

    def held_out(self, valid_share: float, seed: int = 0) -> tuple[RankingData, RankingData]:
        """``(train, valid)``: a seeded ``valid_share`` of the queries held out (none with fewer than
        5 queries), for early stopping."""
        query_ids = list(self.query_ids)
        random.Random(seed).shuffle(query_ids)
        held = int(round(len(query_ids) * valid_share)) if len(query_ids) >= 5 else 0
        return self.subset(query_ids[held:]), self.subset(query_ids[:held])

    def subset(self, query_ids: Sequence[str]) -> RankingData:
        """The rows of these queries, in this order (a subclass keeps its own fields: see
        :meth:`_subset_rows`)."""
        picks, rows = self._picks(query_ids)
        return dataclasses.replace(
            self,
            query_ids=list(query_ids),
            features=self.features[rows],
            labels=self.labels[rows],
            groups=[self.groups[i] for i in picks],
            ideal=None if self.ideal is None else self.ideal[picks],
            **self._subset_rows(rows),
        )

    def _picks(self, query_ids: Sequence[str]) -> tuple[list[int], np.ndarray]:
        """The queries' places in ``query_ids`` and their rows, in the given order."""
        starts = self.starts
        where = {q: i for i, q in enumerate(self.query_ids)}
        picks = [where[q] for q in query_ids]
        rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in picks]) if picks else np.zeros(0, int)
        return picks, rows

    def _subset_rows(self, rows: np.ndarray) -> dict[str, Any]:
        """A subclass's per-row fields, cut to ``rows`` (none here)."""
        return {}

    def without_groups(self) -> RankingData:
        """The base features alone (the groups' columns dropped)."""
        keep = len(self.feature_names) - len(group_names(self.feature_groups))
        return RankingData(
            self.query_ids,
            self.features[:, :keep],
            self.labels,
            self.groups,
            self.gains,
            self.feature_names[:keep],
            self.ideal,
        )

    def save(self, path: str) -> None:
        """Write an ``.npz`` (a cache for benchmarks; :meth:`load` reads it)."""
        np.savez_compressed(
            path,
            query_ids=np.array(self.query_ids),
            features=self.features,
            labels=self.labels,
            groups=np.array(self.groups),
            gains=np.array(self.gains, dtype=np.float64),
            feature_names=np.array(self.feature_names),
            **({} if self.ideal is None else {"ideal": self.ideal}),
        )

    @classmethod
    def load(cls, path: str, feature_groups: Sequence = ()) -> RankingData:
        """Read what :meth:`save` wrote. The groups' objects are not in the file: pass the
        ``feature_groups`` it was extracted with (their names must end the file's feature names),
        so that a ranker trained on it keeps them.

        Raises:
            ValueError: the file's feature names do not end with the groups' features.
        """
        with np.load(path) as z:
            data = cls(
                [str(q) for q in z["query_ids"]],
                z["features"],
                z["labels"],
                [int(g) for g in z["groups"]],
                tuple(float(g) for g in z["gains"]),
                tuple(str(n) for n in z["feature_names"]),
                z["ideal"] if "ideal" in z.files else None,
                tuple(feature_groups),
            )
        extra = group_names(data.feature_groups)
        if extra and data.feature_names[-len(extra) :] != extra:
            raise ValueError(f"{path}: the features do not end with the groups' {list(extra)}")
        return data


def grades(gains: Mapping[str, float]) -> dict[float, int]:
    """Each distinct gain's grade, counting up from 0 for gain 0 (what an unjudged candidate gets)."""
    return {gain: grade for grade, gain in enumerate(sorted({0.0, *gains.values()}))}


def ranking_data(
    pipeline: SearchPipeline,
    judgments: Judgments,
    gains: GainMap,
    *,
    top_n: int | None = None,
    feature_groups: Sequence = (),
) -> RankingData:
    """Candidates, features and grades of every judged query: the first ``top_n`` (default the
    pipeline's ``[ranker] top_n``) of a retrieval-mode search, as the ranker stage will see them
    (``pipeline`` without a ranker), the base features then those of ``feature_groups``
    (:func:`shopmatch.rank.feature_groups.default_groups`: what ``train ranker`` adds). Queries
    without a candidate are left out."""
    snapshot = pipeline.snapshot
    feature_groups = tuple(feature_groups)
    names = FEATURE_NAMES + group_names(feature_groups)
    top_n = top_n or pipeline.config.ranker.top_n
    qrels = judgments.qrels(gains)
    grade_of = grades({f"{q}\t{p}": g for q, judged in qrels.items() for p, g in judged.items()})
    query_ids, blocks, labels, groups, ideal = [], [], [], [], []
    for q in track(judgments.query_ids, total=len(judgments.query_ids), description="Features"):
        judged = qrels.get(q, {})
        inputs = retrieval_ranker_inputs(snapshot, judgments.queries[q])
        n = min(int((inputs.hits.rows[0] >= 0).sum()), top_n)
        if not n:
            continue
        block = candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, n)
        if feature_groups:
            extra = group_features(feature_groups, snapshot, inputs.query, inputs.prepared, inputs.hits, n)
            block = np.hstack([block, extra])
        blocks.append(block)
        ids_of = [snapshot.id_of(int(row)) for row in inputs.hits.rows[0, :n]]
        query_ids.append(q)
        labels.append([grade_of[judged[pid]] if pid in judged else 0 for pid in ids_of])
        groups.append(n)
        ideal.append(ideal_dcg(list(judged.values())))
    features = np.concatenate(blocks) if blocks else np.zeros((0, len(names)), dtype=np.float32)
    flat = np.concatenate([np.asarray(block, dtype=np.int32) for block in labels]) if labels else np.zeros(0, np.int32)
    return RankingData(
        query_ids, features, flat, groups, tuple(sorted(grade_of)), names, np.asarray(ideal, np.float64), feature_groups
    )


def query_folds(query_ids: Sequence[str], folds: int, *, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """``folds`` (train, held-out) splits of the queries, each held out once (seeded shuffle).

    Example:
        >>> [len(held) for _, held in query_folds(list("abcde"), 2)]
        [3, 2]
    """
    shuffled = list(query_ids)
    random.Random(seed).shuffle(shuffled)
    folds = max(2, min(folds, len(shuffled)))
    out = []
    for k in range(folds):
        held = shuffled[k::folds]
        held_set = set(held)
        out.append(([q for q in shuffled if q not in held_set], held))
    return out


def ideal_dcg(gains: Sequence[float], k: int = 10) -> float:
    """DCG@k of these gains in the best order (linear gains).

    Example:
        >>> ideal_dcg([0.0, 1.0])
        1.0
    """
    best = np.sort(np.asarray(gains, dtype=np.float64))[::-1][:k]
    return float((best / np.log2(np.arange(2, len(best) + 2))).sum())


def per_query_ndcg(data: RankingData, scores: np.ndarray, k: int = 10) -> np.ndarray:
    """NDCG@k of each query of ``data`` with its candidates ordered as the search would show them:
    by ``scores`` (ties: the candidates' order), those that mention what the query excludes last;
    the data's gains, the ideal over all the query's judgments (:attr:`RankingData.ideal`) when known."""
    starts = data.starts
    gain_of = np.asarray(data.gains or range(int(data.labels.max(initial=0)) + 1), dtype=np.float64)
    if not data.gains:
        gain_of = np.power(2.0, gain_of) - 1.0
    names = data.feature_names
    excluded = data.features[:, names.index("excluded")] if "excluded" in names else np.zeros(len(data.labels))
    out = np.zeros(len(data.groups))
    for i in range(len(data.groups)):
        rows = slice(starts[i], starts[i + 1])
        order = np.lexsort((np.arange(starts[i + 1] - starts[i]), -scores[rows], excluded[rows] > 0))
        gains = gain_of[data.labels[rows][order]][:k]
        ideal = data.ideal[i] if data.ideal is not None else ideal_dcg(gain_of[data.labels[rows]], k)
        out[i] = float((gains / np.log2(np.arange(2, len(gains) + 2))).sum()) / ideal if ideal > 0 else 0.0
    return out


def ndcg_at(grades_in_order: np.ndarray, k: int, gain_of: Sequence[float] | np.ndarray | None = None) -> float:
    """NDCG@k of grades listed in ranked order (gains ``gain_of[grade]``, default ``2**grade - 1``);
    0 when none is relevant.

    Example:
        >>> ndcg_at(np.array([0, 1]), 10) < ndcg_at(np.array([1, 0]), 10) == 1.0
        True
    """
    grades_in_order = np.asarray(grades_in_order, dtype=np.int64)
    if gain_of is None:
        gains = np.power(2.0, grades_in_order.astype(np.float64)) - 1.0
    else:
        gains = np.asarray(gain_of, dtype=np.float64)[grades_in_order]
    discounts = 1.0 / np.log2(np.arange(2, min(k, len(gains)) + 2))
    ideal = float((np.sort(gains)[::-1][:k] * discounts).sum())
    return float((gains[:k] * discounts).sum()) / ideal if ideal > 0 else 0.0
