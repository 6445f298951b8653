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

Example:
    >>> pairs = teacher_targets("my-reranker", labeled_pairs(judged, catalog, gains))  # doctest: +SKIP
    >>> config = CrossEncoderTrainConfig(model="my-reranker", max_layers=2, max_length=32)  # doctest: +SKIP
    >>> train_cross_encoder(pairs, "my-student", config)                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from shopmatch.errors import ConfigError
from shopmatch.progress import track
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

    if isinstance(teacher_weight, bool) or not isinstance(teacher_weight, int | float) or not 0 <= teacher_weight <= 1:
        raise ConfigError(f"teacher_weight must be a number in [0, 1], got {teacher_weight!r}")
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
