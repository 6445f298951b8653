"""Distillation: a trained cross-encoder (the teacher) labels training pairs with its relevance
probabilities, and a smaller, faster cross-encoder (the student) learns those soft targets with
the same binary cross-entropy it would use on judgments.

Why: a re-ranker must score 50 candidates in a few tens of milliseconds on a CPU. A student with
fewer layers and a shorter token limit is fast enough, but trained on the judgments alone it has
too little signal. The teacher's probabilities are a denser signal than the 0/0.1/1 labels: they
rank the unjudged candidates too (what the student meets in retrieval), and they say how sure the
teacher is. ``teacher_weight`` < 1 keeps part of the judged label in the target.

The student usually starts from the teacher itself with ``max_layers`` set (its lower layers and
its trained head), which keeps the head's scale and the early layers' features.

For the bi-encoder, :func:`teacher_margins` labels each (query, positive, negatives) row with
the teacher's margins ``teacher(q, pos) − teacher(q, neg)``, learnt with MarginMSELoss
(Hofstätter et al. 2020, arXiv:2010.02666).

Example:
    >>> pairs = teacher_targets("my-reranker", labeled_pairs(judged, catalog, gains))  # doctest: +SKIP
    >>> config = CrossEncoderTrainConfig(model="my-reranker", max_layers=2, max_length=32)  # doctest: +SKIP
    >>> train_cross_encoder(pairs, "my-student", config)                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.progress import progress_enabled, track
from shopmatch.settings import require_number
from shopmatch.train.data import LabeledPair

logger = logging.getLogger(__name__)

SCORING_CHUNK = 512  # pairs per progress step


def teacher_targets(
    teacher_dir: str | Path,
    pairs: Sequence[LabeledPair],
    *,
    teacher_weight: float = 1.0,
    backend: str = "torch",
) -> list[LabeledPair]:
    """``pairs`` with their targets replaced by ``teacher_weight · p_teacher + (1 − teacher_weight) · target``.

    Args:
        teacher_dir: a trained cross-encoder re-ranker directory (one output, a relevance logit).
        pairs: the training pairs: judged ones (their ``target`` is the judged label) and, usually,
            unjudged retrieved candidates (target 0, which the teacher then replaces).
        teacher_weight: share of the teacher's probability in the new target, in [0, 1].
        backend: how the teacher runs (``torch`` is exact; ``onnx-int8`` is faster).

    Raises:
        ConfigError: ``teacher_dir`` is not a re-ranker directory, or ``teacher_weight`` is out of range.
    """
    from shopmatch.rerank import CrossEncoderReranker, RerankConfig

    teacher_weight = require_number("distill", "teacher_weight", teacher_weight, 0.0, 1.0)
    config = RerankConfig(backend=backend).with_model(teacher_dir)
    teacher = CrossEncoderReranker.from_config(config)
    logger.info("teacher %s scores %d training pairs", teacher_dir, len(pairs))
    chunks = [pairs[i : i + SCORING_CHUNK] for i in range(0, len(pairs), SCORING_CHUNK)]
    probabilities: list[float] = []
    for chunk in track(chunks, description="teacher scoring"):
        probabilities.extend(teacher.score_pairs([(p.query, p.text) for p in chunk]).tolist())
    return [
        replace(p, target=float(teacher_weight * prob + (1.0 - teacher_weight) * p.target))
        for p, prob in zip(pairs, probabilities, strict=True)
    ]


def teacher_margins(teacher: str | Path, rows: list[dict[str, Any]], n_negatives: int, batch_size: int) -> list:
    """``teacher(q, pos) − teacher(q, neg_i)`` for every row (a float, or a list for several negatives)."""
    from sentence_transformers import CrossEncoder

    started = time.perf_counter()
    model = CrossEncoder(str(teacher), device="cpu", local_files_only=True)
    columns = ["positive", *(f"negative_{i + 1}" for i in range(n_negatives))]
    pairs = [(row["anchor"], row[c]) for row in rows for c in columns]
    scores = np.asarray(
        model.predict(pairs, batch_size=batch_size, show_progress_bar=progress_enabled(), convert_to_numpy=True),
        dtype=np.float64,
    ).reshape(len(rows), len(columns))
    margins = scores[:, :1] - scores[:, 1:]  # (rows, n_negatives)
    logger.info(
        "teacher %s scored %d pairs in %.1f s (mean margin %.3f)",
        teacher,
        len(pairs),
        time.perf_counter() - started,
        float(margins.mean()) if margins.size else 0.0,
    )
    return [float(m[0]) for m in margins] if n_negatives == 1 else [m.tolist() for m in margins]
