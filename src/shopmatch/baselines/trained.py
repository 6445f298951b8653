"""What the trained classic baselines share: examples, the training loop, classes, saving, loading.

Both :class:`~shopmatch.baselines.linear.LinearMatcher` and
:class:`~shopmatch.baselines.two_tower_lstm.TwoTowerLSTM` are pair scorers trained from scratch
with binary cross-entropy on soft targets in [0, 1]. They share one interface:

- ``Model.fit(examples, *, dev=None, config=...) -> model`` where ``examples`` are
  :class:`~shopmatch.train.data.LabeledPair` objects (from judgments and a catalog),
  ``(query, text, target)`` tuples, or :class:`~shopmatch.judgments.Pair` rows of a pair set
  (integer classes; :mod:`shopmatch.baselines.examples`);
- ``score_pairs(pairs) -> (n,)`` probabilities, ``score(query, texts) -> (n,)``;
- ``predict_classes(pairs) -> (n,)`` integer classes;
- ``save(directory)`` / ``Model.load(directory)`` and :func:`load_baseline`, which dispatches on
  the ``kind`` in ``manifest.json``. Nothing is pickled: weights are ``safetensors`` or ``.npy``,
  vocabularies and settings JSON.

**Classes (pair sets).** A pair set with classes ``0 … C−1`` is trained as an ordinal
regression: the target of class ``k`` is ``k / (C − 1)``, and the score is mapped back to a class
by ``C − 1`` increasing thresholds chosen to maximize macro-F1 — on the dev set when there is one,
else on the training pairs (:func:`choose_thresholds`). Trained from graded judgments or plain
targets, a model has two classes with the threshold 0.5.

**Training** runs on the harness's from-scratch loop (:func:`shopmatch.train.loop.fit_module`):
the same early stopping as the transformer models — with a dev set the weights of the best epoch
are kept (the highest dev NDCG@10 when the dev examples carry query ids, else the lowest dev
loss) and training stops after ``patience`` epochs without improvement — checkpoints and resume
(``fit(..., checkpoints=DIR, resume=True)``), the summary and the device setting.

Example:
    >>> examples = [("red mug", "red coffee mug", 1.0), ("red mug", "garden hose", 0.0)] * 20
    >>> from shopmatch.baselines.linear import LinearMatcher, LinearMatcherConfig
    >>> model = LinearMatcher.fit(examples, config=LinearMatcherConfig(dim=8, min_count=1, epochs=2))
    >>> model.score("red mug", ["red coffee mug", "garden hose"]).shape
    (2,)
"""

from __future__ import annotations

import json
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from shopmatch.baselines.examples import Examples
from shopmatch.errors import IndexFormatError
from shopmatch.judgments import Pair
from shopmatch.settings import ConfigSection, setting
from shopmatch.store import MANIFEST, atomic_directory, read_manifest, write_manifest
from shopmatch.train.device import DEVICES
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)

M = TypeVar("M", bound="TrainedMatcher")

FORMAT_VERSION = 1
KINDS: dict[str, str] = {
    "shopmatch-baseline-linear": "shopmatch.baselines.linear:LinearMatcher",
    "shopmatch-baseline-lstm": "shopmatch.baselines.two_tower_lstm:TwoTowerLSTM",
}


# --------------------------------------------------------------------------- classes


