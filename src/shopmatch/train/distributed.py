"""Data-parallel training: which process this is, and the few collective steps training needs.

Under ``torchrun`` or ``accelerate launch`` every process runs the same command; the Hugging Face
trainers then train with DistributedDataParallel, each process on its share of every batch. The
process group is set up here, before the trainers, so that the steps around training can wait for
each other: the main process (rank 0) alone evaluates the dev set (the others receive its metrics,
so every process takes the same early-stopping decision), writes files (a vocabulary-extended
start model, the model directory, the summary) and removes checkpoints. One process without a
launcher is a world of one, where every function here is a no-op.

Example:
    >>> world_size(), is_main_process()
    (1, True)
    >>> with main_process_first():
    ...     pass
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


def world_size() -> int:
    """How many processes train together (``WORLD_SIZE`` of the launcher; 1 without one)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0: the main process)."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Whether this process evaluates, writes files and reports (rank 0)."""
    return rank() == 0


def _active() -> bool:
    if world_size() < 2:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def setup(device: str) -> None:
    """Join the launcher's process group (gloo on CPUs, NCCL on GPUs) if there is more than one process.

    The Hugging Face trainers reuse this group. Without a launcher this does nothing.
    """
    if world_size() < 2:
        return
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed: train with one process")
    if dist.is_initialized():
        return
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    logger.info("process %d of %d joined the %s process group", rank(), world_size(), dist.get_backend())


def barrier() -> None:
    """Wait until every process gets here."""
    if _active():
        import torch.distributed as dist

        dist.barrier()


def broadcast(value: T) -> T:
    """The main process's ``value`` in every process (``value`` itself in a world of one)."""
    if not _active():
        return value
    import torch.distributed as dist

    box: list[Any] = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextmanager
def main_process_first() -> Iterator[None]:
    """The main process runs the block first; the others run it after (e.g. to find its files there)."""
    if not is_main_process():
        barrier()
    try:
        yield
    finally:
        if is_main_process():
            barrier()
