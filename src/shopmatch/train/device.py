"""Where training runs: ``cpu``, ``cuda`` or ``auto`` (a CUDA GPU when torch sees one, else the CPU).

Every trainer (the Hugging Face ones and the from-scratch loop of the classic baselines) takes
its ``device`` setting through :func:`resolve_device`, so ``auto`` means the same everywhere and
asking for a GPU that is not there is an error before any data is read.

Example:
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto") in ("cpu", "cuda")
    True
"""

from __future__ import annotations

from shopmatch.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """``cpu`` or ``cuda`` for a device setting.

    Raises:
        ConfigError: an unknown setting, or ``cuda`` where torch sees no CUDA GPU.
    """
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        raise ConfigError("device 'cuda': torch sees no CUDA GPU here (a CPU-only build or no driver); use cpu or auto")
    return "cuda" if available else "cpu"
