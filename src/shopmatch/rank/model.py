"""A LightGBM LambdaMART ranker: train from grouped features and graded labels, save, load, predict, explain.

A ranker directory holds ``model.txt`` (LightGBM's text model) and ``ranker.json`` (kind
``shopmatch-ranker``, the feature names and version, the training summary); nothing is pickled.
A ranker may have a ``base``: a rank feature (``fused_rank``, ``lexical_rank``, …) whose order it
starts from; its score is ``-ln(rank)`` plus the trees' (trained as corrections of that order,
LightGBM's ``init_score``), or that order alone without ``model.txt`` (:meth:`Ranker.order`, the
fallback :func:`shopmatch.rank.selection.fit_ranker` ships when no tree model beats it held out).

Example:
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [0.0], [1.0]], dtype=np.float32)
    >>> ranker = Ranker.train(X, np.array([0, 2, 0, 2]), [2, 2], ("signal",), rounds=5, min_data_in_leaf=1)
    >>> bool(ranker.predict(X[:2])[1] > ranker.predict(X[:2])[0])
    True
    >>> int(Ranker.order("rank", ("rank",)).predict(np.array([[2.0], [1.0]])).argmax())
    1
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.errors import ShopmatchError
from shopmatch.extras import require

if TYPE_CHECKING:
    from shopmatch.rank.compiled_forest import Forest

RANKER_KIND = "shopmatch-ranker"
MODEL_FILE = "model.txt"
MANIFEST_FILE = "ranker.json"


class RankerError(ShopmatchError):
    """A ranker directory that cannot be read; the message names the file."""


@dataclass
class Ranker:
    """A trained LambdaMART model and the feature names it reads, in order."""

    booster: Any
    feature_names: tuple[str, ...]
    feature_version: int = 1
    summary: dict[str, Any] = field(default_factory=dict)
    base: str | None = None  # a rank feature: the score starts at -ln(rank) (booster None: that order alone)
    groups: tuple[Any, ...] = ()  # feature groups (shopmatch.rank.feature_groups), read after the base features
    _forest: Any = field(default=None, init=False, repr=False, compare=False)  # Forest, False: LightGBM's walk

    @classmethod
    def order(cls, base: str, feature_names: Sequence[str], *, feature_version: int = 1) -> Ranker:
        """The order of one rank feature (``"lexical_rank"``: the lexical retriever's), no trees."""
        _check_base(base, feature_names)
        return cls(None, tuple(feature_names), feature_version, {"kind": "order", "base": base}, base)

    def base_scores(self, features: np.ndarray) -> np.ndarray:
        """``-ln(rank)`` of the base feature (0 without a base): the order the trees correct."""
        return base_scores(features, self.feature_names, self.base)

    @classmethod
    def train(
        cls,
        features: np.ndarray,
        labels: np.ndarray,
        groups: Sequence[int],
        feature_names: Sequence[str],
        *,
        valid: tuple[np.ndarray, np.ndarray, Sequence[int]] | None = None,
        rounds: int = 300,
        early_stopping: int = 30,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_data_in_leaf: int | None = None,
        seed: int = 0,
        feature_version: int = 1,
        weights: np.ndarray | None = None,
        positions: np.ndarray | None = None,
        objective: dict[str, Any] | None = None,
        label_gain: Sequence[float] | None = None,
        monotone: dict[str, int] | None = None,
        base: str | None = None,
        **extra: Any,
    ) -> Ranker:
        """LambdaMART (``objective=lambdarank``) on ``features`` (rows grouped by query, ``groups`` the
        group sizes in order) with integer graded ``labels``; with ``valid`` (features, labels,
        groups of held-out queries), early stopping on its NDCG@10. ``min_data_in_leaf`` defaults to
        20, fewer (a tenth of the rows) on small data. ``label_gain``: each grade's gain (default
        LightGBM's ``2**grade - 1``); ``monotone``: feature name → +1 (the score may only rise with
        it) or −1; ``base``: a rank feature whose order (``-ln(rank)``) the trees correct (``init_score``).
        ``weights`` (per row) and ``positions`` (the 0-based place each row was shown at: LightGBM's
        position-debiased lambdarank) are for learning from events (:mod:`shopmatch.rank.from_events`);
        ``objective`` and ``extra`` add LightGBM parameters (``lambda_l2``, ``feature_fraction``, …)."""
        require("rank", "the learned ranker")
        import lightgbm as lgb

        params = {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [10],
            "learning_rate": learning_rate,
            "num_leaves": num_leaves,
            "min_data_in_leaf": min_data_in_leaf or min(20, max(1, len(features) // 10)),
            "seed": seed,
            "deterministic": True,
            "num_threads": 1,
            "verbosity": -1,
            **(objective or {}),
            **extra,
        }
        if label_gain is not None:
            params["label_gain"] = [float(g) for g in label_gain]
        if monotone:
            params["monotone_constraints"] = [int(monotone.get(n, 0)) for n in feature_names]
        names = [_lgb_name(n) for n in feature_names]
        if base is not None:
            _check_base(base, feature_names)
        train_set = lgb.Dataset(
            features,
            np.asarray(labels, dtype=np.int32),
            group=list(groups),
            feature_name=names,
            weight=weights,
            position=positions,
            init_score=base_scores(features, feature_names, base) if base else None,
        )
        callbacks, valid_sets = [], []
        if valid is not None:
            vx, vy, vg = valid
            init = base_scores(vx, feature_names, base) if base else None
            valid_sets = [
                lgb.Dataset(vx, np.asarray(vy, dtype=np.int32), group=list(vg), reference=train_set, init_score=init)
            ]
            callbacks.append(lgb.early_stopping(early_stopping, verbose=False))
        booster = lgb.train(params, train_set, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks)
        summary = {
            "rows": int(len(features)),
            "queries": len(groups),
            "rounds": int(booster.best_iteration or booster.current_iteration()),
            "params": {k: v for k, v in params.items() if k not in ("verbosity", "num_threads")},
        }
        if valid is not None:
            summary["valid_queries"] = len(valid[2])
            summary["valid_ndcg@10"] = float(booster.best_score["valid_0"]["ndcg@10"])
        if base:
            summary["base"] = base
        ranker = cls(booster, tuple(feature_names), feature_version, summary, base)
        ranker.summary["importance"] = ranker.importances()
        return ranker

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Scores of feature rows (higher = better), float64."""
        if features.shape[1] != len(self.feature_names):
            raise ShopmatchError(f"the ranker reads {len(self.feature_names)} features, got {features.shape[1]}")
        if not len(features):
            return np.zeros(0, dtype=np.float64)
        scores = self.base_scores(features)
        if self.booster is None:
            return scores
        if self.forest is not None:  # the same scores without LightGBM's per-call overhead
            return scores + self.forest.predict(features)
        # one thread: a query's 100 candidates are too few to share out, and OpenMP's threads cost
        # milliseconds on a busy machine (13 ms → 1.1 ms for 300 trees, bench/ranker_latency.py)
        trees = self.booster.predict(np.ascontiguousarray(features), num_iteration=self._iterations(), num_threads=1)
        return scores + np.asarray(trees, dtype=np.float64)

    @property
    def forest(self) -> Forest | None:
        """The trees as flat arrays walked by compiled code (:mod:`shopmatch.rank.compiled_forest`),
        built on first use; None for a model it does not cover (LightGBM walks those)."""
        if self._forest is None and self.booster is not None:
            from shopmatch.rank.compiled_forest import Forest

            self._forest = Forest.of(self.booster, self._iterations()) or False
        return self._forest or None

    def importances(self) -> dict[str, float]:
        """Each feature's total gain in the trees (an order alone: 1 for its feature), largest first."""
        if self.booster is None:
            gains = np.array([float(n == self.base) for n in self.feature_names])
        else:
            gains = self.booster.feature_importance(importance_type="gain", iteration=self._iterations())
        pairs = sorted(zip(self.feature_names, gains.tolist(), strict=True), key=lambda p: -p[1])
        return {name: round(float(gain), 6) for name, gain in pairs}

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """One feature row's score split by feature (LightGBM ``pred_contrib``, SHAP values), plus ``bias``;
        they sum to the score."""
        base = float(self.base_scores(row.reshape(1, -1))[0])
        if self.booster is None:
            values = np.zeros(len(self.feature_names) + 1)
        else:
            values = self.booster.predict(
                row.reshape(1, -1), pred_contrib=True, num_iteration=self._iterations(), num_threads=1
            )[0]
        out = {name: float(v) for name, v in zip(self.feature_names, values[:-1], strict=True)}
        if self.base:
            out[self.base] += base  # the base order counts for its feature
        out["bias"] = float(values[-1])
        return out

    def _iterations(self) -> int | None:
        if self.booster is None:
            return None
        best = self.booster.best_iteration
        return best if best and best > 0 else None

    # ---- a ranker directory ----------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``model.txt`` and ``ranker.json`` into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {
            "kind": RANKER_KIND,
            "feature_version": self.feature_version,
            "features": list(self.feature_names),
            "summary": self.summary,
        }
        if self.groups:
            manifest["feature_groups"] = [group.name for group in self.groups]
            for group in self.groups:
                group.save(directory)
        if self.base:
            manifest["base"] = self.base
        if self.booster is None:
            (directory / MODEL_FILE).unlink(missing_ok=True)
        else:
            self.booster.save_model(str(directory / MODEL_FILE), num_iteration=self._iterations())
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, feature_names: Sequence[str] | None = None) -> Ranker:
        """Read a ranker directory; with ``feature_names``, refuse a model that reads other features.

        Raises:
            RankerError: a missing or damaged file, or other features; the message names the file.
        """
        require("rank", "the learned ranker")
        import lightgbm as lgb

        directory = Path(directory)
        manifest_path, model_path = directory / MANIFEST_FILE, directory / MODEL_FILE
        if not directory.is_dir():
            raise RankerError(f"{directory}: no such ranker directory")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RankerError(f"{manifest_path}: not found; is {directory} a ranker directory?") from None
        except (OSError, ValueError) as err:
            raise RankerError(f"{manifest_path}: unreadable ranker manifest ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("kind") != RANKER_KIND:
            raise RankerError(f"{manifest_path}: not a shopmatch ranker manifest (kind {RANKER_KIND!r} expected)")
        names = tuple(manifest.get("features") or ())
        from shopmatch.rank.feature_groups import group_names, load_groups

        try:
            groups = load_groups(directory, list(manifest.get("feature_groups") or ()))
        except ShopmatchError as err:
            raise RankerError(str(err)) from None
        if feature_names is not None and names != tuple(feature_names) + group_names(groups):
            raise RankerError(
                f"{manifest_path}: the model reads other features (version {manifest.get('feature_version')}); "
                "train it again with this version"
            )
        base = manifest.get("base")
        if base is not None and (not isinstance(base, str) or base not in names):
            raise RankerError(f"{manifest_path}: 'base' must name one of the model's features, not {base!r}")
        version, summary = int(manifest.get("feature_version", 1)), dict(manifest.get("summary") or {})
        if base is not None and not model_path.exists():  # an order alone
            return cls(None, names, version, summary, base, groups)
        if not model_path.is_file():
            raise RankerError(f"{model_path}: not found; the ranker directory is incomplete")
        try:
            booster = lgb.Booster(model_file=str(model_path))
        except lgb.basic.LightGBMError as err:
            raise RankerError(f"{model_path}: not a LightGBM model ({err})") from None
        if booster.num_feature() != len(names):
            raise RankerError(
                f"{model_path}: the model reads {booster.num_feature()} features, the manifest {len(names)}"
            )
        return cls(booster, names, version, summary, base, groups)


def base_scores(features: np.ndarray, feature_names: Sequence[str], base: str | None) -> np.ndarray:
    """``-ln(rank)`` of the ``base`` rank feature of each row (ranks below 1 count as 1); zeros without a base.

    Example:
        >>> base_scores(np.array([[1.0], [4.0]]), ("fused_rank",), "fused_rank").round(3).tolist()
        [-0.0, -1.386]
    """
    if not base:
        return np.zeros(len(features), dtype=np.float64)
    ranks = features[:, list(feature_names).index(base)].astype(np.float64)
    return -np.log(np.maximum(ranks, 1.0))


def _check_base(base: str, feature_names: Sequence[str]) -> None:
    if base not in feature_names:
        raise ShopmatchError(f"the base order {base!r} is not one of the features")


def _lgb_name(name: str) -> str:
    """LightGBM refuses some characters in feature names (``@`` and JSON specials)."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def configured_ranker(model: str) -> Ranker | None:
    """The ranker ``[ranker] model`` names (None when empty), loaded once per directory and version.

    Raises:
        RankerError: see :meth:`Ranker.load`.
    """
    if not model:
        return None
    path = Path(model).resolve()
    try:
        stamp = max(
            ((path / name).stat().st_mtime_ns for name in (MANIFEST_FILE, MODEL_FILE) if (path / name).exists()),
            default=0,
        )
    except OSError:
        stamp = 0
    return _cached_ranker(str(path), stamp)


@lru_cache(maxsize=8)
def _cached_ranker(path: str, stamp: int) -> Ranker:
    from shopmatch.rank.features import FEATURE_NAMES

    return Ranker.load(path, feature_names=FEATURE_NAMES)
