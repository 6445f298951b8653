"""How PyTorch's OpenMP threads wait between parallel regions in a serving process.

In ``shopmatch serve`` the models run on ONNX Runtime, and PyTorch only pools token states and
applies small heads between ONNX Runtime runs. OpenMP's worker threads then spin for a while after
each such step (the GNU default) and hold the two cores that the next ONNX Runtime run and the
tokenizer need. With ``OMP_WAIT_POLICY=PASSIVE`` they sleep at once. Measured
(``bench/rerank.py latency``, fresh processes, alternated): the mean-head 2-layer re-ranker 40.8
→ 36.0 ms p50 for 50 candidates. The variable is read when PyTorch loads, so it must be set before
the first ``import torch``; a value the user set is kept.

Example:
    >>> env = {}
    >>> quiet_openmp_threads(env)
    >>> env["OMP_WAIT_POLICY"]
    'PASSIVE'
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping, Sequence

SERVING_COMMANDS = ("serve", "demo")


def quiet_openmp_threads(environ: MutableMapping[str, str] = os.environ) -> None:
    """Make idle OpenMP threads sleep instead of spinning, unless ``OMP_WAIT_POLICY`` is set."""
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def is_serving(argv: Sequence[str]) -> bool:
    """Whether the command line (without the program name) runs a long-lived search service."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    return command in SERVING_COMMANDS
