"""Pseudo-relevance feedback for the bi-encoder: move the query vector towards its first results.

A short query (``airpods 2``, ``salt gun``) says little; the products it finds first say more
about what the shopper means. Rocchio's feedback, on the dense side of the pipeline:

1. the pipeline searches as usual (every retriever, fused; products that mention what the query
   excludes moved after the others, so they are never the feedback);
2. the query's unit vector ``q`` is moved towards the mean vector of the top ``docs`` fused
   products, ``q' = normalize(q + weight · mean(d_1 … d_docs))``;
3. the bi-encoder searches again with ``q'`` and that list replaces its first one in the fusion.

The lexical list is the same in both passes, so the fused list changes only where the bi-encoder's
does. Nothing is trained, and there is nothing to fit. ``[feedback] enabled = false`` turns it off;
a pipeline without the ``dense`` retriever has nothing to move.

Example:
    >>> import numpy as np
    >>> query = np.array([[1.0, 0.0]], dtype=np.float32)
    >>> found = [np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32)]
    >>> np.round(expanded_vectors(query, found, weight=1.0).astype(np.float64), 3).tolist()
    [[0.707, 0.707]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shopmatch.settings import ConfigSection, setting


@dataclass(frozen=True)
class FeedbackConfig(ConfigSection):
    """Settings of pseudo-relevance feedback (``[feedback]`` in a pipeline config).

    Attributes:
        enabled: search the bi-encoder a second time with the query moved towards its results.
        docs: how many of the first fused results are the feedback (1 or more).
        weight: how far the query moves towards their mean vector (0 leaves it where it is).
    """

    SECTION = "feedback"

    enabled: bool = True
    docs: int = setting(5, minimum=1)
    weight: float = setting(1.0, minimum=0.0, maximum=100.0)

    @property
    def active(self) -> bool:
        return self.enabled and self.weight > 0


def expanded_vectors(queries: np.ndarray, found: Sequence[np.ndarray], weight: float) -> np.ndarray:
    """Each query's unit vector moved towards the mean of its feedback vectors (Rocchio).

    Args:
        queries: ``(n, dim)`` unit query vectors.
        found: for each query, the ``(m, dim)`` vectors of its feedback products (``m`` may be 0:
            the query is left as it is).
        weight: the feedback's weight against the query's 1.
    """
    if len(found) != len(queries):
        raise ValueError(f"{len(queries)} queries but feedback for {len(found)}")
    out = np.array(queries, dtype=np.float32, copy=True)
    for i, vectors in enumerate(found):
        if len(vectors) == 0 or weight == 0:
            continue
        moved = out[i] + weight * np.asarray(vectors, dtype=np.float32).mean(axis=0)
        norm = float(np.linalg.norm(moved))
        if norm > 0:
            out[i] = moved / norm
    return out
