"""What the trained classic baselines share: examples, the training loop, classes, saving, loading.

Both :class:`~shopmatch.baselines.linear.LinearMatcher` and
:class:`~shopmatch.baselines.two_tower_lstm.TwoTowerLSTM` are pair scorers trained from scratch
with binary cross-entropy on soft targets in [0, 1]. They share one interface:

- ``Model.fit(examples, *, dev=None, config=...) -> model`` where ``examples`` are
  :class:`~shopmatch.train.data.LabeledPair` objects (from judgments and a catalog),
  ``(query, text, target)`` tuples, or :class:`~shopmatch.judgments.Pair` rows of a pair set
  (integer classes);
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

**Early stopping.** With a dev set the weights of the best epoch are kept: the highest dev
NDCG@10 when the dev examples carry query ids (judgments), else the lowest dev loss. Training
stops after ``patience`` epochs without improvement.

Example:
    >>> examples = [("red mug", "red coffee mug", 1.0), ("red mug", "garden hose", 0.0)] * 20
    >>> from shopmatch.baselines.linear import LinearMatcher, LinearMatcherConfig
    >>> model = LinearMatcher.fit(examples, config=LinearMatcherConfig(dim=8, min_count=1, epochs=2))
    >>> model.score("red mug", ["red coffee mug", "garden hose"]).shape
    (2,)
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from shopmatch.errors import ConfigError, DataError, IndexFormatError
from shopmatch.judgments import Pair
from shopmatch.progress import track
from shopmatch.store import MANIFEST, atomic_directory, read_manifest, write_manifest
from shopmatch.train.data import LabeledPair
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)

Example = LabeledPair | Pair | tuple[str, str, float]
M = TypeVar("M", bound="TrainedMatcher")

FORMAT_VERSION = 1
KINDS: dict[str, str] = {
    "shopmatch-baseline-linear": "shopmatch.baselines.linear:LinearMatcher",
    "shopmatch-baseline-lstm": "shopmatch.baselines.two_tower_lstm:TwoTowerLSTM",
}


# --------------------------------------------------------------------------- examples


@dataclass
class Examples:
    """Training or dev examples in columns.

    Attributes:
        queries, texts: the two sides of each pair.
        targets: ``(n,)`` float32 targets in [0, 1].
        query_ids: one per pair when the examples came from judgments (enables dev NDCG@10), else None.
        labels: ``(n,)`` integer classes when the examples came from a pair set, else None.
        num_classes: ``C`` for a pair set, else 2.
    """

    queries: list[str]
    texts: list[str]
    targets: np.ndarray
    query_ids: list[str] | None = None
    labels: np.ndarray | None = None
    num_classes: int = 2

    def __len__(self) -> int:
        return len(self.queries)


def as_examples(examples: Sequence[Example] | Examples, *, num_classes: int | None = None) -> Examples:
    """Turn LabeledPairs, Pairs or ``(query, text, target)`` tuples into :class:`Examples`.

    Args:
        examples: all of one kind.
        num_classes: for Pairs: ``C`` (default: the largest label + 1, at least 2).

    Raises:
        DataError: no examples, mixed kinds, a target outside [0, 1], a class ≥ ``num_classes``.
    """
    if isinstance(examples, Examples):
        return examples
    examples = list(examples)
    if not examples:
        raise DataError("no training examples")
    first = examples[0]
    if isinstance(first, Pair):
        if not all(isinstance(e, Pair) for e in examples):
            raise DataError("examples mix pair-set rows with other kinds")
        labels = np.array([e.label for e in examples], dtype=np.int64)
        classes = num_classes if num_classes is not None else max(int(labels.max()) + 1, 2)
        if labels.max() >= classes:
            raise DataError(f"class {int(labels.max())} in the examples, but the model knows {classes} classes")
        return Examples(
            [e.text_a for e in examples],
            [e.text_b for e in examples],
            (labels / (classes - 1)).astype(np.float32),
            labels=labels,
            num_classes=classes,
        )
    if isinstance(first, LabeledPair):
        if not all(isinstance(e, LabeledPair) for e in examples):
            raise DataError("examples mix LabeledPairs with other kinds")
        out = Examples(
            [e.query for e in examples],
            [e.text for e in examples],
            np.array([e.target for e in examples], dtype=np.float32),
            query_ids=[e.query_id for e in examples] if all(e.query_id for e in examples) else None,
        )
    else:
        try:
            out = Examples(
                [str(e[0]) for e in examples],
                [str(e[1]) for e in examples],
                np.array([float(e[2]) for e in examples], dtype=np.float32),
            )
        except (TypeError, IndexError, ValueError) as error:
            raise DataError(f"examples must be (query, text, target) tuples: {error}") from None
    bad = np.flatnonzero(~((out.targets >= 0) & (out.targets <= 1)))
    if bad.size:
        raise DataError(f"{bad.size} target(s) outside [0, 1] (first: example {bad[0]}, {out.targets[bad[0]]})")
    return out


def with_random_negatives(examples: Examples, per_pair: int, seed: int) -> Examples:
    """Add ``per_pair`` random negatives (target 0) for every pair: the same query with the text of
    a pair of another query, drawn with a seeded generator.

    Judged candidates are all about their query; a model trained on them alone never sees an
    off-topic product, which retrieval over a whole catalog needs. Classes, if any, become 0.

    Example:
        >>> e = as_examples([("mug", "red mug", 1.0), ("sofa", "blue sofa", 1.0)])
        >>> [(q, t) for q, t in zip(*(lambda x: (x.queries, x.texts))(with_random_negatives(e, 1, 0)))][2:]
        [('mug', 'blue sofa'), ('sofa', 'red mug')]
    """
    if per_pair <= 0:
        return examples
    groups = examples.query_ids or examples.queries
    texts_of: dict[str, set[str]] = {}
    for g, t in zip(groups, examples.texts, strict=True):
        texts_of.setdefault(g, set()).add(t)
    rng = np.random.default_rng(seed)
    queries, texts, ids = [], [], []
    n = len(examples)
    for i in range(n):
        for _ in range(per_pair):
            for _attempt in range(10):
                j = int(rng.integers(n))
                if examples.texts[j] not in texts_of[groups[i]]:
                    queries.append(examples.queries[i])
                    texts.append(examples.texts[j])
                    ids.append(groups[i])
                    break
    extra = len(queries)
    return Examples(
        examples.queries + queries,
        examples.texts + texts,
        np.concatenate([examples.targets, np.zeros(extra, dtype=np.float32)]),
        query_ids=examples.query_ids + ids if examples.query_ids is not None else None,
        labels=np.concatenate([examples.labels, np.zeros(extra, dtype=np.int64)])
        if examples.labels is not None
        else None,
        num_classes=examples.num_classes,
    )


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
class TrainingConfig:
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
    """

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 3
    seed: int = 0
    log_every: int = 20
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("patience", "seed", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be non-negative, got {self.weight_decay!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} key(s): {', '.join(unknown)}")
        return cls(**data)


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


def train_loop(
    module: Any,
    batch_logits: Callable[[np.ndarray], Any],
    targets: np.ndarray,
    config: TrainingConfig,
    summary: TrainingSummary,
    *,
    evaluate: Callable[[], dict[str, float]] | None = None,
    description: str = "training",
) -> None:
    """Minimize BCE of ``batch_logits(indices)`` against ``targets[indices]`` with AdamW.

    Args:
        module: the ``torch.nn.Module`` whose parameters are trained; on return it holds the
            weights of the best dev epoch (or of the last epoch without a dev set).
        batch_logits: example indices ``(batch,)`` → logits ``(batch,)``.
        targets: ``(n,)`` soft targets in [0, 1].
        evaluate: dev metrics after each epoch (``dev_ndcg@10`` is maximized when present, else
            ``dev_loss`` minimized).
        summary: receives the loss curve, the per-epoch metrics and the best epoch.
    """
    import torch

    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    target_tensor = torch.as_tensor(np.asarray(targets, dtype=np.float32))
    n = len(target_tensor)
    steps_per_epoch = math.ceil(n / config.batch_size)
    best_value: float | None = None
    best_state = None
    stale = 0
    step = 0
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.perf_counter()
        module.train()
        order = torch.randperm(n, generator=generator).numpy()
        running, running_count = 0.0, 0
        batches = range(steps_per_epoch)
        for b in track(batches, total=steps_per_epoch, description=f"{description}, epoch {epoch}/{config.epochs}"):
            indices = order[b * config.batch_size : (b + 1) * config.batch_size]
            logits = batch_logits(indices)  # (batch,)
            loss = loss_fn(logits, target_tensor[indices])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            running += float(loss.detach()) * len(indices)
            running_count += len(indices)
            if step % config.log_every == 0 or b == steps_per_epoch - 1:
                summary.log_loss(step=step, epoch=epoch - 1 + (b + 1) / steps_per_epoch, loss=running / running_count)
                running, running_count = 0.0, 0
        metrics: dict[str, float] = {}
        if evaluate is not None:
            module.eval()
            metrics = evaluate()
        summary.log_epoch(epoch=epoch, seconds=time.perf_counter() - epoch_started, metrics=metrics)
        last_loss = summary.losses[-1]["loss"] if summary.losses else float("nan")
        logger.info("%s: epoch %d, training loss %.4f, %s", description, epoch, last_loss, metrics or "no dev set")
        if not metrics:
            continue
        if "dev_ndcg@10" in metrics:
            value = metrics["dev_ndcg@10"]
        else:
            value = -metrics["dev_loss"]
        if best_value is None or value > best_value + 1e-9:
            best_value, stale = value, 0
            best_state = copy.deepcopy(module.state_dict())
            summary.best_epoch = epoch
        else:
            stale += 1
            if config.patience and stale >= config.patience:
                logger.info("%s: no dev improvement for %d epochs, stopping", description, stale)
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    summary.seconds = round(time.perf_counter() - started, 2)


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
