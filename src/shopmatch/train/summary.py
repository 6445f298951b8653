"""A training run's summary: the loss curve and the dev metrics of every epoch, as JSON and a PNG.

Every trainer in shopmatch (cross-encoder, bi-encoder, the classic baselines) writes
``training_summary.json`` and ``training_summary.png`` next to the model it saves, through the
training harness (:mod:`shopmatch.train.harness`, :mod:`shopmatch.train.loop`).

Example:
    >>> s = TrainingSummary(model="tiny")
    >>> s.log_loss(step=10, epoch=0.5, loss=0.69)
    >>> s.log_epoch(epoch=1, seconds=12.0, metrics={"dev_ndcg@10": 0.71})
    >>> s.best("dev_ndcg@10")
    {'epoch': 1, 'seconds': 12.0, 'dev_ndcg@10': 0.71}
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

JSON_NAME = "training_summary.json"
PNG_NAME = "training_summary.png"


@dataclass
class TrainingSummary:
    """Loss per logging step and metrics per epoch of one training run.

    Attributes:
        model: what was trained (e.g. ``cross-encoder``) and from what.
        config: the training settings.
        losses: ``{"step", "epoch", "loss"}`` per logging step.
        epochs: ``{"epoch", "seconds", <metric>: value, ...}`` per epoch (dev metrics when there
            is a dev set).
        data: sizes of the training and dev sets and anything else worth knowing later.
    """

    model: str
    config: dict[str, Any] = field(default_factory=dict)
    losses: list[dict[str, float]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    best_epoch: int | None = None
    seconds: float = 0.0

    def log_loss(self, *, step: int, epoch: float, loss: float) -> None:
        self.losses.append({"step": int(step), "epoch": round(float(epoch), 4), "loss": float(loss)})

    def log_epoch(self, *, epoch: int, seconds: float, metrics: dict[str, float] | None = None) -> None:
        self.epochs.append({"epoch": int(epoch), "seconds": round(float(seconds), 2), **(metrics or {})})

    def add_history(self, history: list[dict[str, Any]]) -> None:
        """Add the losses and epochs of a Hugging Face trainer's ``log_history`` (kept in its
        checkpoints: a resumed run's summary starts with the epochs before the interruption).

        Entries with ``loss`` are loss points, those with ``epoch_seconds`` epoch ends (written by
        the training harness), those with ``eval_dev_*`` keys the dev metrics of an epoch.
        """
        epochs: dict[int, dict[str, Any]] = {}
        for entry in history:
            if "loss" in entry:
                self.log_loss(step=entry.get("step", 0), epoch=entry.get("epoch", 0.0), loss=entry["loss"])
            elif "epoch_seconds" in entry:
                epochs.setdefault(int(entry["epoch"]), {})["seconds"] = entry["epoch_seconds"]
            elif any(k.startswith("eval_dev_") for k in entry):
                metrics = {k.removeprefix("eval_"): v for k, v in entry.items() if k.startswith("eval_dev_")}
                epochs.setdefault(round(entry.get("epoch", 0)), {}).update(metrics)
        for epoch in sorted(epochs):
            values = dict(epochs[epoch])
            self.log_epoch(epoch=epoch, seconds=values.pop("seconds", 0.0), metrics=values)

    def best(self, metric: str) -> dict[str, Any] | None:
        """The epoch with the highest ``metric`` (None if no epoch has it)."""
        scored = [e for e in self.epochs if metric in e]
        return max(scored, key=lambda e: e[metric]) if scored else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``training_summary.json`` and ``training_summary.png`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / JSON_NAME
        json_path.write_text(json.dumps(self.to_dict(), indent=2, default=float) + "\n", encoding="utf-8")
        png_path = directory / PNG_NAME
        self.plot(png_path)
        return json_path, png_path

    @classmethod
    def load(cls, directory: str | Path) -> TrainingSummary:
        data = json.loads((Path(directory) / JSON_NAME).read_text(encoding="utf-8"))
        return cls(**data)

    def plot(self, path: str | Path) -> None:
        """Loss against epoch on the left, each dev metric per epoch on the right."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        metrics = sorted({k for e in self.epochs for k in e if k not in ("epoch", "seconds")})
        fig, axes = plt.subplots(1, 2 if metrics else 1, figsize=(10 if metrics else 5.5, 3.6), squeeze=False)
        loss_ax = axes[0][0]
        if self.losses:
            loss_ax.plot([p["epoch"] for p in self.losses], [p["loss"] for p in self.losses], color="#1f77b4")
        loss_ax.set(title="training loss", xlabel="epoch", ylabel="loss")
        loss_ax.grid(alpha=0.3)
        if metrics:
            ax = axes[0][1]
            for name in metrics:
                points = [(e["epoch"], e[name]) for e in self.epochs if name in e]
                ax.plot(*zip(*points, strict=True), marker="o", label=name)
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch, color="grey", linestyle="--", linewidth=1, label="kept")
            ax.set(title="dev metrics per epoch", xlabel="epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(self.model, fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
