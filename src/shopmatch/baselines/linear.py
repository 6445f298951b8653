"""The linear matcher of the literature: ``score = σ(W·q + V·c + b)`` over averaged word vectors.

``q`` and ``c`` are the unit-length means of the word2vec vectors of the query's and the
product text's words (word2vec trained with gensim on the training texts, queries and products,
analyzed as in :mod:`~shopmatch.retrieval.word_vectors`: stemmed English words, jieba words and
single characters for Chinese). ``W``, ``V`` and ``b`` are learned by logistic regression with
binary cross-entropy on soft targets (PyTorch, AdamW, seeded).

This literal model is **additive** in ``q`` and ``c``: for one query ``W·q`` is a constant, so it
ranks a query's products by ``V·c`` alone — a query-independent "good product" prior. It is kept
as the literature's row. ``interaction=True`` adds the elementwise product ``q∘c`` and the cosine
``q·c`` as features, ``σ(W·q + V·c + U·(q∘c) + u·cos(q, c) + b)``, which can express "the product
is about the query".

Features are standardized while training (for a well-conditioned optimization) and the scaling is
folded back into ``W``, ``V``, ``U``, ``u`` and ``b`` afterwards, so the saved weights are the
model's literal parameters.

Saved without pickle: ``words.txt``, ``word_vectors.npy``, ``weights.safetensors`` (``W``, ``V``,
``b`` and with interactions ``U``, ``u``), ``manifest.json`` (kind ``shopmatch-baseline-linear``).

Example:
    >>> examples = [("red mug", "red coffee mug", 1.0), ("red mug", "garden hose", 0.0)] * 20
    >>> config = LinearMatcherConfig(dim=8, min_count=1, interaction=True, epochs=3)
    >>> model = LinearMatcher.fit(examples, config=config)
    >>> model.score_pairs([("red mug", "red coffee mug")]).shape
    (1,)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.baselines.examples import Example, Examples, as_examples
from shopmatch.baselines.trained import TrainedMatcher, TrainingConfig, dev_metric, dev_metrics, threads
from shopmatch.retrieval.word_vectors import WordVectorConfig, mean_word_vectors, train_word2vec, word_analyzer
from shopmatch.settings import setting
from shopmatch.train.device import resolve_device
from shopmatch.train.loop import fit_module
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinearMatcherConfig(TrainingConfig):
    """Settings of :class:`LinearMatcher`: word2vec's, then the optimizer's (see :class:`TrainingConfig`).

    Attributes:
        interaction: add ``q∘c`` and ``cos(q, c)`` features.
        dim, window, min_count, w2v_epochs, skip_gram: word2vec (gensim, one worker: reproducible).
    """

    SECTION = "linear"

    interaction: bool = False
    dim: int = setting(64, minimum=1)
    window: int = setting(5, minimum=1)
    min_count: int = setting(2, minimum=1)
    w2v_epochs: int = setting(10, minimum=1)
    skip_gram: bool = True
    epochs: int = setting(30, minimum=1)
    batch_size: int = setting(256, minimum=1)
    learning_rate: float = setting(1e-2, greater_than=0.0)
    weight_decay: float = setting(1e-4, minimum=0.0)


class LinearMatcher(TrainedMatcher):
    """``σ(W·q + V·c + b)`` (or with interaction features) over mean word2vec vectors.

    Example:
        >>> examples = [("usb cable", "usb c cable", 1.0), ("usb cable", "wool socks", 0.0)] * 20
        >>> model = LinearMatcher.fit(examples, config=LinearMatcherConfig(dim=8, min_count=1, epochs=2))
        >>> model.predict_classes([("usb cable", "usb c cable")]).shape
        (1,)
    """

    KIND = "shopmatch-baseline-linear"

    def __init__(self, words: list[str], word_vectors: np.ndarray, weights: dict[str, np.ndarray], config) -> None:
        super().__init__()
        self.words = words
        self.word_vectors = np.asarray(word_vectors, dtype=np.float32)  # (vocab, dim)
        self.word_ids = {w: i for i, w in enumerate(words)}
        self.weights = weights  # W (dim,), V (dim,), b (1,), and U (dim,), u (1,) with interactions
        self.config = config
        self.analyzer = word_analyzer()

    # -- features

    def mean_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length mean word vectors ``(n, dim)`` (zero for a text with no known word)."""
        unique = list(dict.fromkeys(texts))
        out = mean_word_vectors(self.analyzer.many(unique), self.word_ids, self.word_vectors)  # (unique, dim)
        row = {t: i for i, t in enumerate(unique)}
        return out[[row[t] for t in texts]]

    def features(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """``[q, c]`` or ``[q, c, q∘c, cos]``: ``(n, 2·dim)`` or ``(n, 3·dim + 1)`` float32."""
        q = self.mean_vectors(queries)  # (n, dim)
        c = self.mean_vectors(texts)  # (n, dim)
        parts = [q, c]
        if self.config.interaction:
            product = q * c  # (n, dim)
            parts += [product, product.sum(axis=1, keepdims=True)]  # cosine: both are unit (or zero)
        return np.concatenate(parts, axis=1)

    def _flat_weights(self) -> tuple[np.ndarray, float]:
        parts = [self.weights["W"], self.weights["V"]]
        if self.config.interaction:
            parts += [self.weights["U"], self.weights["u"]]
        return np.concatenate(parts).astype(np.float64), float(self.weights["b"][0])

    def _logits(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        coef, bias = self._flat_weights()
        return self.features(queries, texts).astype(np.float64) @ coef + bias  # (n,)

    # -- training

    @classmethod
    def fit(
        cls,
        examples: Sequence[Example] | Examples,
        *,
        dev: Sequence[Example] | Examples | None = None,
        config: LinearMatcherConfig | None = None,
        checkpoints: Path | None = None,
        resume: bool = False,
    ) -> LinearMatcher:
        """Train word2vec on the training texts, then the logistic regression.

        Args:
            examples: LabeledPairs, ``(query, text, target)`` tuples, or Pairs (integer classes).
            dev: examples of the same kind for early stopping and (pair sets) class thresholds.
            config: settings (default :class:`LinearMatcherConfig`).
            checkpoints: a folder for one checkpoint per epoch; ``resume`` continues from the latest.

        Returns:
            The trained model; ``model.summary`` holds the training summary.
        """
        import torch

        config = config or LinearMatcherConfig()
        train = as_examples(examples)
        dev_set = as_examples(dev, num_classes=train.num_classes if train.labels is not None else None) if dev else None
        with threads(config.threads):
            started = time.perf_counter()
            analyzer = word_analyzer()
            sentences = [s for s in analyzer.many(list(dict.fromkeys(train.queries + train.texts))) if s]
            w2v_config = WordVectorConfig(
                dim=config.dim,
                window=config.window,
                min_count=config.min_count,
                epochs=config.w2v_epochs,
                skip_gram=config.skip_gram,
                seed=config.seed,
            )
            words, word_vectors = train_word2vec(sentences, w2v_config)
            logger.info("word2vec: %d words in %.1f s", len(words), time.perf_counter() - started)
            dim = config.dim
            zeros = {"W": np.zeros(dim, np.float32), "V": np.zeros(dim, np.float32), "b": np.zeros(1, np.float32)}
            if config.interaction:
                zeros |= {"U": np.zeros(dim, np.float32), "u": np.zeros(1, np.float32)}
            model = cls(words, word_vectors, zeros, config)

            x = model.features(train.queries, train.texts)  # (n, features)
            mean = x.mean(axis=0)
            std = x.std(axis=0)
            std[std < 1e-8] = 1.0
            x_std = torch.as_tensor((x - mean) / std).to(resolve_device(config.device))
            torch.manual_seed(config.seed)
            linear = torch.nn.Linear(x.shape[1], 1)

            def fold_back() -> None:
                # σ(w·(x − μ)/σ + b) = σ((w/σ)·x + b − Σ w μ/σ): store the literal parameters
                w = linear.weight.detach().cpu().numpy()[0].astype(np.float64) / std
                b = float(linear.bias.detach().cpu().numpy()[0]) - float(np.dot(w, mean))
                model.weights = {"W": w[:dim], "V": w[dim : 2 * dim], "b": np.array([b])}
                if config.interaction:
                    model.weights |= {"U": w[2 * dim : 3 * dim], "u": w[3 * dim : 3 * dim + 1]}
                model.weights = {k: np.asarray(v, dtype=np.float32) for k, v in model.weights.items()}

            def evaluate() -> dict[str, float]:
                fold_back()
                return dev_metrics(model, dev_set)  # type: ignore[arg-type]

            summary = TrainingSummary(
                model=f"{cls.KIND}{' (interaction)' if config.interaction else ''}",
                config=config.to_dict(),
                data={"train_pairs": len(train), "dev_pairs": len(dev_set) if dev_set else 0, "words": len(words)},
            )
            metric, greater_is_better = dev_metric(dev_set)
            fit_module(
                linear,
                lambda idx: linear(x_std[idx])[:, 0],  # (batch,)
                train.targets,
                config,
                summary,
                evaluate=evaluate if dev_set is not None and len(dev_set) else None,
                metric=metric,
                greater_is_better=greater_is_better,
                description="linear" + (" + interaction" if config.interaction else ""),
                checkpoints=checkpoints,
                resume=resume,
                log_every=config.log_every,
            )
            fold_back()
            model.summary = summary
            model._fit_classes(train, dev_set)
            summary.data["thresholds"] = model.thresholds
        return model

    # -- persistence

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def _save_weights(self, directory: Path) -> dict[str, Any]:
        from safetensors.numpy import save_file

        (directory / "words.txt").write_text("".join(w + "\n" for w in self.words), encoding="utf-8")
        np.save(directory / "word_vectors.npy", self.word_vectors)
        save_file(
            {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in self.weights.items()},
            str(directory / "weights.safetensors"),
        )
        return {"words": len(self.words)}

    @classmethod
    def _load(cls, directory: Path, manifest: dict[str, Any]) -> LinearMatcher:
        from safetensors.numpy import load_file

        config = LinearMatcherConfig.from_dict(manifest["config"])
        words = (directory / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]
        vectors = np.load(directory / "word_vectors.npy", allow_pickle=False)
        if len(words) != len(vectors):
            raise ValueError(f"{len(words)} words but {len(vectors)} word vectors")
        weights = load_file(str(directory / "weights.safetensors"))
        return cls(words, vectors, weights, config)
