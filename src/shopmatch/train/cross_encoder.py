"""Fine-tune a cross-encoder on a shop's judgments: a pretrained transformer reads (query,
product text) and a sigmoid head outputs the relevance probability, trained with binary
cross-entropy on the judgments' gains scaled to [0, 1] (graded labels become soft targets).

Built on sentence-transformers' ``CrossEncoderTrainer`` (AdamW, linear warm-up and decay), run by
the training harness (:mod:`shopmatch.train.harness`: early stopping on the dev NDCG@10 of the dev
queries' judged products with the best epoch kept, checkpoints and resume, the summary, the
device, data parallelism), with the pieces that are the cross-encoder's own:

- class imbalance: ``pos_weight`` in the loss (negatives/positives) or ``resample`` (positives
  repeated until they are half the data);
- LoRA (``peft``): only low-rank adapters and the head are trained; merged into the weights
  when saved, so the result is a plain model directory;
- FGM adversarial training on the word embeddings (:mod:`shopmatch.train.fgm`);
- data augmentation on the fly (:mod:`shopmatch.train.augment`);
- ``max_layers``: keep only the first N transformer layers (a smaller, faster student);
- ``head = "mean"``: the relevance logit is a linear layer over the *mean* of the token states
  (sentence-transformers modules Transformer → Pooling → Dense) instead of BERT's ``[CLS]``
  pooler — a bi-encoder such as all-MiniLM-L6-v2 was trained to make the mean meaningful and
  never used ``[CLS]`` (:mod:`shopmatch.train.cross_encoder_model`);
- ``loss = "mse-logit"``: squared error between the model's logit and the target's logit — for
  distillation (:mod:`shopmatch.train.distill`), where the targets are a teacher's probabilities:
  it keeps the gradient large where BCE on soft targets near 0 is nearly flat.

The saved directory loads with ``sentence_transformers.CrossEncoder(out_dir)`` and holds
``shopmatch_reranker.json`` (the product text template and token limit it was trained with) and
``training_summary.json`` / ``.png``.

Example:
    >>> from shopmatch.train.data import LabeledPair
    >>> pairs = [LabeledPair("red mug", "Red ceramic mug", 1.0), LabeledPair("red mug", "Garden hose", 0.0)]
    >>> train_cross_encoder(pairs, "my-reranker", CrossEncoderTrainConfig(epochs=1))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shopmatch.encoders.models import DEFAULT_MODEL, resolve_model_dir
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import Pair
from shopmatch.rerank.config import TRAINING_RECORD
from shopmatch.settings import ConfigSection, setting
from shopmatch.train.augment import OPERATIONS, Augmenter
from shopmatch.train.checkpoints import checkpoint_dir, latest_checkpoint
from shopmatch.train.cross_encoder_model import (
    add_lora,
    classifier_outputs,
    has_mean_head,
    load_cross_encoder,
    load_pair_classifier,
    resolved_head,
    truncate_layers,
)
from shopmatch.train.data import LabeledPair
from shopmatch.train.device import DEVICES
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)

__all__ = [
    "CrossEncoderTrainConfig",
    "load_cross_encoder",
    "load_pair_classifier",
    "resolved_head",
    "train_cross_encoder",
    "train_pair_classifier",
    "truncate_layers",
]

IMBALANCE = ("none", "pos_weight", "resample")
LOSSES = ("bce", "mse-logit")
HEADS = ("auto", "cls", "mean")
LOGIT_CLIP = 1e-4  # targets 0 and 1 become logits of ±9.2 under ``mse-logit``


@dataclass(frozen=True)
class CrossEncoderTrainConfig(ConfigSection):
    """How to fine-tune a cross-encoder.

    Attributes:
        model: the pretrained model to start from: a bundled name or a local HF model directory.
        epochs: passes over the training data (at most; early stopping may end sooner).
        batch_size: pairs per optimizer step (per process under data parallelism).
        learning_rate: peak AdamW learning rate (LoRA usually wants ~10× more).
        warmup_ratio: share of the steps with a linear warm-up; then linear decay to 0.
        weight_decay: AdamW weight decay.
        max_length: token limit of a (query, product text) pair.
        seed: seeds the head's initialization, shuffling, dropout and augmentation.
        patience: with a dev set, stop after this many epochs without a better dev metric
            (0: never stop early); the best epoch's weights are kept either way.
        imbalance: ``none``, ``pos_weight`` or ``resample`` (see the module docstring).
        lora: train LoRA adapters instead of all weights; ``lora_rank``, ``lora_alpha``,
            ``lora_dropout`` configure them.
        fgm_epsilon: size of the FGM perturbation of the word embeddings (0: off; ~1.0 typical).
        augment: augmentation operations (``token_dropout``, ``word_swap``, ``typo``,
            ``field_shuffle``, ``synonym``); ``augment_probability`` of a pair being changed.
        max_layers: keep only the first N transformer layers (None: all).
        loss: ``bce`` (per pair, the sigmoid head's binary cross-entropy) or ``mse-logit`` (per
            pair, squared error of the logits; for distillation).
        head: ``cls`` (BERT's sequence-classification head over ``[CLS]``), ``mean`` (a
            linear layer over the mean of the token states; re-rankers only) or ``auto`` (the
            start model's own head if it has one, else ``mean`` for a re-ranker and ``cls`` for
            a pair classifier or LoRA; see :func:`resolved_head`).
        device: ``auto`` (a CUDA GPU if there is one), ``cpu`` or ``cuda``.
    """

    SECTION = "train"

    model: str = DEFAULT_MODEL
    epochs: int = setting(1, minimum=1)
    batch_size: int = setting(16, minimum=1)
    learning_rate: float = setting(4e-5, minimum=0.0, maximum=1.0)
    warmup_ratio: float = setting(0.1, minimum=0.0, maximum=1.0)
    weight_decay: float = setting(0.01, minimum=0.0, maximum=1.0)
    max_length: int = setting(128, minimum=8)
    seed: int = setting(0, minimum=0)
    patience: int = setting(1, minimum=0)
    imbalance: str = setting("none", choices=IMBALANCE)
    lora: bool = False
    lora_rank: int = setting(16, minimum=1)
    lora_alpha: int = setting(32, minimum=1)
    lora_dropout: float = setting(0.1, minimum=0.0, maximum=1.0)
    fgm_epsilon: float = setting(0.0, minimum=0.0, maximum=100.0)
    augment: tuple[str, ...] = ()
    augment_probability: float = setting(0.3, minimum=0.0, maximum=1.0)
    max_layers: int | None = setting(None, minimum=1)
    loss: str = setting("bce", choices=LOSSES)
    head: str = setting("auto", choices=HEADS)
    device: str = setting("auto", choices=DEVICES)

    def check(self) -> None:
        unknown = sorted(set(self.augment) - set(OPERATIONS))
        if unknown:
            raise ConfigError(f"unknown augmentation(s) {unknown}; known: {', '.join(OPERATIONS)}")
        if self.head == "mean" and self.lora:
            raise ConfigError("LoRA adapters are set up for the 'cls' head; use head 'cls' with lora")
        if self.loss == "mse-logit" and self.imbalance == "pos_weight":
            raise ConfigError("imbalance 'pos_weight' weighs a BCE loss; use resample with loss 'mse-logit'")


def _resample(pairs: list[LabeledPair], seed: int) -> list[LabeledPair]:
    """Repeat positives (target ≥ 0.5) at random until they are half of the data."""
    positives = [p for p in pairs if p.target >= 0.5]
    negatives = len(pairs) - len(positives)
    if not positives or len(positives) >= negatives:
        return pairs
    rng = random.Random(seed)
    extra = [rng.choice(positives) for _ in range(negatives - len(positives))]
    return pairs + extra


def _dataset(queries: list[str], texts: list[str], labels: list, augmenter: Augmenter | None):
    from datasets import Dataset

    dataset = Dataset.from_dict({"query": queries, "text": texts, "label": labels})
    if augmenter is not None:

        def augment(batch: dict[str, list]) -> dict[str, list]:
            changed = [augmenter(q, t) for q, t in zip(batch["query"], batch["text"], strict=True)]
            return {"query": [q for q, _ in changed], "text": [t for _, t in changed], "label": batch["label"]}

        dataset.set_transform(augment)
    return dataset


def train_cross_encoder(
    train: Sequence[LabeledPair],
    out_dir: str | Path,
    config: CrossEncoderTrainConfig | None = None,
    *,
    dev: Sequence[LabeledPair] | None = None,
    template: ProductTextTemplate | None = None,
    resume: bool = False,
    model_dir: str | Path | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainingSummary:
    """Fine-tune a cross-encoder re-ranker on labeled (query, product text, target) pairs.

    Args:
        train: training examples (``shopmatch.train.data.labeled_pairs``).
        out_dir: where the model directory is written (atomically).
        dev: dev examples (other queries than ``train``); enables per-epoch NDCG@10, early
            stopping and keeping the best epoch.
        template: the product text template the pairs were rendered with (recorded with the
            model so that the search pipeline renders products the same way).
        resume: continue from the last checkpoint of an interrupted run with the same ``out_dir``.
        model_dir: start from this directory instead of ``config.model`` (e.g. a vocabulary-extended copy).
        callbacks: more ``transformers.TrainerCallback`` objects.

    Returns:
        The :class:`TrainingSummary` (also saved next to the model).
    """
    config = config or CrossEncoderTrainConfig()
    pairs = list(train)
    if not pairs:
        raise DataError("no training pairs")
    if config.imbalance == "resample":
        pairs = _resample(pairs, config.seed)
    _seed_everything(config.seed)
    config = replace(config, head=resolved_head(config, model_dir or config.model))
    _check_resume(out_dir, config, resume)
    model = load_cross_encoder(
        model_dir or config.model, max_length=config.max_length, max_layers=config.max_layers, head=config.head
    )
    positives = sum(p.target for p in pairs)
    if config.loss == "mse-logit":
        loss, dataset = _logit_regression(model, pairs, config)
    else:
        loss, dataset = _pointwise(model, pairs, config)
    evaluator = None
    if dev:
        from shopmatch.train.evaluation import RerankDevEvaluator

        evaluator = RerankDevEvaluator(dev, batch_size=max(config.batch_size, 32))
    summary = TrainingSummary(
        model=f"cross-encoder from {model_dir or config.model}",
        config=config.to_dict(),
        data={
            "train_pairs": len(train),
            "train_pairs_after_resampling": len(pairs),
            "train_queries": len({p.query for p in train}),
            "positive_share": round(positives / len(pairs), 4),
            "dev_pairs": len(dev or ()),
            "dev_queries": len({p.query_id for p in dev or ()}),
        },
    )
    template = template or ProductTextTemplate()
    record = {"kind": "cross-encoder re-ranker", "text": template.to_dict(), "max_length": config.max_length}
    return _fit(model, dataset, loss, out_dir, config, summary, evaluator, resume, record, callbacks)


def _check_resume(out_dir: str | Path, config: CrossEncoderTrainConfig, resume: bool) -> None:
    """Refuse to resume a checkpoint this run cannot continue (LoRA, or made with the other head)."""
    last = latest_checkpoint(checkpoint_dir(out_dir)) if resume else None
    if last is None:
        return
    if config.lora:
        raise ConfigError("resuming LoRA training from a checkpoint is not supported; train again without --resume")
    made_with = "mean" if has_mean_head(last) else "cls"
    if made_with != config.head:
        raise ConfigError(
            f"{last} was made with head {made_with!r}, this run uses {config.head!r}: resume with --head {made_with}"
        )


def _fit(
    model: Any,
    dataset: Any,
    loss: Any,
    out_dir: str | Path,
    config: CrossEncoderTrainConfig,
    summary: TrainingSummary,
    evaluator: Any,
    resume: bool,
    record: dict[str, Any],
    callbacks: Sequence[Any],
) -> TrainingSummary:
    """The harness with sentence-transformers' ``CrossEncoderTrainer`` (FGM's when asked); LoRA
    adapters are merged into the weights when saved, so the result is a plain model directory."""
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments

    from shopmatch.train.fgm import EmbeddingPerturbation, fgm_training_step
    from shopmatch.train.harness import fit_trainer

    if config.lora:
        add_lora(model, config)

    def prepare(trainer: Any) -> None:
        if config.fgm_epsilon > 0:
            trainer.fgm = EmbeddingPerturbation(model[0].model.get_input_embeddings(), config.fgm_epsilon)

    def save(directory: Path) -> None:
        if config.lora:
            model[0].model = model[0].model.merge_and_unload()
        model.save_pretrained(str(directory))
        (directory / TRAINING_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")

    return fit_trainer(
        fgm_training_step(CrossEncoderTrainer) if config.fgm_epsilon > 0 else CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
        model=model,
        train_dataset=dataset,
        loss=loss,
        config=config,
        summary=summary,
        out_dir=out_dir,
        save=save,
        evaluator=evaluator,
        metric=getattr(evaluator, "primary_metric", None),
        resume=resume,
        callbacks=callbacks,
        args={"per_device_eval_batch_size": max(config.batch_size, 32)},
        prepare=prepare,
    )


def _augmenter(config: CrossEncoderTrainConfig) -> Augmenter | None:
    """The on-the-fly augmentation ``config`` asks for (None: none)."""
    return Augmenter(config.augment, config.augment_probability, config.seed) if config.augment else None


def _pointwise(model: Any, pairs: list[LabeledPair], config: CrossEncoderTrainConfig) -> tuple[Any, Any]:
    """Binary cross-entropy per (query, text, target) row, with pos_weight and augmentation."""
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    targets = [float(p.target) for p in pairs]
    dataset = _dataset([p.query for p in pairs], [p.text for p in pairs], targets, _augmenter(config))
    return BinaryCrossEntropyLoss(model, pos_weight=_pos_weight(targets, config)), dataset


def _pos_weight(targets: list[float], config: CrossEncoderTrainConfig) -> Any:
    """negatives / positives as BCE's ``pos_weight`` under ``imbalance = "pos_weight"`` (else None)."""
    positives = sum(targets)
    if config.imbalance != "pos_weight" or not 0 < positives < len(targets):
        return None
    import torch

    return torch.tensor((len(targets) - positives) / positives)


