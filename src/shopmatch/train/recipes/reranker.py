"""The re-ranker recipe: judgments and a catalog in, a cross-encoder re-ranker directory out.

Steps: read the catalog and the judgments, hold out the dev queries, turn judgments into
(query, product text, target) pairs, add unjudged negatives mined with the shop's own search,
let a teacher relabel the pairs (distillation), extend the vocabulary, train a synthetic-pair
stage, then fine-tune with :func:`~shopmatch.train.cross_encoder.train_cross_encoder` on the
training harness. Each step after the split is optional.

Example:
    >>> recipe = RerankerRecipe(catalog="products.jsonl", judgments="judgments.tsv", output="models/ce",
    ...                         negatives=10, train=CrossEncoderTrainConfig(epochs=2, learning_rate=1e-4))
    >>> summary = train_reranker(recipe)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shopmatch.judgments import DUPLICATE_POLICIES
from shopmatch.settings import setting
from shopmatch.train.cross_encoder import CrossEncoderTrainConfig
from shopmatch.train.mining import RETRIEVERS
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

ESCI_GAINS = "E=1,S=0.1,C=0.01,I=0"


@dataclass(frozen=True)
class RerankerRecipe(Recipe):
    """How to train a cross-encoder re-ranker (``shopmatch train cross-encoder``).

    Attributes:
        catalog, judgments: the catalog and the judgments on its products.
        gains: label gains; a pair's target is its gain / the top gain.
        duplicates: how several ratings of one (query, product) pair merge: mean, max, first or error.
        skip_missing: skip judged products missing from the catalog (else an error).
        negatives: per training query, this many unjudged products from the top
            ``negatives_depth`` of the ``mine_with`` retrievers, with target 0.
        teacher: distil: a trained cross-encoder whose probabilities become the targets (of the
            judged pairs and of the mined negatives); ``teacher_weight`` is its share of a target.
        extend_vocab: add the training texts' CJK characters to the vocabulary first.
        synthetic: a first stage on pseudo-queries of the catalog's titles.
        train: the cross-encoder's training settings (``[train]``).
    """

    SECTION = "reranker"

    catalog: str | None = None
    judgments: str | None = None
    gains: str = ESCI_GAINS
    duplicates: str = setting("mean", choices=DUPLICATE_POLICIES)
    skip_missing: bool = False
    negatives: int = setting(0, minimum=0)
    negatives_depth: int = setting(50, minimum=1)
    mine_with: tuple[str, ...] = setting(RETRIEVERS, choices=RETRIEVERS)
    teacher: str | None = None
    teacher_weight: float = setting(1.0, minimum=0.0, maximum=1.0)
    extend_vocab: bool = False
    synthetic: SyntheticStage = field(default_factory=SyntheticStage)
    train: CrossEncoderTrainConfig = field(default_factory=CrossEncoderTrainConfig)


def train_reranker(recipe: RerankerRecipe, *, resume: bool = False, notify: Notify | None = None) -> TrainingSummary:
    """Run ``recipe``; returns the training summary (saved next to the model).

    Args:
        resume: continue an interrupted run (its last checkpoint; a finished synthetic stage is reused).
        notify: where progress messages go (default: the log).
    """
    from shopmatch.train.cross_encoder import resolved_head, train_cross_encoder
    from shopmatch.train.data import labeled_pairs
    from shopmatch.train.inputs import parse_gains, read_products, read_training_judgments
    from shopmatch.train.splits import hold_out

    recipe.require("catalog", "judgments", "output")
    report = reporter(notify)
    join_processes(recipe.train.device)
    config, output = recipe.train, Path(recipe.output)  # type: ignore[arg-type]
    resolved_head(config, config.model)  # a head that cannot be had fails now, not after mining
    gains = parse_gains(recipe.gains)
    products = read_products(recipe.catalog)  # type: ignore[arg-type]
    judged = read_training_judgments(recipe.judgments, gains, recipe.duplicates)  # type: ignore[arg-type]
    dev = read_training_judgments(recipe.dev, gains, recipe.duplicates) if recipe.dev is not None else None
    train_set, dev_set = hold_out(judged, dev=dev, fraction=recipe.held_out_fraction, seed=config.seed)
    train_pairs = labeled_pairs(train_set, products, gains, skip_missing=recipe.skip_missing)
    dev_pairs = labeled_pairs(dev_set, products, gains, skip_missing=recipe.skip_missing) if dev_set else None
    if recipe.negatives:
        train_pairs += _mined_negatives(recipe, products, train_set, report)
    if recipe.teacher is not None:
        from shopmatch.train.distill import teacher_targets

        report(f"the teacher {recipe.teacher} labels {len(train_pairs):,} training pairs")
        train_pairs = teacher_targets(Path(recipe.teacher), train_pairs, teacher_weight=recipe.teacher_weight)
    report(
        f"training on {len(train_pairs):,} pairs ({len(train_set.queries)} queries)"
        + (f", dev {len(dev_pairs):,} pairs ({len(dev_set.queries)} queries)" if dev_pairs else ", no dev set")
    )
    texts = [p.query for p in train_pairs] + [p.text for p in train_pairs]
    unlabeled = unlabeled_texts(recipe.synthetic, report)
    if recipe.synthetic.queries:
        texts += [p.title for p in products.products] + unlabeled
    start = vocabulary_extended(config.model, texts, output, report) if recipe.extend_vocab else None
    if recipe.synthetic.queries:
        from shopmatch.train.synthetic import train_reranker_on_synthetic_pairs

        queries = recipe.synthetic.queries
        start = synthetic_stage(
            output,
            resume,
            f"{queries:,} pseudo-queries from {len(products.products):,} titles"
            + (f" and {len(set(unlabeled)):,} texts" if unlabeled else ""),
            lambda stage_dir, start=start: train_reranker_on_synthetic_pairs(
                products.products,
                stage_dir,
                config,
                count=queries,
                texts=unlabeled,
                model_dir=start,
                learning_rate=recipe.synthetic.learning_rate,
            ),
            report,
        )
    return train_cross_encoder(train_pairs, output, config, dev=dev_pairs, resume=resume, model_dir=start)


def _mined_negatives(recipe: RerankerRecipe, products, judged, report: Notify) -> list:
    """Unjudged products from the top ``negatives_depth`` of the ``mine_with`` retrievers, target 0."""
    from shopmatch.train import distributed
    from shopmatch.train.mining import mining_pipeline, retrieve_candidates, unjudged_negatives

    retrievers = recipe.mine_with
    report(
        f"mining {recipe.negatives} unjudged negative(s) per query from the top {recipe.negatives_depth} "
        f"of {' + '.join(retrievers)}"
    )
    with distributed.main_process_first():  # a dense model's int8 export is cached once
        pipeline = mining_pipeline(products.products, retrievers)
        ranked = retrieve_candidates(pipeline, judged, recipe.negatives_depth)
    mined = unjudged_negatives(judged, products, ranked, recipe.negatives, seed=recipe.train.seed)
    report(f"{len(mined):,} negative pairs added")
    return mined
