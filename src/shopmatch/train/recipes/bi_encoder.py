"""The bi-encoder recipe: judgments and a catalog in, a sentence-transformers bi-encoder directory out.

Steps: read the catalog and the judgments, hold out dev queries (none by default), then
:func:`~shopmatch.train.bi_encoder.train_bi_encoder` mines hard negatives with the shop's search,
optionally labels the rows with a cross-encoder teacher's margins, and trains on the harness.

Example:
    >>> recipe = BiEncoderRecipe(catalog="products.jsonl", judgments="judgments.tsv", output="models/bi",
    ...                          dev_fraction=0.1, train=BiEncoderTrainConfig(epochs=2, patience=1))
    >>> summary = train_bi_encoder_recipe(recipe)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from shopmatch.judgments import DUPLICATE_POLICIES
from shopmatch.settings import setting
from shopmatch.train.bi_encoder import BiEncoderTrainConfig
from shopmatch.train.recipes.common import Notify, Recipe, join_processes, reporter
from shopmatch.train.recipes.reranker import ESCI_GAINS
from shopmatch.train.summary import TrainingSummary


@dataclass(frozen=True)
class BiEncoderRecipe(Recipe):
    """How to fine-tune the bi-encoder (``shopmatch train bi-encoder``).

    Attributes:
        catalog, judgments: the catalog and the judgments on its products.
        gains: label gains (targets are gain / top gain; positives and exclusions by target).
        duplicates: how several ratings of one (query, product) pair merge: mean, max, first or error.
        teacher: a cross-encoder directory: distil its margins with MarginMSE (``train.distill``
            follows it).
        train: the bi-encoder's training settings (``[train]``).
    """

    SECTION = "bi-encoder"
    DEFAULT_DEV_FRACTION = 0.0

    catalog: str | None = None
    judgments: str | None = None
    gains: str = ESCI_GAINS
    duplicates: str = setting("mean", choices=DUPLICATE_POLICIES)
    teacher: str | None = None
    train: BiEncoderTrainConfig = field(default_factory=BiEncoderTrainConfig)


def train_bi_encoder_recipe(
    recipe: BiEncoderRecipe, *, resume: bool = False, notify: Notify | None = None
) -> TrainingSummary:
    """Run ``recipe``; returns the training summary (saved next to the model)."""
    from shopmatch.train.bi_encoder import train_bi_encoder
    from shopmatch.train.inputs import parse_gains, read_products, read_training_judgments
    from shopmatch.train.splits import hold_out

    recipe.require("catalog", "judgments", "output")
    report = reporter(notify)
    join_processes(recipe.train.device)
    config = replace(recipe.train, distill=recipe.teacher is not None)
    gains = parse_gains(recipe.gains)
    products = read_products(recipe.catalog)  # type: ignore[arg-type]
    judged = read_training_judgments(recipe.judgments, gains, recipe.duplicates)  # type: ignore[arg-type]
    dev = read_training_judgments(recipe.dev, gains, recipe.duplicates) if recipe.dev is not None else None
    train, dev = hold_out(judged, dev=dev, fraction=recipe.held_out_fraction, seed=config.seed)
    report(
        f"training on {len(train.queries):,} queries"
        + (f", dev {len(dev.queries):,} queries" if dev is not None else ", no dev set")
    )
    out = train_bi_encoder(
        train, products, config, Path(recipe.output), dev=dev, gains=gains, teacher=recipe.teacher, resume=resume
    )
    return TrainingSummary.load(out)
