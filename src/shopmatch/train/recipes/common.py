"""What every recipe shares: the dev-set settings, recipe files, and the steps before training.

A recipe file is TOML: top-level keys are the recipe's own settings, tables the nested ones
(``[train]`` for the model family's training config, ``[synthetic]`` for the synthetic-pair
stage). :func:`load_recipe` reads it, refuses unknown keys naming the file, and lays the command
line's values over it.

Example:
    >>> from shopmatch.train.recipes.reranker import RerankerRecipe
    >>> load_recipe(RerankerRecipe, overrides={"negatives": 5, "train": {"epochs": 2}}).train.epochs
    2
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shopmatch.errors import ConfigError
from shopmatch.settings import ConfigSection, setting
from shopmatch.train import distributed

logger = logging.getLogger(__name__)

Notify = Callable[[str], None]
R = TypeVar("R", bound="Recipe")


@dataclass(frozen=True)
class Recipe(ConfigSection):
    """The settings every recipe has.

    Attributes:
        output: the model directory to write.
        dev: a dev file (the training data's format); its queries or rows pick the best epoch.
        dev_fraction: without ``dev``, the share of the training queries (pair sets: rows) held
            out as the dev set, seeded by the training seed; 0: no dev set; unset: the family's
            default (``DEFAULT_DEV_FRACTION``). Not with ``dev``.
    """

    SECTION = "recipe"
    DEFAULT_DEV_FRACTION = 0.1
    EXTRA = "train"  # the pip extra the family needs (shopmatch.extras)

    output: str | None = None
    dev: str | None = None
    dev_fraction: float | None = setting(None, minimum=0.0, less_than=1.0)

    def check(self) -> None:
        if self.dev is not None and self.dev_fraction:
            raise ConfigError(f"{self.SECTION}.dev and {self.SECTION}.dev_fraction: give one of them, not both")

    @property
    def held_out_fraction(self) -> float:
        """The dev fraction in effect (the family's default when unset)."""
        return self.DEFAULT_DEV_FRACTION if self.dev_fraction is None else self.dev_fraction

    def require(self, *names: str) -> None:
        """ConfigError unless each of the settings ``names`` is given."""
        missing = [name for name in names if getattr(self, name) is None]
        if missing:
            raise ConfigError(f"{', '.join(f'{self.SECTION}.{n}' for n in missing)}: required (not given)")


@dataclass(frozen=True)
class SyntheticStage(ConfigSection):
    """A first training stage on pseudo-queries (``shopmatch.train.synthetic``).

    Attributes:
        queries: pseudo-queries to draw (0: no stage).
        texts: a file of unlabeled texts, one a line, drawn from too (and given to ``extend_vocab``).
        learning_rate: the stage's learning rate (one epoch).
    """

    SECTION = "synthetic"

    queries: int = setting(0, minimum=0)
    texts: str | None = None
    learning_rate: float = setting(1e-4, greater_than=0.0, maximum=1.0)

    def check(self) -> None:
        if self.texts is not None and not self.queries:
            raise ConfigError(f"{self.SECTION}.texts is used by {self.SECTION}.queries N; give it too")


def load_recipe(recipe_class: type[R], path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> R:
    """A recipe from a TOML file (optional) with ``overrides`` (the command line's values) laid over it.

    Raises:
        ConfigError: the file is missing, not TOML, or holds an unknown key or a bad value (the
            message names the file); or an override is bad.
    """
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: recipe file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
        try:
            recipe_class.from_dict(values)
        except (ConfigError, TypeError) as error:
            raise ConfigError(f"{path}: {error}") from None
    return recipe_class.from_dict(merged(values, overrides or {}))


def merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid over it, table by table."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def reporter(notify: Notify | None) -> Notify:
    """What a recipe reports through: ``notify`` (the CLI prints) or the log, on the main process only."""

    def report(message: str) -> None:
        if distributed.is_main_process():
            (notify or logger.info)(message)

    return report


def join_processes(device: str) -> None:
    """Under a launcher, join the process group before the first step that waits for the main
    process (a vocabulary extension, the mining pipeline); nothing without one."""
    from shopmatch.train.device import resolve_device

    distributed.setup(resolve_device(device))


def vocabulary_extended(model: str, texts: Sequence[str], out: Path, report: Notify) -> Path:
    """``model`` with the CJK characters of ``texts`` added, as ``OUT.vocab/`` (written by the main process)."""
    from shopmatch.encoders.models import resolve_model_dir
    from shopmatch.train.vocab import extend_vocabulary

    target = out.with_name(out.name + ".vocab")
    if distributed.is_main_process():
        extension = extend_vocabulary(resolve_model_dir(model), texts, target)
        added = len(extension.added)
        report(f"vocabulary: {extension.old_size:,} → {extension.new_size:,} tokens ({added:,} added)")
    distributed.barrier()
    return target


def unlabeled_texts(stage: SyntheticStage, report: Notify) -> list[str]:
    """The lines of the synthetic stage's ``texts`` file (none without it)."""
    from shopmatch.train.inputs import read_texts

    if stage.texts is None:
        return []
    texts = read_texts(stage.texts)
    report(f"{len(texts):,} unlabeled texts from {stage.texts}")
    return texts


def synthetic_stage(out: Path, resume: bool, what: str, train: Callable[[Path], Any], report: Notify) -> Path:
    """Run ``train(stage_dir)``, the synthetic-pair stage, into ``OUT.synthetic/`` (kept: it is the
    start model of the fine-tuning; ``resume`` reuses it once complete)."""
    stage_dir = out.with_name(out.name + ".synthetic")
    if resume and (stage_dir / "training_summary.json").is_file():
        report(f"synthetic-pair stage: reusing {stage_dir}")
        return stage_dir
    report(f"synthetic-pair stage: {what} → {stage_dir}")
    summary = train(stage_dir)
    report(f"synthetic-pair stage done in {summary.seconds:.0f} s")
    return stage_dir