def _logit_regression(model: Any, pairs: list[LabeledPair], config: CrossEncoderTrainConfig) -> tuple[Any, Any]:
    """Mean squared error between the model's logit and ``logit(target)`` (targets clipped to
    [1e-4, 1 − 1e-4]), with augmentation."""
    import math

    from sentence_transformers.cross_encoder.losses import MSELoss

    def logit(p: float) -> float:
        p = min(max(p, LOGIT_CLIP), 1.0 - LOGIT_CLIP)
        return math.log(p / (1.0 - p))

    augmenter = _augmenter(config)
    dataset = _dataset([p.query for p in pairs], [p.text for p in pairs], [logit(p.target) for p in pairs], augmenter)
    return MSELoss(model), dataset


# Fewer optimizer steps than this and a pair classifier from a bi-encoder start model may learn
# only the class prior: on zh-ecom-query-item folds (400 rows, batch 16) 100 steps predicted "no
# match" for every pair, 500 steps (20 epochs) did not (docs/experiments/2026-11-25-chinese-pairs.md).
FEW_STEPS = 300


def _steps_per_epoch(rows: int, batch_size: int) -> int:
    return max(1, -(-rows // batch_size))


def _warn_if_few_steps(rows: int, config: CrossEncoderTrainConfig) -> None:
    per_epoch = _steps_per_epoch(rows, config.batch_size)
    steps = per_epoch * config.epochs
    if steps < FEW_STEPS:
        logger.warning(
            "%d pairs × %d epoch(s) = %d optimizer steps: with so few, a new classifier head often "
            "learns only the class shares; about %d epochs give %d steps",
            rows, config.epochs, steps, -(-FEW_STEPS // per_epoch), FEW_STEPS,
        )  # fmt: skip


def train_pair_classifier(
    train: Sequence[Pair],
    out_dir: str | Path,
    config: CrossEncoderTrainConfig | None = None,
    *,
    dev: Sequence[Pair] | None = None,
    resume: bool = False,
    model_dir: str | Path | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainingSummary:
    """Fine-tune a cross-encoder pair classifier on ``pairs.tsv`` rows (two or more classes).

    Two classes: one sigmoid output trained with binary cross-entropy. More: one output per
    class, softmax and cross-entropy. The dev set's F1 (macro for several classes) picks the
    best epoch.
    """
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss, CrossEntropyLoss

    config = config or CrossEncoderTrainConfig()
    if config.loss != "bce" or config.head not in ("auto", "cls"):
        raise ConfigError(
            f"loss {config.loss!r} / head {config.head!r}: a pair classifier trains with loss 'bce' and head 'cls'"
        )
    start = resolve_model_dir(model_dir or config.model)
    if has_mean_head(start):
        raise ConfigError(f"{start} has a mean-token head (a re-ranker); a pair classifier needs a [CLS] head")
    config = replace(config, head="cls")
    _check_resume(out_dir, config, resume)
    rows = list(train)
    if not rows:
        raise DataError("no training pairs")
    classes = max(r.label for r in rows) + 1
    if classes < 2:
        raise DataError("every training pair has class 0: nothing to learn from")
    binary = classes == 2
    if classifier_outputs(start) != (1 if binary else classes):  # a trained head of this size needs fewer
        _warn_if_few_steps(len(rows), config)
    _seed_everything(config.seed)
    model = load_cross_encoder(
        model_dir or config.model,
        num_labels=1 if binary else classes,
        max_length=config.max_length,
        max_layers=config.max_layers,
    )
    if binary:
        labels: list = [float(r.label) for r in rows]
        loss = BinaryCrossEntropyLoss(model, pos_weight=_pos_weight(labels, config))
    else:
        loss = CrossEntropyLoss(model)
        labels = [int(r.label) for r in rows]
    augmenter = _augmenter(config)
    dataset = _dataset([r.text_a for r in rows], [r.text_b for r in rows], labels, augmenter)
    evaluator = None
    if dev:
        from shopmatch.train.evaluation import PairDevEvaluator

        evaluator = PairDevEvaluator([(r.text_a, r.text_b) for r in dev], [r.label for r in dev])
    summary = TrainingSummary(
        model=f"cross-encoder pair classifier ({classes} classes) from {model_dir or config.model}",
        config=config.to_dict(),
        data={"train_pairs": len(rows), "classes": classes, "dev_pairs": len(dev or ())},
    )
    record = {"kind": "cross-encoder pair classifier", "classes": classes, "max_length": config.max_length}
    return _fit(model, dataset, loss, out_dir, config, summary, evaluator, resume, record, callbacks)


def _seed_everything(seed: int) -> None:
    from transformers import set_seed

    set_seed(seed)