def choose_thresholds(scores: np.ndarray, labels: np.ndarray, num_classes: int, *, grid: int = 200) -> list[float]:
    """``C − 1`` increasing score thresholds that maximize macro-F1 of the ordinal mapping.

    A score ``s`` gets class ``k`` = the number of thresholds ≤ ``s``. Coordinate ascent over a
    grid of score quantiles, started from thresholds that reproduce the class frequencies.

    Example:
        >>> choose_thresholds(np.array([0.1, 0.2, 0.6, 0.7]), np.array([0, 0, 1, 1]), 2)
        [0.4]
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    candidates = np.unique(np.quantile(scores, np.linspace(0, 1, grid + 1)))
    # start: thresholds at the cumulative class frequencies
    cumulative = np.cumsum(np.bincount(labels, minlength=num_classes))[:-1] / len(labels)
    thresholds = [float(np.quantile(scores, min(max(c, 0.0), 1.0))) for c in cumulative]

    def macro_f1(ts: list[float]) -> float:
        predicted = np.searchsorted(np.asarray(ts), scores, side="right")
        f1s = []
        for k in range(num_classes):
            tp = float(np.sum((predicted == k) & (labels == k)))
            denominator = float(np.sum(predicted == k) + np.sum(labels == k))
            f1s.append(2 * tp / denominator if denominator else 0.0)
        return float(np.mean(f1s))

    best = macro_f1(thresholds)
    for _ in range(4):
        improved = False
        for i in range(len(thresholds)):
            low = thresholds[i - 1] if i > 0 else -math.inf
            high = thresholds[i + 1] if i + 1 < len(thresholds) else math.inf
            for value in candidates[(candidates >= low) & (candidates <= high)]:
                trial = thresholds[:i] + [float(value)] + thresholds[i + 1 :]
                f1 = macro_f1(trial)
                if f1 > best + 1e-12:
                    best, thresholds, improved = f1, trial, True
        if not improved:
            break
    return thresholds


# --------------------------------------------------------------------------- training loop


@dataclass(frozen=True)
class TrainingConfig(ConfigSection):
    """Optimization settings shared by the trained baselines.

    Attributes:
        epochs: passes over the training examples (at most; see ``patience``).
        batch_size: examples per step.
        learning_rate: Adam's learning rate. weight_decay: AdamW's decoupled weight decay.
        patience: with a dev set, stop after this many epochs without improvement (0: never stop early).
        seed: seeds the weights' initialization and the order of the examples.
        log_every: steps between two loss points of the training summary.
        threads: torch CPU threads while training and scoring (0: leave torch's setting); 1 by
            default: these models are small, and one thread is reproducible and polite on a shared machine.
        device: ``auto`` (a CUDA GPU if there is one), ``cpu`` or ``cuda``.
    """

    SECTION = "baseline"

    epochs: int = setting(10, minimum=1)
    batch_size: int = setting(64, minimum=1)
    learning_rate: float = setting(1e-3, greater_than=0.0)
    weight_decay: float = setting(0.0, minimum=0.0)
    patience: int = setting(3, minimum=0)
    seed: int = setting(0, minimum=0)
    log_every: int = setting(20, minimum=1)
    threads: int = setting(1, minimum=0)
    device: str = setting("auto", choices=DEVICES)


class threads:  # noqa: N801 (used as a context manager, like torch.no_grad)
    """Set torch's CPU thread count inside a ``with`` block (0 leaves it alone)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.previous = 0

    def __enter__(self) -> None:
        if self.count:
            import torch

            self.previous = torch.get_num_threads()
            torch.set_num_threads(self.count)

    def __exit__(self, *exc: object) -> None:
        if self.count:
            import torch

            torch.set_num_threads(self.previous)


def dev_metric(dev: Examples | None) -> tuple[str, bool]:
    """The dev metric that picks the best epoch, and whether greater is better: NDCG@10 when the
    dev pairs carry query ids (judgments), else the dev loss."""
    if dev is not None and dev.query_ids is not None:
        return "dev_ndcg@10", True
    return "dev_loss", False


def dev_metrics(model: TrainedMatcher, dev: Examples) -> dict[str, float]:
    """Dev loss (BCE against the soft targets), dev NDCG@10 when the dev pairs carry query ids."""
    scores = np.clip(model.score_pairs(list(zip(dev.queries, dev.texts, strict=True))), 1e-7, 1 - 1e-7)
    t = dev.targets.astype(np.float64)
    metrics = {"dev_loss": float(-np.mean(t * np.log(scores) + (1 - t) * np.log(1 - scores)))}
    if dev.query_ids is not None:
        metrics["dev_ndcg@10"] = rerank_ndcg(dev.query_ids, dev.targets, scores)
    return metrics


def rerank_ndcg(query_ids: Sequence[str], gains: np.ndarray, scores: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k of re-ranking each query's pairs by ``scores`` (linear gains, ties keep input order).

    The same definition as :func:`~shopmatch.eval.metrics.ranking_metrics` (ideal ranking over the
    query's pairs; a query without a positive gain scores 0), in numpy: it runs after every epoch,
    and ranx's first call in a process costs seconds of compilation. Reported figures use ranx.

    Example:
        >>> round(rerank_ndcg(["q", "q"], np.array([1.0, 0.1]), np.array([1.0, 2.0])), 4)
        0.6876
    """
    gains = np.asarray(gains, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(query_ids):
        groups.setdefault(q, []).append(i)
    values = []
    for rows in groups.values():
        g = gains[rows]
        order = np.argsort(-scores[rows], kind="stable")[:k]
        discounts = 1.0 / np.log2(np.arange(2, len(order) + 2))
        ideal = float(np.sort(g)[::-1][:k] @ discounts)
        values.append(float(g[order] @ discounts) / ideal if ideal > 0 else 0.0)
    return float(np.mean(values)) if values else 0.0


# --------------------------------------------------------------------------- the common base class


class TrainedMatcher(ABC):
    """A pair scorer trained from scratch: the interface both trained baselines share.

    Subclasses implement :meth:`_logits`, :meth:`_save_weights`, :meth:`_load` and ``fit``.
    """

    KIND: ClassVar[str]

    def __init__(self) -> None:
        self.num_classes = 2
        self.thresholds: list[float] = [0.5]
        self.summary: TrainingSummary | None = None

    # -- scoring

    @abstractmethod
    def _logits(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """``(n,)`` float64 logits of the pairs."""

    def score_pairs(self, pairs: Sequence[tuple[str, str]] | Sequence[Any]) -> np.ndarray:
        """Relevance probabilities of ``(query, text)`` pairs (extra tuple items, such as a target, are ignored).

        Returns:
            ``(n,)`` float64 in (0, 1).
        """
        pairs = list(pairs)
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        queries = [p.text_a if isinstance(p, Pair) else p[0] for p in pairs]
        texts = [p.text_b if isinstance(p, Pair) else p[1] for p in pairs]
        logits = self._logits(queries, texts)
        return 1.0 / (1.0 + np.exp(-logits))

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Probabilities that each text matches ``query``: ``(n,)``."""
        return self.score_pairs([(query, t) for t in texts])

    def predict_classes(self, pairs: Sequence[tuple[str, str]] | Sequence[Any]) -> np.ndarray:
        """Integer classes ``(n,)``: the number of thresholds at or below each pair's score."""
        return self.classes_of(self.score_pairs(pairs))

    def classes_of(self, scores: np.ndarray) -> np.ndarray:
        """Scores → classes with the model's thresholds."""
        return np.searchsorted(np.asarray(self.thresholds), np.asarray(scores), side="right").astype(np.int64)

    def _fit_classes(self, train: Examples, dev: Examples | None) -> None:
        """Set ``num_classes`` and choose thresholds (pair sets only; else 2 classes at 0.5)."""
        self.num_classes = train.num_classes
        if train.labels is None:
            self.thresholds = [0.5]
            return
        chosen = dev if dev is not None and dev.labels is not None and len(dev) else train
        scores = self.score_pairs(list(zip(chosen.queries, chosen.texts, strict=True)))
        self.thresholds = choose_thresholds(scores, chosen.labels, self.num_classes)  # type: ignore[arg-type]
        logger.info(
            "class thresholds %s (chosen on the %s pairs)", self.thresholds, "dev" if chosen is dev else "training"
        )

    # -- persistence

    @abstractmethod
    def config_dict(self) -> dict[str, Any]:
        """The model's settings, as saved in the manifest."""

    @abstractmethod
    def _save_weights(self, directory: Path) -> dict[str, Any]:
        """Write weights and vocabularies into ``directory``; return extra manifest fields."""

    @classmethod
    @abstractmethod
    def _load(cls: type[M], directory: Path, manifest: dict[str, Any]) -> M:
        """Build the model from a checked manifest and the files next to it."""

    def save(self, directory: str | Path) -> Path:
        """Write the model directory atomically (manifest, weights, vocabulary, training summary).

        Returns:
            The directory.
        """
        directory = Path(directory)
        with atomic_directory(directory) as tmp:
            extra = self._save_weights(tmp)
            write_manifest(
                tmp,
                kind=self.KIND,
                format_version=FORMAT_VERSION,
                config=self.config_dict(),
                classes={"num_classes": self.num_classes, "thresholds": self.thresholds},
                **extra,
            )
            if self.summary is not None:
                self.summary.save(tmp)
        return directory

    @classmethod
    def load(cls: type[M], directory: str | Path) -> M:
        """Load a directory written by :meth:`save`.

        Raises:
            IndexFormatError: not a model of this kind, a newer format, missing or damaged files.
        """
        directory = Path(directory)
        manifest = read_manifest(directory, kind=cls.KIND, supported_version=FORMAT_VERSION)
        try:
            model = cls._load(directory, manifest)
            classes = manifest.get("classes") or {}
            model.num_classes = int(classes.get("num_classes", 2))
            model.thresholds = [float(t) for t in classes.get("thresholds", [0.5])]
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise IndexFormatError(f"{directory}: damaged {cls.KIND} directory ({error}); train it again") from None
        return model


def load_baseline(directory: str | Path) -> TrainedMatcher:
    """Load any trained baseline directory, whichever kind its ``manifest.json`` names.

    Example:
        >>> model = load_baseline("models/lstm")  # doctest: +SKIP
        >>> model.score("usb c charger", ["65W USB-C charger", "garden hose"])  # doctest: +SKIP
    """
    import importlib

    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise IndexFormatError(f"{directory}: not a shopmatch baseline model (no {MANIFEST})")
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("kind")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as error:
        raise IndexFormatError(f"{path}: damaged manifest ({error})") from None
    if kind not in KINDS:
        raise IndexFormatError(f"{directory}: is a {kind!r}, not a baseline model ({', '.join(KINDS)})")
    module_name, _, class_name = KINDS[kind].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.load(directory)
