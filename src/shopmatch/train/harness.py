"""The one training harness: a sentence-transformers trainer run the same way for every model family.

:func:`fit_trainer` runs a ``CrossEncoderTrainer`` or ``SentenceTransformerTrainer`` (the
cross-encoder re-ranker and pair classifier, the bi-encoder) with what they share:

- **early stopping** (:class:`~shopmatch.train.early_stopping.EarlyStopping`): the dev metric after
  every epoch, ``patience`` epochs without an improvement stop training, the best epoch's weights
  are the ones saved — the same object the classic baselines' loop uses (:mod:`shopmatch.train.loop`);
- **checkpoints and resume** (:mod:`shopmatch.train.checkpoints`): one checkpoint per epoch in
  ``<out_dir>.checkpoints``; ``resume=True`` continues from the latest, with the summary of the
  epochs before the interruption and the best weights so far;
- **seeds**: the trainer's ``seed`` and ``data_seed`` (the caller seeds model creation);
- **progress**: the trainer's bar when shopmatch's progress is on, losses logged, nothing printed;
- **the summary** (:class:`~shopmatch.train.summary.TrainingSummary`), saved as
  ``training_summary.json`` / ``.png`` next to the model;
- **the device** (:mod:`shopmatch.train.device`: ``cpu``, ``cuda``, ``auto``);
- **data parallelism** (:mod:`shopmatch.train.distributed`): under ``torchrun`` / ``accelerate
  launch`` the trainer runs DDP; the dev set is evaluated, the model saved and the checkpoints
  removed by the main process only.

The model directory is written atomically by the caller's ``save(directory)`` (the model's own
files) plus the summary.

Example:
    >>> from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    >>> fit_trainer(CrossEncoderTrainer, CrossEncoderTrainingArguments, model=model, train_dataset=data,
    ...             loss=loss, config=config, summary=summary, out_dir="my-model",
    ...             save=lambda d: model.save_pretrained(str(d)))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from shopmatch.progress import progress_enabled
from shopmatch.store import atomic_directory
from shopmatch.train import distributed
from shopmatch.train.checkpoints import checkpoint_dir, remove_checkpoints, resume_point
from shopmatch.train.device import resolve_device
from shopmatch.train.early_stopping import EarlyStopping
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)

LOSS_POINTS_PER_EPOCH = 20


class LoopSettings(Protocol):
    """The settings every training config has (``CrossEncoderTrainConfig``, ``BiEncoderTrainConfig``,
    the baselines' ``TrainingConfig``)."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    seed: int
    patience: int
    device: str


def fit_trainer(
    trainer_class: type,
    args_class: type,
    *,
    model: Any,
    train_dataset: Any,
    loss: Any,
    config: LoopSettings,
    summary: TrainingSummary,
    out_dir: str | Path,
    save: Callable[[Path], None],
    evaluator: Any = None,
    metric: str | None = None,
    resume: bool = False,
    keep_checkpoints: bool = False,
    callbacks: Sequence[Any] = (),
    args: Mapping[str, Any] | None = None,
    prepare: Callable[[Any], None] | None = None,
) -> TrainingSummary:
    """Train ``model`` with a sentence-transformers trainer and save it to ``out_dir``.

    Args:
        trainer_class, args_class: e.g. ``CrossEncoderTrainer`` and ``CrossEncoderTrainingArguments``.
        model, train_dataset, loss: what the trainer trains.
        config: epochs, batch size, learning rate (``warmup_ratio`` if it has one), weight decay,
            seed, patience and device.
        summary: what was trained and on what; the harness adds the losses, epochs and timing.
        out_dir: the model directory, written atomically by the main process.
        save: writes the model's own files into a directory.
        evaluator: the dev evaluator, run after every epoch (main process only under DDP).
        metric: the evaluator's metric that early stopping watches (e.g. ``dev_ndcg@10``).
        resume: continue from the latest checkpoint in ``<out_dir>.checkpoints``.
        keep_checkpoints: keep that folder after a successful save.
        callbacks: more ``transformers.TrainerCallback`` objects.
        args: more training arguments (they override the harness's).
        prepare: called with the trainer before training (e.g. to attach FGM).

    Returns:
        ``summary``, as saved next to the model.
    """
    device = resolve_device(config.device)
    distributed.setup(device)
    out_dir = Path(out_dir)
    checkpoints = checkpoint_dir(out_dir)
    resumed_from = resume_point(checkpoints, resume)
    stopping = EarlyStopping(metric, config.patience, folder=checkpoints, write=distributed.is_main_process())
    if resumed_from is not None:
        summary.add_history(_history(resumed_from))
        stopping.replay(summary.epochs)
    processes = distributed.world_size()
    if processes > 1:
        freeze_unread_pooler(model)
    per_epoch = max(1, math.ceil(len(train_dataset) / (config.batch_size * processes)))
    progress = progress_enabled()
    training_args = args_class(
        **{
            "output_dir": str(checkpoints),
            "num_train_epochs": config.epochs,
            "per_device_train_batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "warmup_ratio": getattr(config, "warmup_ratio", 0.0),
            "weight_decay": config.weight_decay,
            "lr_scheduler_type": "linear",
            "seed": config.seed,
            "data_seed": config.seed,
            "eval_strategy": "epoch" if evaluator is not None else "no",
            "save_strategy": "epoch",
            "save_total_limit": 1,
            "logging_steps": max(1, per_epoch // LOSS_POINTS_PER_EPOCH),
            "report_to": "none",
            "use_cpu": device == "cpu",
            "dataloader_num_workers": 0,
            "dataloader_pin_memory": device == "cuda",
            "ddp_find_unused_parameters": False,
            "disable_tqdm": not progress,
            **(args or {}),
        }
    )
    from shopmatch.train.callbacks import HarnessCallback, main_process_evaluator, quiet_logging

    trainer = trainer_class(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        loss=loss,
        evaluator=main_process_evaluator(evaluator),
        callbacks=[HarnessCallback(summary, stopping, model), *callbacks],
    )
    quiet_logging(trainer, progress)
    if prepare is not None:
        prepare(trainer)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resumed_from) if resumed_from is not None else None)
    summary.seconds = round(time.perf_counter() - started, 2)
    summary.data.update(
        steps=trainer.state.global_step,
        resumed_from=resumed_from.name if resumed_from is not None else None,
        device=device,
        processes=processes,
    )
    if stopping.restore(model):
        summary.best_epoch = stopping.best_epoch
    save_model_directory(out_dir, save, summary)
    if not keep_checkpoints:
        remove_checkpoints(checkpoints)
    logger.info(
        "saved %s (%d steps in %.0f s%s)",
        out_dir,
        trainer.state.global_step,
        summary.seconds,
        f", best epoch {summary.best_epoch}" if summary.best_epoch is not None else "",
    )
    return summary


