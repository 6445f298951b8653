"""Checkpoints of a training run: ``<out_dir>.checkpoints/checkpoint-<n>/`` beside the model directory.

Every trainer writes one checkpoint per epoch there (the Hugging Face trainers their own format,
the from-scratch loop a ``state.pt``) and keeps the latest. ``resume=True`` continues from it; a
run without ``resume`` starts afresh and removes what an earlier run left. After a successful
save the folder is removed (``keep_checkpoints`` keeps it).

Example:
    >>> checkpoint_dir("models/reranker")
    PosixPath('models/reranker.checkpoints')
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from shopmatch.train import distributed

logger = logging.getLogger(__name__)


def checkpoint_dir(out_dir: str | Path) -> Path:
    """Where the checkpoints of a run writing ``out_dir`` go: ``<out_dir>.checkpoints`` beside it."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".checkpoints")


def latest_checkpoint(folder: Path) -> Path | None:
    """The ``checkpoint-<n>`` folder with the largest ``n`` (None: there is none)."""
    found = [p for p in Path(folder).glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


def resume_point(folder: Path, resume: bool) -> Path | None:
    """The checkpoint to continue from (with ``resume``), else None after clearing ``folder``.

    Without ``resume`` the main process removes an earlier run's checkpoints, so that they are
    never mistaken for this run's.
    """
    if resume:
        last = latest_checkpoint(folder)
        if last is None:
            logger.warning("no checkpoint in %s to resume from; training from the start", folder)
        else:
            logger.info("resuming from %s", last)
        return last
    if distributed.is_main_process() and folder.exists():
        shutil.rmtree(folder)
    distributed.barrier()
    return None


def remove_checkpoints(folder: Path) -> None:
    """Delete ``folder`` (main process only; the others wait)."""
    distributed.barrier()
    if distributed.is_main_process():
        shutil.rmtree(folder, ignore_errors=True)
