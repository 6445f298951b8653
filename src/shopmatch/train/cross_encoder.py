"""Fine-tune a cross-encoder on a shop's judgments: a pretrained transformer reads (query,
product text) and a sigmoid head outputs the relevance probability, trained with binary
cross-entropy on the judgments' gains scaled to [0, 1] (graded labels become soft targets).

Built on sentence-transformers' ``CrossEncoderTrainer`` (AdamW, linear warm-up and decay,
checkpoints) with shopmatch's own pieces around it:

- a dev set scored after every epoch (NDCG@10 of the dev queries' judged products); training
  stops after ``patience`` epochs without improvement and the best epoch's weights are kept;
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
  never used ``[CLS]``;
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
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from shopmatch.encoders.models import DEFAULT_MODEL, resolve_model_dir
from shopmatch.encoders.product_text import ProductTextTemplate
from shopmatch.errors import ConfigError, DataError
from shopmatch.judgments import Pair
from shopmatch.progress import progress_enabled
from shopmatch.rerank.config import TRAINING_RECORD
from shopmatch.settings import ConfigSection, require_int
from shopmatch.store import atomic_directory
from shopmatch.train.augment import OPERATIONS, Augmenter
from shopmatch.train.data import LabeledPair
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)

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
        batch_size: pairs per optimizer step.
        learning_rate: peak AdamW learning rate (LoRA usually wants ~10× more).
        warmup_ratio: share of the steps with a linear warm-up; then linear decay to 0.
        weight_decay: AdamW weight decay.
        max_length: token limit of a (query, product text) pair.
        seed: seeds the head's initialization, shuffling, dropout and augmentation.
        patience: with a dev set, stop after this many epochs without a better dev NDCG@10
            (0: never stop early); the best epoch's weights are kept either way.
        imbalance: ``none``, ``pos_weight`` or ``resample`` (see the module docstring).
        lora: train LoRA adapters instead of all weights; ``lora_rank``, ``lora_alpha``,
            ``lora_dropout`` configure them.
        fgm_epsilon: size of the FGM perturbation of the word embeddings (0: off; ~1.0 typical).
        augment: augmentation operations (``token_dropout``, ``word_swap``, ``typo``,
            ``field_shuffle``, ``synonym``); ``augment_probability`` of a pair being changed.
        max_layers: keep only the first N transformer layers (None: all).
        head: ``cls`` (BERT's sequence-classification head over ``[CLS]``), ``mean`` (a
            linear layer over the mean of the token states; re-rankers only) or ``auto`` (the
            start model's own head if it has one, else ``mean`` for a re-ranker and ``cls`` for
            a pair classifier or LoRA; see :func:`resolved_head`).
        loss: ``bce`` (per pair, the sigmoid head's binary cross-entropy) or ``mse-logit`` (per
            pair, squared error of the logits; for distillation).
    """

    SECTION = "train"

    model: str = DEFAULT_MODEL
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 4e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 0
    patience: int = 1
    imbalance: str = "none"
    lora: bool = False
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    fgm_epsilon: float = 0.0
    augment: tuple[str, ...] = field(default_factory=tuple)
    augment_probability: float = 0.3
    max_layers: int | None = None
    loss: str = "bce"
    head: str = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "lora_rank", "lora_alpha"):
            require_int(self.SECTION, name, getattr(self, name))
        require_int(self.SECTION, "max_length", self.max_length, minimum=8)
        require_int(self.SECTION, "patience", self.patience, minimum=0)
        require_int(self.SECTION, "seed", self.seed, minimum=0)
        if self.max_layers is not None:
            require_int(self.SECTION, "max_layers", self.max_layers)
        if self.imbalance not in IMBALANCE:
            raise ConfigError(f"imbalance must be one of {', '.join(IMBALANCE)}, got {self.imbalance!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.head == "mean" and self.lora:
            raise ConfigError("LoRA adapters are set up for the 'cls' head; use head 'cls' with lora")
        if self.loss == "mse-logit" and self.imbalance == "pos_weight":
            raise ConfigError("imbalance 'pos_weight' weighs a BCE loss; use resample with loss 'mse-logit'")
        for name, low, high in (
            ("learning_rate", 0.0, 1.0),
            ("warmup_ratio", 0.0, 1.0),
            ("weight_decay", 0.0, 1.0),
            ("lora_dropout", 0.0, 1.0),
            ("augment_probability", 0.0, 1.0),
            ("fgm_epsilon", 0.0, 100.0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ConfigError(f"{self.SECTION}.{name} must be a number in [{low}, {high}], got {value!r}")
        object.__setattr__(self, "augment", tuple(self.augment))
        unknown = sorted(set(self.augment) - set(OPERATIONS))
        if unknown:
            raise ConfigError(f"unknown augmentation(s) {unknown}; known: {', '.join(OPERATIONS)}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "augment": list(self.augment)}


def resolved_head(config: CrossEncoderTrainConfig, model_dir: str | Path) -> str:
    """The head (``cls`` or ``mean``) a re-ranker trained from ``model_dir`` with ``config`` gets.

    ``auto`` keeps the head a trained cross-encoder already has (mean-token or ``[CLS]``). A model
    without one (e.g. the bundled bi-encoder) gets the mean-token head — on esci-us-150 it
    re-ranks better than a new ``[CLS]`` head (README, "Cross-encoder re-ranking") — and ``[CLS]``
    with LoRA. Pair classifiers always use ``[CLS]`` (:func:`train_pair_classifier`).

    Raises:
        ConfigError: ``model_dir`` has a mean-token head and ``config`` asks for ``cls`` or LoRA
            (that head cannot be swapped for a ``[CLS]`` one, and LoRA is set up for ``[CLS]``).

    Example:
        >>> resolved_head(CrossEncoderTrainConfig(), "all-MiniLM-L6-v2")  # doctest: +SKIP
        'mean'
    """
    directory = resolve_model_dir(model_dir)
    if _has_mean_head(directory):
        if config.lora:
            raise ConfigError(f"{directory} has a mean-token head; LoRA is set up for [CLS] heads: train without lora")
        if config.head == "cls":
            raise ConfigError(f"{directory} has a mean-token head; it cannot get a [CLS] one: use head auto or mean")
        return "mean"
    if config.head != "auto":
        return config.head
    if _classifier_outputs(directory) is not None or config.lora:
        return "cls"
    return "mean"


def load_cross_encoder(
    model: str | Path,
    *,
    num_labels: int = 1,
    max_length: int = 128,
    max_layers: int | None = None,
    head: str = "cls",
):
    """A sentence-transformers ``CrossEncoder`` from a bundled name or a local model directory.

    ``head="mean"`` (one output only): a model directory that already has that head is loaded as
    it is; any other gets a new linear layer over the mean of its token states.

    A model without a classification head (e.g. the bundled bi-encoder's BERT), or with one of
    another size (e.g. a 3-class classifier fine-tuned further as a binary one), gets a new,
    randomly initialized one; ``max_layers`` drops the transformer layers above the first N.
    """
    if head not in ("cls", "mean"):
        raise ConfigError(f"head must be 'cls' or 'mean' here (resolve 'auto' with resolved_head), got {head!r}")
    model_dir = resolve_model_dir(model)
    if head == "mean" and not _has_mean_head(model_dir):
        cross_encoder = _mean_head_cross_encoder(model_dir, num_labels, max_length)
    else:
        cross_encoder = _saved_cross_encoder(model_dir, num_labels, max_length)
    if max_layers is not None:
        truncate_layers(cross_encoder[0].model, max_layers)
    return cross_encoder


def _saved_cross_encoder(model_dir: Path, num_labels: int, max_length: int):
    """``model_dir`` as a ``CrossEncoder``; a missing classifier, or one of another size, starts random."""
    import transformers
    from sentence_transformers import CrossEncoder

    extra: dict[str, Any] = {}
    existing = _classifier_outputs(model_dir)
    if existing is not None and existing != num_labels:
        logger.info("%s has a %d-output classifier; it gets a new %d-output one", model_dir, existing, num_labels)
        extra["model_kwargs"] = {"ignore_mismatched_sizes": True}
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "newly initialized: classifier" is expected here
    try:
        cross_encoder = CrossEncoder(
            str(model_dir), num_labels=num_labels, max_length=max_length, device="cpu", local_files_only=True, **extra
        )
    finally:
        transformers.logging.set_verbosity(verbosity)
    return cross_encoder


def _has_mean_head(model_dir: Path) -> bool:
    """Whether ``model_dir`` is a cross-encoder whose modules end in a Dense layer writing ``scores``."""
    modules_file = Path(model_dir) / "modules.json"
    if not modules_file.is_file():
        return False
    for module in json.loads(modules_file.read_text(encoding="utf-8")):
        if module.get("type", "").endswith(".Dense"):
            config_file = Path(model_dir) / module.get("path", "") / "config.json"
            if config_file.is_file() and json.loads(config_file.read_text()).get("module_output_name") == "scores":
                return True
    return False


def _mean_head_cross_encoder(model_dir: Path, num_labels: int, max_length: int):
    """Transformer (token states) → mean pooling → a new linear layer to ``num_labels`` logits."""
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    if num_labels != 1:
        raise ConfigError("head 'mean' is for re-rankers (one relevance logit); use head 'cls' for classifiers")
    offline = {"local_files_only": True}
    transformer = Transformer(
        str(model_dir),
        transformer_task="feature-extraction",
        max_seq_length=max_length,
        model_kwargs=offline,
        processor_kwargs=offline,
        config_kwargs=offline,
    )
    dim = transformer.get_embedding_dimension()
    pooling = Pooling(dim, pooling_mode="mean")
    score = Dense(
        dim,
        num_labels,
        activation_function=torch.nn.Identity(),
        module_input_name="sentence_embedding",
        module_output_name="scores",
    )
    logger.info("%s: new relevance head over the mean of the token states", model_dir)
    return CrossEncoder(modules=[transformer, pooling, score], device="cpu")


def _classifier_outputs(model_dir: Path) -> int | None:
    """How many outputs the sequence-classification head saved in ``model_dir`` has (None: no head)."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not any(str(a).endswith("ForSequenceClassification") for a in config.get("architectures") or ()):
        return None
    return len(config.get("id2label") or {}) or int(config.get("num_labels", 2))


def truncate_layers(model: Any, n: int) -> None:
    """Keep the first ``n`` transformer layers of a Hugging Face encoder model (in place)."""
    import torch

    base = getattr(model, getattr(model, "base_model_prefix", ""), model)
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        owner = base
        *parents, leaf = path.split(".")
        for name in parents:
            owner = getattr(owner, name, None)
        layers = getattr(owner, leaf, None) if owner is not None else None
        if isinstance(layers, torch.nn.ModuleList):
            break
    else:
        raise ConfigError(f"max_layers: cannot find the transformer layers of {type(model).__name__}")
    if n < len(layers):
        setattr(owner, leaf, torch.nn.ModuleList(list(layers)[:n]))
        for key in ("num_hidden_layers", "n_layers", "num_layers"):
            if hasattr(model.config, key):
                setattr(model.config, key, n)
        logger.info("kept the first %d of %d transformer layers", n, len(layers))


def _resample(pairs: list[LabeledPair], seed: int) -> list[LabeledPair]:
    """Repeat positives (target ≥ 0.5) at random until they are half of the data."""
    positives = [p for p in pairs if p.target >= 0.5]
    negatives = len(pairs) - len(positives)
    if not positives or len(positives) >= negatives:
        return pairs
    rng = random.Random(seed)
    extra = [rng.choice(positives) for _ in range(negatives - len(positives))]
    return pairs + extra


class _EpochLog:
    """Trainer callback: the loss curve, each epoch's time and dev metrics, best-epoch weights and
    early stopping (kept in memory, so it also works for LoRA adapters)."""

    def __init__(self, summary: TrainingSummary, metric: str | None, patience: int) -> None:
        from transformers import TrainerCallback

        outer = self

        class Callback(TrainerCallback):
            def on_epoch_begin(self, args, state, control, **kwargs):
                outer.started = time.perf_counter()

            def on_epoch_end(self, args, state, control, **kwargs):
                summary.log_epoch(epoch=round(state.epoch), seconds=time.perf_counter() - outer.started)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    summary.log_loss(step=state.global_step, epoch=state.epoch or 0.0, loss=logs["loss"])

            def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
                outer.evaluated(state, control, metrics or {}, kwargs.get("model") or model)

        self.callback = Callback()
        self.summary = summary
        self.metric = metric
        self.patience = patience
        self.best_value: float | None = None
        self.best_state: dict[str, Any] | None = None
        self.stale = 0
        self.started = time.perf_counter()

    def evaluated(self, state, control, metrics: dict[str, float], model) -> None:
        dev = {k.removeprefix("eval_"): float(v) for k, v in metrics.items() if k.startswith("eval_dev_")}
        if self.summary.epochs and dev:
            self.summary.epochs[-1].update(dev)
        if self.metric is None or f"eval_{self.metric}" not in metrics or model is None:
            return
        value = float(metrics[f"eval_{self.metric}"])
        if self.best_value is None or value > self.best_value:
            self.best_value = value
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.summary.best_epoch = round(state.epoch)
            self.stale = 0
        else:
            self.stale += 1
            if self.patience and self.stale >= self.patience:
                logger.info("dev %s did not improve for %d epoch(s): stopping", self.metric, self.stale)
                control.should_training_stop = True


def fit(
    model: Any,
    train_dataset: Any,
    loss: Any,
    out_dir: str | Path,
    config: CrossEncoderTrainConfig,
    summary: TrainingSummary,
    *,
    evaluator: Any = None,
    resume: bool = False,
    record: dict[str, Any] | None = None,
) -> TrainingSummary:
    """Train ``model`` with sentence-transformers' ``CrossEncoderTrainer`` and save it atomically.

    Checkpoints go to ``<out_dir>.checkpoints`` (one per epoch) so ``resume=True`` continues
    an interrupted run; they are deleted after a successful save.
    """
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments

    from shopmatch.train.fgm import EmbeddingPerturbation, fgm_training_step

    out_dir = Path(out_dir)
    checkpoints = out_dir.with_name(out_dir.name + ".checkpoints")
    if config.lora:
        _add_lora(model, config)
    steps_per_epoch = _steps_per_epoch(len(train_dataset), config.batch_size)
    args = CrossEncoderTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(config.batch_size, 32),
        learning_rate=config.learning_rate,
        warmup_ratio=config.warmup_ratio,
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        seed=config.seed,
        data_seed=config.seed,
        eval_strategy="epoch" if evaluator is not None else "no",
        save_strategy="epoch",
        save_total_limit=1,
        logging_steps=max(1, steps_per_epoch // 20),
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=not progress_enabled(),
    )
    log = _EpochLog(summary, getattr(evaluator, "primary_metric", None), config.patience)
    trainer_class = fgm_training_step(CrossEncoderTrainer) if config.fgm_epsilon > 0 else CrossEncoderTrainer
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train_dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=[log.callback],
    )
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # log lines go to the summary, not to stdout
    if config.fgm_epsilon > 0:
        trainer.fgm = EmbeddingPerturbation(model[0].model.get_input_embeddings(), config.fgm_epsilon)
    last = _last_checkpoint(checkpoints) if resume else None
    if resume and last is None:
        logger.info("no checkpoint in %s: starting from the beginning", checkpoints)
    if last is not None and config.lora:
        raise ConfigError("resuming LoRA training from a checkpoint is not supported; train again without --resume")
    made_with = None if last is None else ("mean" if _has_mean_head(last) else "cls")
    if made_with is not None and made_with != config.head:
        raise ConfigError(
            f"{last} was made with head {made_with!r}, this run uses {config.head!r}: resume with --head {made_with}"
        )
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    summary.seconds = round(time.perf_counter() - started, 2)
    if log.best_state is not None:
        model.load_state_dict(log.best_state)
    if config.lora:
        model[0].model = model[0].model.merge_and_unload()
    with atomic_directory(out_dir) as tmp:
        model.save_pretrained(str(tmp))
        if record is not None:
            (tmp / TRAINING_RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        summary.save(tmp)
    shutil.rmtree(checkpoints, ignore_errors=True)
    logger.info("saved %s (%.0f s of training)", out_dir, summary.seconds)
    return summary


def _last_checkpoint(directory: Path) -> Path | None:
    found = [p for p in directory.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


def _add_lora(model: Any, config: CrossEncoderTrainConfig) -> None:
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=["query", "key", "value", "dense"],
    )
    model[0].model = get_peft_model(model[0].model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("LoRA: training %d of %d parameters (%.1f%%)", trainable, total, 100 * trainable / total)


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
    return fit(model, dataset, loss, out_dir, config, summary, evaluator=evaluator, resume=resume, record=record)


def _augmenter(config: CrossEncoderTrainConfig) -> Augmenter | None:
    """The on-the-fly augmentation ``config`` asks for (None: none)."""
    return Augmenter(config.augment, config.augment_probability, config.seed) if config.augment else None


def _pointwise(model: Any, pairs: list[LabeledPair], config: CrossEncoderTrainConfig) -> tuple[Any, Any]:
    """Binary cross-entropy per (query, text, target) row, with pos_weight and augmentation."""
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    positives = sum(p.target for p in pairs)
    pos_weight = None
    if config.imbalance == "pos_weight" and 0 < positives < len(pairs):
        import torch

        pos_weight = torch.tensor((len(pairs) - positives) / positives)
    augmenter = _augmenter(config)
    dataset = _dataset([p.query for p in pairs], [p.text for p in pairs], [float(p.target) for p in pairs], augmenter)
    return BinaryCrossEntropyLoss(model, pos_weight=pos_weight), dataset


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
# match" for every pair, 500 steps (20 epochs) did not (README, "Cross-encoder pair classification").
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
    if _has_mean_head(start):
        raise ConfigError(f"{start} has a mean-token head (a re-ranker); a pair classifier needs a [CLS] head")
    config = replace(config, head="cls")
    rows = list(train)
    if not rows:
        raise DataError("no training pairs")
    classes = max(r.label for r in rows) + 1
    if classes < 2:
        raise DataError("every training pair has class 0: nothing to learn from")
    binary = classes == 2
    if _classifier_outputs(start) != (1 if binary else classes):  # a trained head of this size needs fewer
        _warn_if_few_steps(len(rows), config)
    _seed_everything(config.seed)
    model = load_cross_encoder(
        model_dir or config.model,
        num_labels=1 if binary else classes,
        max_length=config.max_length,
        max_layers=config.max_layers,
    )
    if binary:
        positives = sum(r.label for r in rows)
        pos_weight = None
        if config.imbalance == "pos_weight" and 0 < positives < len(rows):
            import torch

            pos_weight = torch.tensor((len(rows) - positives) / positives)
        loss = BinaryCrossEntropyLoss(model, pos_weight=pos_weight)
        labels: list = [float(r.label) for r in rows]
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
    return fit(model, dataset, loss, out_dir, config, summary, evaluator=evaluator, resume=resume, record=record)


def _seed_everything(seed: int) -> None:
    from transformers import set_seed

    set_seed(seed)


def load_pair_classifier(model_dir: str | Path):
    """A trained pair classifier (or any cross-encoder) directory as a ``CrossEncoder``.

    Raises:
        ConfigError: not a model directory.
    """
    from sentence_transformers import CrossEncoder

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"{model_dir}: not a model directory (no config.json)")
    return CrossEncoder(str(model_dir), device="cpu", local_files_only=True)
