"""The classic-baseline recipe: judgments and a catalog (or a pair set) in, a baseline model directory out.

Steps: read the data, hold out dev queries (pair sets: rows), train the linear matcher or the
two-tower BiLSTM from scratch on the harness's loop (:mod:`shopmatch.train.loop`, checkpoints in
``OUT.checkpoints``), save it (main process only).

Example:
    >>> recipe = BaselineRecipe(kind="lstm", pairs="pairs.tsv", output="models/lstm")
    >>> summary = train_baseline(recipe)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from shopmatch.baselines.linear import LinearMatcherConfig
from shopmatch.baselines.two_tower_lstm import TwoTowerLSTMConfig
from shopmatch.errors import ConfigError
from shopmatch.judgments import DUPLICATE_POLICIES
from shopmatch.settings import setting
from shopmatch.train.recipes.common import Notify, Recipe, join_processes, reporter
from shopmatch.train.recipes.reranker import ESCI_GAINS
from shopmatch.train.summary import TrainingSummary

KINDS = ("linear", "linear-interaction", "lstm")


@dataclass(frozen=True)
class BaselineRecipe(Recipe):
    """How to train a classic baseline (``shopmatch train baseline``).

    Attributes:
        kind: ``linear`` (σ(W·q + V·c + b)), ``linear-interaction`` (+ q∘c, cosine) or ``lstm``.
        catalog, judgments: judgments on a catalog's products to train on, or
        pairs: a ``pairs.tsv`` (text_a, text_b, integer class) instead.
        gains: label gains of the judgments (targets are gain / top gain).
        duplicates: how several ratings of one (query, product) pair merge: mean, max, first or error.
        linear, lstm: the settings of each kind (``[linear]``, ``[lstm]``).
    """

    SECTION = "baseline"
    EXTRA = "baselines"

    kind: str | None = setting(None, choices=KINDS)
    catalog: str | None = None
    judgments: str | None = None
    gains: str = ESCI_GAINS
    duplicates: str = setting("mean", choices=DUPLICATE_POLICIES)
    pairs: str | None = None
    linear: LinearMatcherConfig = field(default_factory=LinearMatcherConfig)
    lstm: TwoTowerLSTMConfig = field(default_factory=TwoTowerLSTMConfig)

    def check(self) -> None:
        super().check()
        if self.pairs is not None and self.judgments is not None:
            raise ConfigError(f"{self.SECTION}.judgments and {self.SECTION}.pairs: give one of them, not both")

    @property
    def model_config(self) -> LinearMatcherConfig | TwoTowerLSTMConfig:
        """The settings of the kind this recipe trains."""
        if self.kind == "lstm":
            return self.lstm
        return replace(self.linear, interaction=True) if self.kind == "linear-interaction" else self.linear


def train_baseline(recipe: BaselineRecipe, *, resume: bool = False, notify: Notify | None = None) -> TrainingSummary:
    """Run ``recipe``; returns the training summary (saved next to the model)."""
    from shopmatch.baselines import LinearMatcher, TwoTowerLSTM
    from shopmatch.train import distributed
    from shopmatch.train.checkpoints import checkpoint_dir, remove_checkpoints

    recipe.require("kind", "output")
    if (recipe.pairs is None) == (recipe.judgments is None):
        raise ConfigError(
            f"give either {recipe.SECTION}.judgments (with {recipe.SECTION}.catalog) or {recipe.SECTION}.pairs"
        )
    report = reporter(notify)
    config = recipe.model_config
    join_processes(config.device)
    train_set, dev_set = _examples(recipe, config.seed)
    model_class = TwoTowerLSTM if recipe.kind == "lstm" else LinearMatcher
    output = Path(recipe.output)  # type: ignore[arg-type]
    checkpoints = checkpoint_dir(output)
    model = model_class.fit(train_set, dev=dev_set or None, config=config, checkpoints=checkpoints, resume=resume)
    summary = model.summary
    summary.data["kind"] = recipe.kind
    if distributed.is_main_process():
        model.save(output)
    remove_checkpoints(checkpoints)
    report(f"trained {recipe.kind} on {len(train_set):,} pairs ({len(dev_set or []):,} dev); saved to {output}")
    return summary


def _examples(recipe: BaselineRecipe, seed: int) -> tuple[list, list | None]:
    """Training and dev examples: pair-set rows, or LabeledPairs from judgments and the catalog."""
    from shopmatch.train.data import labeled_pairs
    from shopmatch.train.inputs import parse_gains, read_products, read_training_judgments, read_training_pairs
    from shopmatch.train.splits import hold_out

    fraction = recipe.held_out_fraction
    if recipe.pairs is not None:
        dev = read_training_pairs(recipe.dev) if recipe.dev is not None else None
        return hold_out(read_training_pairs(recipe.pairs), dev=dev, fraction=fraction, seed=seed)
    if recipe.catalog is None:
        raise ConfigError(f"{recipe.SECTION}.judgments needs {recipe.SECTION}.catalog (the product texts)")
    gains = parse_gains(recipe.gains)
    products = read_products(recipe.catalog)
    judged = read_training_judgments(recipe.judgments, gains, recipe.duplicates)  # type: ignore[arg-type]
    dev = read_training_judgments(recipe.dev, gains, recipe.duplicates) if recipe.dev is not None else None
    train_j, dev_j = hold_out(judged, dev=dev, fraction=fraction, seed=seed)
    return labeled_pairs(train_j, products, gains), labeled_pairs(dev_j, products, gains) if dev_j else None
