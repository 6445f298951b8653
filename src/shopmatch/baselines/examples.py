"""Training and dev examples of the classic baselines, in columns, from any of the kinds a shop has.

:class:`~shopmatch.train.data.LabeledPair` objects (judgments and a catalog), ``(query, text,
target)`` tuples, or :class:`~shopmatch.judgments.Pair` rows of a pair set (integer classes,
trained as an ordinal regression: the target of class ``k`` is ``k / (C − 1)``).

Example:
    >>> e = as_examples([("mug", "red mug", 1.0), ("sofa", "blue sofa", 0.0)])
    >>> e.queries, e.targets.tolist(), e.num_classes
    (['mug', 'sofa'], [1.0, 0.0], 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shopmatch.errors import DataError
from shopmatch.judgments import Pair
from shopmatch.train.data import LabeledPair

Example = LabeledPair | Pair | tuple[str, str, float]


@dataclass
class Examples:
    """Training or dev examples in columns.

    Attributes:
        queries, texts: the two sides of each pair.
        targets: ``(n,)`` float32 targets in [0, 1].
        query_ids: one per pair when the examples came from judgments (enables dev NDCG@10), else None.
        labels: ``(n,)`` integer classes when the examples came from a pair set, else None.
        num_classes: ``C`` for a pair set, else 2.
    """

    queries: list[str]
    texts: list[str]
    targets: np.ndarray
    query_ids: list[str] | None = None
    labels: np.ndarray | None = None
    num_classes: int = 2

    def __len__(self) -> int:
        return len(self.queries)


def as_examples(examples: Sequence[Example] | Examples, *, num_classes: int | None = None) -> Examples:
    """Turn LabeledPairs, Pairs or ``(query, text, target)`` tuples into :class:`Examples`.

    Args:
        examples: all of one kind.
        num_classes: for Pairs: ``C`` (default: the largest label + 1, at least 2).

    Raises:
        DataError: no examples, mixed kinds, a target outside [0, 1], a class ≥ ``num_classes``.
    """
    if isinstance(examples, Examples):
        return examples
    examples = list(examples)
    if not examples:
        raise DataError("no training examples")
    first = examples[0]
    if isinstance(first, Pair):
        if not all(isinstance(e, Pair) for e in examples):
            raise DataError("examples mix pair-set rows with other kinds")
        labels = np.array([e.label for e in examples], dtype=np.int64)
        classes = num_classes if num_classes is not None else max(int(labels.max()) + 1, 2)
        if labels.max() >= classes:
            raise DataError(f"class {int(labels.max())} in the examples, but the model knows {classes} classes")
        return Examples(
            [e.text_a for e in examples],
            [e.text_b for e in examples],
            (labels / (classes - 1)).astype(np.float32),
            labels=labels,
            num_classes=classes,
        )
    if isinstance(first, LabeledPair):
        if not all(isinstance(e, LabeledPair) for e in examples):
            raise DataError("examples mix LabeledPairs with other kinds")
        out = Examples(
            [e.query for e in examples],
            [e.text for e in examples],
            np.array([e.target for e in examples], dtype=np.float32),
            query_ids=[e.query_id for e in examples] if all(e.query_id for e in examples) else None,
        )
    else:
        try:
            out = Examples(
                [str(e[0]) for e in examples],
                [str(e[1]) for e in examples],
                np.array([float(e[2]) for e in examples], dtype=np.float32),
            )
        except (TypeError, IndexError, ValueError) as error:
            raise DataError(f"examples must be (query, text, target) tuples: {error}") from None
    bad = np.flatnonzero(~((out.targets >= 0) & (out.targets <= 1)))
    if bad.size:
        raise DataError(f"{bad.size} target(s) outside [0, 1] (first: example {bad[0]}, {out.targets[bad[0]]})")
    return out


def with_random_negatives(examples: Examples, per_pair: int, seed: int) -> Examples:
    """Add ``per_pair`` random negatives (target 0) for every pair: the same query with the text of
    a pair of another query, drawn with a seeded generator.

    Judged candidates are all about their query; a model trained on them alone never sees an
    off-topic product, which retrieval over a whole catalog needs. Classes, if any, become 0.

    Example:
        >>> e = as_examples([("mug", "red mug", 1.0), ("sofa", "blue sofa", 1.0)])
        >>> [(q, t) for q, t in zip(*(lambda x: (x.queries, x.texts))(with_random_negatives(e, 1, 0)))][2:]
        [('mug', 'blue sofa'), ('sofa', 'red mug')]
    """
    if per_pair <= 0:
        return examples
    groups = examples.query_ids or examples.queries
    texts_of: dict[str, set[str]] = {}
    for g, t in zip(groups, examples.texts, strict=True):
        texts_of.setdefault(g, set()).add(t)
    rng = np.random.default_rng(seed)
    queries, texts, ids = [], [], []
    n = len(examples)
    for i in range(n):
        for _ in range(per_pair):
            for _attempt in range(10):
                j = int(rng.integers(n))
                if examples.texts[j] not in texts_of[groups[i]]:
                    queries.append(examples.queries[i])
                    texts.append(examples.texts[j])
                    ids.append(groups[i])
                    break
    extra = len(queries)
    return Examples(
        examples.queries + queries,
        examples.texts + texts,
        np.concatenate([examples.targets, np.zeros(extra, dtype=np.float32)]),
        query_ids=examples.query_ids + ids if examples.query_ids is not None else None,
        labels=np.concatenate([examples.labels, np.zeros(extra, dtype=np.int64)])
        if examples.labels is not None
        else None,
        num_classes=examples.num_classes,
    )
