"""The pieces the training harness adds to a Hugging Face trainer.

- :class:`HarnessCallback`: the summary (loss points, each epoch's time and dev metrics, also kept
  in the trainer's log history, which checkpoints carry over a resume) and early stopping;
- :class:`MainProcessEvaluator`: under DDP the dev set is evaluated by the main process only and
  its metrics are sent to the others, so that every process stops at the same epoch;
- :func:`quiet_logging`: shopmatch logs the losses; the trainer prints no dicts to stdout, and its
  progress bar shows only when shopmatch's progress is on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from shopmatch.train import distributed
from shopmatch.train.early_stopping import EarlyStopping
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)


class HarnessCallback(TrainerCallback):
    """Records the run into ``summary`` and stops it early through ``stopping``.

    Args:
        summary: receives loss points, epochs (time, dev metrics) as they happen.
        stopping: fed each epoch's dev metric; its decision stops the trainer.
        model: the model whose weights are kept when the dev metric improves.
    """

    def __init__(self, summary: TrainingSummary, stopping: EarlyStopping, model: Any) -> None:
        self.summary = summary
        self.stopping = stopping
        self.model = model
        self.started = time.perf_counter()

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        epoch, seconds = round(float(state.epoch or 0)), time.perf_counter() - self.started
        # in the log history, the epoch's time survives a resume (checkpoints carry the history)
        state.log_history.append({"epoch": epoch, "epoch_seconds": seconds, "step": state.global_step})
        self.summary.log_epoch(epoch=epoch, seconds=seconds)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.summary.log_loss(step=state.global_step, epoch=state.epoch or 0.0, loss=logs["loss"])
            logger.info("step %d, epoch %.2f: loss %.4f", state.global_step, state.epoch or 0, logs["loss"])

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metrics = metrics or {}
        dev = {k.removeprefix("eval_"): float(v) for k, v in metrics.items() if k.startswith("eval_dev_")}
        if self.summary.epochs and dev:
            self.summary.epochs[-1].update(dev)
        key = f"eval_{self.stopping.metric}"
        if self.stopping.metric is None or key not in metrics:
            return
        epoch = round(float(state.epoch or 0))
        logger.info("dev (epoch %d): %s", epoch, ", ".join(f"{k} {v:.4f}" for k, v in dev.items()))
        if self.stopping.update(epoch, float(metrics[key]), self.model.state_dict):
            control.should_training_stop = True


def main_process_evaluator(evaluator: Any) -> Any:
    """``evaluator`` run by the main process only, its metrics sent to the others (as is without DDP)."""
    if evaluator is None or distributed.world_size() < 2:
        return evaluator
    from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

    class MainProcessEvaluator(BaseEvaluator):
        def __init__(self) -> None:
            super().__init__()
            self.inner = evaluator
            self.name = getattr(evaluator, "name", "dev")
            self.primary_metric = evaluator.primary_metric
            self.greater_is_better = evaluator.greater_is_better

        def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict:
            metrics = self.inner(model, output_path, epoch, steps) if distributed.is_main_process() else None
            return distributed.broadcast(metrics)

    return MainProcessEvaluator()


def quiet_logging(trainer: Any, progress: bool) -> None:
    """No log dicts on stdout; with ``progress``, the trainer's bar without them."""

    class QuietProgress(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            pass  # HarnessCallback logs the losses

    trainer.remove_callback(PrinterCallback)
    if progress:
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(QuietProgress)
