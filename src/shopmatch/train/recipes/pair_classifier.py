"""The pair-classifier recipe: a ``pairs.tsv`` in, a cross-encoder classifier directory out.

Steps: read the pairs, hold out dev rows, extend the vocabulary, train a synthetic-pair stage on
pseudo-queries of the pairs' ``text_b`` (and a file of unlabeled texts), then fine-tune with
:func:`~shopmatch.train.cross_encoder.train_pair_classifier` on the training harness.

Example:
    >>> recipe = PairClassifierRecipe(pairs="pairs.tsv", output="models/clf", extend_vocab=True)
    >>> summary = train_pair_classifier_recipe(recipe)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shopmatch.train.cross_encoder import CrossEncoderTrainConfig
from shopmatch.train.recipes.common import (
    Notify,
    Recipe,
    SyntheticStage,
    join_processes,
    reporter,
    synthetic_stage,
    unlabeled_texts,
    vocabulary_extended,
)
from shopmatch.train.summary import TrainingSummary


@dataclass(frozen=True)
class PairClassifierRecipe(Recipe):
    """How to train a cross-encoder pair classifier (``shopmatch train pairs``).

    Attributes:
        pairs: the ``pairs.tsv`` to train on (text_a, text_b, integer class).
        extend_vocab: add the training texts' CJK characters to the vocabulary first.
        synthetic: a first stage on pseudo-queries of the pairs' ``text_b`` and ``synthetic.texts``.
        train: the cross-encoder's training settings (``[train]``).
    """

    SECTION = "pairs"

    pairs: str | None = None
    extend_vocab: bool = False
    synthetic: SyntheticStage = field(default_factory=SyntheticStage)
    train: CrossEncoderTrainConfig = field(default_factory=CrossEncoderTrainConfig)


def train_pair_classifier_recipe(
    recipe: PairClassifierRecipe, *, resume: bool = False, notify: Notify | None = None
) -> TrainingSummary:
    """Run ``recipe``; returns the training summary (saved next to the model)."""
    from shopmatch.train.cross_encoder import train_pair_classifier
    from shopmatch.train.inputs import read_training_pairs
    from shopmatch.train.splits import hold_out

    recipe.require("pairs", "output")
    report = reporter(notify)
    join_processes(recipe.train.device)
    config, output = recipe.train, Path(recipe.output)  # type: ignore[arg-type]
    rows = read_training_pairs(recipe.pairs)  # type: ignore[arg-type]
    dev = read_training_pairs(recipe.dev) if recipe.dev is not None else None
    train_rows, dev_rows = hold_out(rows, dev=dev, fraction=recipe.held_out_fraction, seed=config.seed)
    report(f"training on {len(train_rows):,} pairs" + (f", dev {len(dev_rows):,}" if dev_rows else ""))
    texts = [t for r in train_rows for t in (r.text_a, r.text_b)]
    unlabeled = unlabeled_texts(recipe.synthetic, report)
    start = vocabulary_extended(config.model, texts + unlabeled, output, report) if recipe.extend_vocab else None
    if recipe.synthetic.queries:
        from shopmatch.train.synthetic import train_on_synthetic_pairs

        queries = recipe.synthetic.queries
        sources = [r.text_b for r in train_rows] + unlabeled
        start = synthetic_stage(
            output,
            resume,
            f"{queries:,} pseudo-queries from {len(set(sources)):,} texts",
            lambda stage_dir, start=start: train_on_synthetic_pairs(
                sources,
                stage_dir,
                config,
                count=queries,
                model_dir=start,
                learning_rate=recipe.synthetic.learning_rate,
            ),
            report,
        )
    return train_pair_classifier(train_rows, output, config, dev=dev_rows, resume=resume, model_dir=start)