def save_model_directory(out_dir: Path, save: Callable[[Path], None], summary: TrainingSummary) -> None:
    """``save(tmp)`` and the summary, renamed into ``out_dir`` by the main process; the others wait."""
    if distributed.is_main_process():
        with atomic_directory(out_dir) as tmp:
            save(tmp)
            summary.save(tmp)
    distributed.barrier()


def freeze_unread_pooler(model: Any) -> None:
    """Freeze the pooler of a plain encoder whose output no head reads (mean-token heads, bi-encoders).

    DDP requires every trainable parameter to take part in the loss; BERT's pooler does only under
    a ``[CLS]`` classifier. Frozen, it is left out of the gradient sync (its weights never change
    either way, so the saved model is the same).
    """
    encoder = getattr(model[0], "model", None) if hasattr(model, "__getitem__") else None
    pooler = getattr(encoder, "pooler", None)
    if pooler is not None and hasattr(pooler, "parameters"):
        for parameter in pooler.parameters():
            parameter.requires_grad_(False)
        logger.info("DDP: the encoder's pooler (read by no head) is frozen")


def _history(checkpoint: Path) -> list[dict[str, Any]]:
    from transformers import TrainerState

    state_file = checkpoint / "trainer_state.json"
    return TrainerState.load_from_json(str(state_file)).log_history if state_file.is_file() else []
