"""The personalizer: a LambdaMART model over the user features alone, trained on top of the plain scores.

It is boosted from the scores the pipeline already gives (``init_score``: the learned ranker's, or
fusion's without one), so the final score is ``plain score + g(user features)``. For a shopper
with no history the user features are all 0, ``g`` is the same number for every candidate, and
the order is exactly the plain one. The score may only grow with each affinity (LightGBM's monotone
constraints): a shopper's taste can lift a product, never push it down for matching it. A
personalizer directory is a ranker directory (:class:`~shopmatch.rank.model.Ranker`: ``model.txt``,
``ranker.json``) whose features are :data:`~.features.USER_FEATURE_NAMES`.

Example:
    >>> import numpy as np
    >>> X = np.array([[1, 0, 0, 0, 1], [0, 0, 0, 0, 1]] * 20, dtype=np.float32)
    >>> model = train_personalizer(X, np.array([1, 0] * 20), [2] * 20, np.zeros(40), rounds=5, min_data_in_leaf=1)
    >>> bool(model.predict(X[:2])[0] > model.predict(X[:2])[1])
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from shopmatch.extras import require
from shopmatch.personalize.features import USER_FEATURE_NAMES
from shopmatch.rank.model import MODEL_FILE, Ranker

FEATURE_VERSION = 1
MONOTONE = (1, 1, 1, 1, 0)
"""More affinity never lowers a product (brand, category, price band); the history size is free."""


def train_personalizer(
    features: np.ndarray,
    labels: np.ndarray,
    groups: Sequence[int],
    base_scores: np.ndarray,
    *,
    positions: np.ndarray | None = None,
    rounds: int = 200,
    learning_rate: float = 0.05,
    num_leaves: int = 7,
    min_data_in_leaf: int | None = None,
    seed: int = 0,
) -> Ranker:
    """LambdaMART on the user ``features`` of grouped rows (``groups``: rows per impression, in
    order) with integer ``labels`` (e.g. 0 shown, 1 clicked, 2 carted, 3 bought), boosted from
    ``base_scores`` (the plain ranking's score of each row). With ``positions`` (where each row was
    shown, 1-based), LightGBM's position-debiased LambdaMART learns how much each position is looked
    at beside the model, so that clicks on top positions are not taken for preference."""
    require("rank", "the personalizer")
    import lightgbm as lgb

    if features.shape[1] != len(USER_FEATURE_NAMES):
        raise ValueError(f"the personalizer reads {len(USER_FEATURE_NAMES)} features, got {features.shape[1]}")
    params = {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [10],
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_data_in_leaf": min_data_in_leaf or min(50, max(1, len(features) // 20)),
        "monotone_constraints": list(MONOTONE),
        "seed": seed,
        "deterministic": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    data = lgb.Dataset(
        features,
        np.asarray(labels, dtype=np.int32),
        group=list(groups),
        init_score=np.asarray(base_scores, dtype=np.float64),
        feature_name=list(USER_FEATURE_NAMES),
        position=None if positions is None else np.asarray(positions, dtype=np.int32) - 1,
    )
    booster = lgb.train(params, data, num_boost_round=rounds)
    summary = {
        "rows": int(len(features)),
        "impressions": len(groups),
        "rounds": rounds,
        "boosted_from": "the plain ranking's scores",
        "position_debiased": positions is not None,
        "params": {k: v for k, v in params.items() if k not in ("verbosity", "num_threads")},
    }
    model = Ranker(booster, USER_FEATURE_NAMES, FEATURE_VERSION, summary)
    model.summary["importance"] = model.importances()
    return model


def configured_personalizer(model: str) -> Ranker | None:
    """The personalizer ``[personalize] model`` names (None when empty), loaded once per directory and version.

    Raises:
        RankerError: not a personalizer directory (the message names the file).
    """
    if not model:
        return None
    path = Path(model).resolve()
    try:
        stamp = (path / MODEL_FILE).stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _cached(str(path), stamp)


@lru_cache(maxsize=4)
def _cached(path: str, stamp: int) -> Ranker:
    return Ranker.load(path, feature_names=USER_FEATURE_NAMES)
