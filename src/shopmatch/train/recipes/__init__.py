"""Training recipes: one per model family, each a validated config and a function that runs it.

A recipe reads the data (judgments through :func:`shopmatch.train.inputs.read_training_judgments`,
the one reader every recipe uses), holds out the dev set (:func:`shopmatch.train.splits.hold_out`),
mines negatives, optionally distils, runs the training harness and returns the
:class:`~shopmatch.train.summary.TrainingSummary`. ``shopmatch train …`` only parses its options
into a recipe (over a ``--recipe FILE`` when given) and calls it.

==============================  ==========================  ==================================
command                         recipe                      function
==============================  ==========================  ==================================
``train cross-encoder``         :class:`RerankerRecipe`     :func:`train_reranker`
``train pairs``                 :class:`PairClassifierRecipe`  :func:`train_pair_classifier_recipe`
``train bi-encoder``            :class:`BiEncoderRecipe`    :func:`train_bi_encoder_recipe`
``train baseline``              :class:`BaselineRecipe`     :func:`train_baseline`
==============================  ==========================  ==================================

Example:
    >>> recipe = load_recipe(RerankerRecipe, "configs/recipes/reranker.toml", {"output": "models/ce"})  # doctest: +SKIP
    >>> summary = run_recipe(recipe)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from shopmatch.extras import require
from shopmatch.train.recipes.baseline import BaselineRecipe, train_baseline
from shopmatch.train.recipes.bi_encoder import BiEncoderRecipe, train_bi_encoder_recipe
from shopmatch.train.recipes.common import Notify, Recipe, SyntheticStage, load_recipe
from shopmatch.train.recipes.pair_classifier import PairClassifierRecipe, train_pair_classifier_recipe
from shopmatch.train.recipes.reranker import RerankerRecipe, train_reranker
from shopmatch.train.summary import TrainingSummary

__all__ = [
    "BaselineRecipe",
    "BiEncoderRecipe",
    "PairClassifierRecipe",
    "Recipe",
    "RerankerRecipe",
    "SyntheticStage",
    "load_recipe",
    "run_recipe",
    "train_baseline",
    "train_bi_encoder_recipe",
    "train_pair_classifier_recipe",
    "train_reranker",
]

RUNNERS: dict[type, Any] = {
    RerankerRecipe: train_reranker,
    PairClassifierRecipe: train_pair_classifier_recipe,
    BiEncoderRecipe: train_bi_encoder_recipe,
    BaselineRecipe: train_baseline,
}


def run_recipe(recipe: Recipe, *, resume: bool = False, notify: Notify | None = None) -> TrainingSummary:
    """Run any recipe with its family's function."""
    require(recipe.EXTRA, "training")
    return RUNNERS[type(recipe)](recipe, resume=resume, notify=notify)
