"""Early stopping on a dev metric, the same for every model family: patience, and the best epoch kept.

After each epoch's dev evaluation :meth:`EarlyStopping.update` compares the metric with the best
so far. An improvement (by more than ``1e-9``) copies the weights: in memory, and, when a folder is
given (the run's checkpoint folder), to ``best-weights.pt`` there, so that a resumed run still has
the best epoch's weights when that epoch came before the interruption. ``patience`` epochs without
an improvement stop training (0: never stop early). At the end :meth:`EarlyStopping.restore` puts
the best weights back into the model, which is then saved.

Example:
    >>> import torch
    >>> layer = torch.nn.Linear(1, 1)
    >>> stopping = EarlyStopping("dev_ndcg@10", patience=1)
    >>> stopping.update(1, 0.5, layer.state_dict), stopping.update(2, 0.4, layer.state_dict)
    (False, True)
    >>> stopping.best_epoch
    1
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

BEST_WEIGHTS = "best-weights.pt"
MIN_DELTA = 1e-9


class EarlyStopping:
    """Tracks the best epoch of a dev metric and says when to stop.

    Args:
        metric: the dev metric (e.g. ``dev_ndcg@10``); ``None``: no dev set, nothing to track.
        patience: epochs without an improvement before training stops (0: never stops early).
        greater_is_better: ``False`` for a loss.
        folder: where the best weights are also written (a resumed run reads them back); ``None``:
            in memory only.
        write: whether this process writes ``folder`` (only the main process does under DDP).
    """

    def __init__(
        self,
        metric: str | None,
        patience: int,
        *,
        greater_is_better: bool = True,
        folder: Path | None = None,
        write: bool = True,
    ) -> None:
        self.metric = metric
        self.patience = patience
        self.sign = 1.0 if greater_is_better else -1.0
        self.folder = folder
        self.write = write
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.stale = 0

    def update(self, epoch: int, value: float, weights: Callable[[], Mapping[str, Any]] | None = None) -> bool:
        """Record ``epoch``'s metric; keep ``weights()`` if it is the best so far. True: stop now."""
        if self.best_value is None or self.sign * value > self.sign * self.best_value + MIN_DELTA:
            self.best_value, self.best_epoch, self.stale = float(value), int(epoch), 0
            if weights is not None:
                self.best_state = {k: v.detach().clone() for k, v in weights().items()}
                self._store()
            return False
        self.stale += 1
        if self.patience and self.stale >= self.patience:
            logger.info("dev %s did not improve for %d epoch(s): stopping", self.metric, self.stale)
            return True
        return False

    def replay(self, epochs: Sequence[Mapping[str, Any]]) -> None:
        """Take up the epochs of an interrupted run (their metrics; the best weights from the folder)."""
        for entry in epochs:
            if self.metric is not None and self.metric in entry:
                self.update(int(entry["epoch"]), float(entry[self.metric]))
        if self.best_epoch is None:
            return
        saved = self._load()
        if saved is not None and saved.get("epoch") == self.best_epoch:
            self.best_state = saved["state"]
        else:
            logger.warning(
                "the best epoch so far (%d) left no saved weights: a later epoch is kept, the best of those",
                self.best_epoch,
            )
            self.best_epoch, self.best_value = None, None

    def restore(self, module: Any) -> bool:
        """Load the best epoch's weights into ``module``; False if there is no best epoch."""
        if self.best_state is None:
            return False
        module.load_state_dict(self.best_state)
        return True

    def _store(self) -> None:
        if self.folder is None or not self.write:
            return
        import torch

        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / (BEST_WEIGHTS + ".tmp")
        torch.save({"epoch": self.best_epoch, "value": self.best_value, "state": self.best_state}, tmp)
        tmp.replace(self.folder / BEST_WEIGHTS)

    def _load(self) -> dict[str, Any] | None:
        path = self.folder / BEST_WEIGHTS if self.folder is not None else None
        if path is None or not path.is_file():
            return None
        import torch

        return torch.load(path, map_location="cpu", weights_only=True)
