"""The from-scratch training loop of the classic baselines, on the same harness pieces as the trainers.

The linear matcher and the two-tower LSTM are small PyTorch modules trained with binary
cross-entropy on soft targets; they need no Hugging Face trainer, but they get everything else
the harness gives the transformer models: the same :class:`~shopmatch.train.early_stopping.EarlyStopping`
(patience on a dev metric, the best epoch's weights kept), checkpoints in
``<out_dir>.checkpoints`` with resume (:mod:`shopmatch.train.checkpoints`), seeds, progress bars
(:func:`shopmatch.progress.track`), the :class:`~shopmatch.train.summary.TrainingSummary` and the
device setting (:mod:`shopmatch.train.device`). They do not train data-parallel: under a launcher
every process trains the same model, and the main process saves it.

Example:
    >>> import numpy as np, torch
    >>> from shopmatch.baselines.trained import TrainingConfig
    >>> layer = torch.nn.Linear(2, 1)
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> summary = TrainingSummary(model="demo")
    >>> fit_module(layer, lambda i: layer(x[i])[:, 0], np.array([1.0, 0.0]), TrainingConfig(epochs=2), summary)
    >>> [e["epoch"] for e in summary.epochs]
    [1, 2]
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.extras import require
from shopmatch.progress import track
from shopmatch.train import distributed
from shopmatch.train.checkpoints import latest_checkpoint, resume_point
from shopmatch.train.device import resolve_device
from shopmatch.train.early_stopping import EarlyStopping
from shopmatch.train.harness import LoopSettings
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)

STATE = "state.pt"


def fit_module(
    module: Any,
    batch_logits: Callable[[np.ndarray], Any],
    targets: np.ndarray,
    config: LoopSettings,
    summary: TrainingSummary,
    *,
    evaluate: Callable[[], dict[str, float]] | None = None,
    metric: str | None = None,
    greater_is_better: bool = True,
    description: str = "training",
    checkpoints: Path | None = None,
    resume: bool = False,
    log_every: int = 20,
) -> None:
    """Minimize BCE of ``batch_logits(indices)`` against ``targets[indices]`` with AdamW.

    Args:
        module: the ``torch.nn.Module`` whose parameters are trained; on return it holds the
            weights of the best dev epoch (or of the last epoch without a dev set), on the CPU.
        batch_logits: example indices ``(batch,)`` → logits ``(batch,)`` on ``module``'s device.
        targets: ``(n,)`` soft targets in [0, 1].
        config: epochs, batch size, learning rate, weight decay, seed, patience, device.
        summary: receives the loss curve, the per-epoch metrics and the best epoch.
        evaluate: dev metrics after each epoch.
        metric: the metric of ``evaluate`` that picks the best epoch; ``greater_is_better`` says
            which way (``False`` for a loss).
        checkpoints: a folder for one checkpoint per epoch (None: none); with ``resume`` the
            latest one is continued from.
        log_every: steps between two loss points.
    """
    require("baselines", "the classic baselines", ("torch",))
    import torch

    device = resolve_device(config.device)
    if distributed.world_size() > 1:
        logger.warning("%s trains on one process: every process of the launcher trains the same model", description)
    module.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    target_tensor = torch.as_tensor(np.asarray(targets, dtype=np.float32)).to(device)
    n = len(target_tensor)
    per_epoch = math.ceil(n / config.batch_size)
    stopping = EarlyStopping(
        metric if evaluate is not None else None,
        config.patience,
        greater_is_better=greater_is_better,
        folder=checkpoints,
        write=distributed.is_main_process(),
    )
    first, step = 1, 0
    resumed_from = resume_point(checkpoints, resume) if checkpoints is not None else None
    if resumed_from is not None:
        first = _load(resumed_from, module, optimizer, generator, summary) + 1
        step = summary.data["steps"]
        stopping.replay(summary.epochs)
    started = time.perf_counter()
    for epoch in range(first, config.epochs + 1):
        epoch_started = time.perf_counter()
        module.train()
        order = torch.randperm(n, generator=generator).numpy()
        running, running_count = 0.0, 0
        for b in track(range(per_epoch), total=per_epoch, description=f"{description}, epoch {epoch}/{config.epochs}"):
            indices = order[b * config.batch_size : (b + 1) * config.batch_size]
            loss = loss_fn(batch_logits(indices), target_tensor[indices])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            running += float(loss.detach()) * len(indices)
            running_count += len(indices)
            if step % log_every == 0 or b == per_epoch - 1:
                summary.log_loss(step=step, epoch=epoch - 1 + (b + 1) / per_epoch, loss=running / running_count)
                running, running_count = 0.0, 0
        metrics: dict[str, float] = {}
        if evaluate is not None:
            module.eval()
            metrics = evaluate()
        summary.log_epoch(epoch=epoch, seconds=time.perf_counter() - epoch_started, metrics=metrics)
        summary.data["steps"] = step
        last_loss = summary.losses[-1]["loss"] if summary.losses else float("nan")
        logger.info("%s: epoch %d, training loss %.4f, %s", description, epoch, last_loss, metrics or "no dev set")
        stop = stopping.metric in metrics and stopping.update(epoch, metrics[stopping.metric], module.state_dict)
        if checkpoints is not None:
            _save(checkpoints, epoch, module, optimizer, generator, summary)
        if stop:
            break
    if stopping.restore(module):
        summary.best_epoch = stopping.best_epoch
    module.to("cpu")
    module.eval()
    summary.seconds = round(time.perf_counter() - started, 2)
    summary.data.update(resumed_from=resumed_from.name if resumed_from is not None else None, device=device)


def _save(folder: Path, epoch: int, module: Any, optimizer: Any, generator: Any, summary: TrainingSummary) -> None:
    """``checkpoint-<epoch>/state.pt`` (weights, optimizer, the order's random state, the summary so
    far); the previous checkpoint is removed."""
    if not distributed.is_main_process():
        return
    import shutil

    import torch

    previous = latest_checkpoint(folder)
    target = folder / f"checkpoint-{epoch}"
    target.mkdir(parents=True, exist_ok=True)
    state = {
        "epoch": epoch,
        "module": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "summary": summary.to_dict(),
    }
    torch.save(state, target / (STATE + ".tmp"))
    (target / (STATE + ".tmp")).replace(target / STATE)
    if previous is not None and previous != target:
        shutil.rmtree(previous, ignore_errors=True)


def _load(checkpoint: Path, module: Any, optimizer: Any, generator: Any, summary: TrainingSummary) -> int:
    """Restore a checkpoint written by :func:`_save`; returns its epoch."""
    import torch

    state = torch.load(checkpoint / STATE, map_location="cpu", weights_only=True)
    module.load_state_dict(state["module"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    saved = state["summary"]
    summary.losses, summary.epochs = saved["losses"], saved["epochs"]
    summary.data["steps"] = saved["data"].get("steps", 0)
    logger.info("resuming after epoch %d from %s", state["epoch"], checkpoint)
    return int(state["epoch"])
