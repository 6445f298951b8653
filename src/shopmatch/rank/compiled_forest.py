"""A LightGBM model's trees as flat arrays, walked by one compiled (numba) loop: the ranker's
prediction for one query's ~100 candidates without LightGBM's per-call overhead.

The walk is LightGBM's numerical split to the letter (a NaN counts as 0 unless the split sends
missing values one way; ``missing_type`` Zero / NaN send them the split's default way; otherwise
``value <= threshold`` goes left), the trees are summed in LightGBM's order in double precision,
and the thresholds and leaf values are read from the model's JSON dump at full precision, so the
scores are LightGBM's (``tests/rank/test_compiled_forest.py`` compares them). A model this module
does not cover (categorical or linear trees, several trees per iteration) is left to LightGBM:
:meth:`Forest.of` returns None.

Example:
    >>> import lightgbm as lgb
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(200, 3)), rng.integers(0, 3, 200)
    >>> booster = lgb.train({"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 5},
    ...                     lgb.Dataset(x, y, group=[20] * 10), num_boost_round=5)
    >>> forest = Forest.of(booster)
    >>> bool(np.array_equal(forest.predict(x), booster.predict(x)))
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_ZERO = 1e-35  # LightGBM's kZeroThreshold: |value| at most this is "zero" for missing_type Zero


@dataclass(frozen=True)
class Forest:
    """Every tree's nodes in one set of arrays. A child is a node index (>= 0) or ``-(leaf + 1)``;
    ``roots`` holds each tree's first node, a leaf for a one-leaf tree."""

    roots: np.ndarray  # int32, one per tree
    feature: np.ndarray  # int32, per node: the feature it splits on
    threshold: np.ndarray  # float64, per node
    left: np.ndarray  # int32, per node
    right: np.ndarray  # int32, per node
    missing: np.ndarray  # int8, per node: 0 None, 1 Zero, 2 NaN
    default_left: np.ndarray  # bool, per node: where missing values go
    leaf_value: np.ndarray  # float64, per leaf
    num_features: int

    @classmethod
    def of(cls, booster: Any, num_iteration: int | None = None) -> Forest | None:
        """The trees of ``booster`` (its first ``num_iteration`` iterations; None: all), or None
        for a model with other than numerical splits, linear trees or several trees per iteration."""
        model = booster.dump_model(num_iteration=num_iteration)
        if model.get("num_tree_per_iteration", 1) != 1 or model.get("linear_tree"):
            return None
        nodes: dict[str, list] = {k: [] for k in ("feature", "threshold", "left", "right", "missing", "default_left")}
        leaves: list[float] = []
        roots: list[int] = []

        def add(tree: dict[str, Any]) -> int | None:
            if "leaf_value" in tree:
                leaves.append(float(tree["leaf_value"]))
                return -len(leaves)  # -(leaf index + 1)
            if tree.get("decision_type") != "<=" or tree.get("missing_type") not in _MISSING:
                return None
            at = len(nodes["feature"])
            nodes["feature"].append(int(tree["split_feature"]))
            nodes["threshold"].append(float(tree["threshold"]))
            nodes["missing"].append(_MISSING[tree["missing_type"]])
            nodes["default_left"].append(bool(tree["default_left"]))
            nodes["left"].append(0)
            nodes["right"].append(0)
            left, right = add(tree["left_child"]), add(tree["right_child"])
            if left is None or right is None:
                return None
            nodes["left"][at], nodes["right"][at] = left, right
            return at

        for info in model["tree_info"]:
            root = add(info["tree_structure"])
            if root is None:
                return None
            roots.append(root)
        return cls(
            roots=np.asarray(roots, dtype=np.int32),
            feature=np.asarray(nodes["feature"], dtype=np.int32),
            threshold=np.asarray(nodes["threshold"], dtype=np.float64),
            left=np.asarray(nodes["left"], dtype=np.int32),
            right=np.asarray(nodes["right"], dtype=np.int32),
            missing=np.asarray(nodes["missing"], dtype=np.int8),
            default_left=np.asarray(nodes["default_left"], dtype=np.bool_),
            leaf_value=np.asarray(leaves, dtype=np.float64),
            num_features=int(model["max_feature_idx"]) + 1,
        )

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The summed tree outputs of each row of ``features`` (float64), as ``booster.predict``."""
        x = np.ascontiguousarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"the trees read {self.num_features} features, got shape {x.shape}")
        return _walk(
            x, self.roots, self.feature, self.threshold, self.left, self.right, self.missing, self.default_left,
            self.leaf_value,
        )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _walk(x, roots, feature, threshold, left, right, missing, default_left, leaf_value):  # pragma: no cover - compiled
    # tree by tree (its nodes stay in cache while every row walks it); each row still adds the
    # trees in LightGBM's order, so the sums are the same to the last bit
    out = np.zeros(x.shape[0], dtype=np.float64)
    for t in range(roots.shape[0]):
        for i in range(x.shape[0]):
            node = roots[t]
            while node >= 0:
                value = x[i, feature[node]]
                kind = missing[node]
                if kind != 0 or np.isnan(value):
                    if np.isnan(value) and kind != 2:
                        value = 0.0
                    if (kind == 1 and abs(value) <= _ZERO) or (kind == 2 and np.isnan(value)):
                        node = left[node] if default_left[node] else right[node]
                        continue
                node = right[node] if value > threshold[node] else left[node]
            out[i] += leaf_value[-node - 1]
    return out
