"""Two-tower BiLSTM matcher, trained from scratch: the classic neural baseline before transformers.

Each side of a pair goes through its own tower::

    tokens ─► embedding (shared by both towers) ─► bidirectional LSTM ─► masked max pooling ─► linear projection
    score = σ(u_query · v_product + b)

- **Tokens**: the project's :class:`~shopmatch.text.tokenize.Analyzer` with ``chinese="char"``:
  lower-cased, Snowball-stemmed English words (stopwords kept) and **single characters for
  Chinese**. The vocabulary is built from the training texts (tokens seen at least ``min_count``
  times); others map to ``[UNK]`` (id 1), padding is ``[PAD]`` (id 0). Padding is masked: the
  LSTM runs on packed sequences and pooling ignores padded positions. Texts are cut to
  ``max_query_tokens`` / ``max_text_tokens`` tokens.
- **Pooling**: max over time by default (``pooling="mean"``: masked mean).
- **Training**: binary cross-entropy on soft targets in [0, 1], AdamW, seeded (``torch.manual_seed``
  and a seeded generator for the order of examples); each batch encodes each distinct query once.
- Because the score is a dot product, product vectors can be computed once
  (:meth:`TwoTowerLSTM.encode_products`) and searched by inner product for retrieval.

Saved without pickle: ``weights.safetensors``, ``vocab.json`` and ``manifest.json`` (kind
``shopmatch-baseline-lstm``).

Example:
    >>> examples = [("红色杯子", "红色陶瓷杯子", 1.0), ("红色杯子", "蓝牙耳机", 0.0)] * 10
    >>> config = TwoTowerLSTMConfig(embedding_dim=8, hidden_dim=8, output_dim=8, min_count=1, epochs=2)
    >>> model = TwoTowerLSTM.fit(examples, config=config)
    >>> model.encode_products(["红色陶瓷杯子"]).shape
    (1, 8)
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopmatch.baselines.examples import Example, Examples, as_examples, with_random_negatives
from shopmatch.baselines.trained import TrainedMatcher, TrainingConfig, dev_metric, dev_metrics, threads
from shopmatch.settings import setting
from shopmatch.text.tokenize import Analyzer
from shopmatch.train.loop import fit_module
from shopmatch.train.summary import TrainingSummary

logger = logging.getLogger(__name__)

PAD, UNK = "[PAD]", "[UNK]"
POOLINGS = ("max", "mean")


@dataclass(frozen=True)
class TwoTowerLSTMConfig(TrainingConfig):
    """Settings of :class:`TwoTowerLSTM`: the network's, then the optimizer's (see :class:`TrainingConfig`).

    Attributes:
        embedding_dim: token embedding size (one table for both towers).
        hidden_dim: LSTM units per direction (the pooled vector has ``2 · hidden_dim``).
        output_dim: size of the projected query and product vectors.
        pooling: ``"max"`` or ``"mean"`` over the unpadded time steps.
        min_count: tokens seen fewer times in the training texts become ``[UNK]``.
        max_query_tokens, max_text_tokens: longer texts are cut.
        dropout: on the embeddings while training.
        random_negatives: add this many random negatives per training pair (the query with another
            query's product, target 0); 0 trains on the given pairs only. Judged candidates alone
            never show the towers an off-topic product, which retrieval over a catalog needs.
    """

    SECTION = "lstm"

    embedding_dim: int = setting(64, minimum=1)
    hidden_dim: int = setting(64, minimum=1)
    output_dim: int = setting(64, minimum=1)
    pooling: str = setting("max", choices=POOLINGS)
    min_count: int = setting(2, minimum=1)
    max_query_tokens: int = setting(16, minimum=1)
    max_text_tokens: int = setting(64, minimum=1)
    dropout: float = setting(0.1, minimum=0.0, less_than=1.0)
    random_negatives: int = setting(0, minimum=0)
    epochs: int = setting(8, minimum=1)
    batch_size: int = setting(64, minimum=1)
    learning_rate: float = setting(2e-3, greater_than=0.0)


def analyzer() -> Analyzer:
    """Lower-cased stemmed English words, single Chinese characters."""
    return Analyzer(stem=True, stopwords=False, chinese="char", identifiers=False)


def _network(vocab_size: int, config: TwoTowerLSTMConfig):
    import torch
    from torch import nn

    class Tower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(config.embedding_dim, config.hidden_dim, batch_first=True, bidirectional=True)
            self.projection = nn.Linear(2 * config.hidden_dim, config.output_dim)

        def forward(self, embedded, lengths, mask):
            packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            output, _ = self.lstm(packed)
            output, _ = nn.utils.rnn.pad_packed_sequence(
                output, batch_first=True, total_length=mask.shape[1]
            )  # (batch, time, 2·hidden)
            if config.pooling == "max":
                pooled = output.masked_fill(~mask[:, :, None], float("-inf")).max(dim=1).values  # (batch, 2·hidden)
            else:
                pooled = (output * mask[:, :, None]).sum(dim=1) / lengths[:, None].to(output.dtype)
            return self.projection(pooled)  # (batch, output_dim)

    class TwoTower(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=0)
            self.dropout = nn.Dropout(config.dropout)
            self.query_tower = Tower()
            self.product_tower = Tower()
            self.bias = nn.Parameter(torch.zeros(1))

        def encode(self, ids, lengths, tower: str):
            mask = ids != 0  # (batch, time)
            embedded = self.dropout(self.embedding(ids))  # (batch, time, embedding_dim)
            return (self.query_tower if tower == "query" else self.product_tower)(embedded, lengths, mask)

    return TwoTower()


class TwoTowerLSTM(TrainedMatcher):
    """Two BiLSTM towers and a dot product, trained from scratch with BCE.

    Example:
        >>> examples = [("usb cable", "usb c cable", 1.0), ("usb cable", "wool socks", 0.0)] * 10
        >>> config = TwoTowerLSTMConfig(embedding_dim=8, hidden_dim=8, output_dim=8, min_count=1, epochs=2)
        >>> model = TwoTowerLSTM.fit(examples, config=config)
        >>> model.score("usb cable", ["usb c cable", "wool socks"]).shape
        (2,)
    """

    KIND = "shopmatch-baseline-lstm"

    def __init__(self, vocabulary: list[str], network: Any, config: TwoTowerLSTMConfig) -> None:
        super().__init__()
        self.vocabulary = vocabulary
        self.token_ids = {t: i for i, t in enumerate(vocabulary)}
        self.network = network
        self.config = config
        self.analyzer = analyzer()

    # -- tokens

    def tokenize(self, text: str) -> list[str]:
        """The tokens the towers read (before the length cut)."""
        return self.analyzer(text)

    def ids(self, text: str, max_tokens: int) -> list[int]:
        """Token ids, cut to ``max_tokens``; unknown tokens are 1 (``[UNK]``); never empty."""
        ids = [self.token_ids.get(t, 1) for t in self.analyzer(text)[:max_tokens]]
        return ids or [1]

    @staticmethod
    def _batch(id_lists: Sequence[list[int]]):
        import torch

        lengths = torch.tensor([len(ids) for ids in id_lists], dtype=torch.int64)  # on the CPU, for packing
        padded = torch.zeros((len(id_lists), int(lengths.max())), dtype=torch.int64)  # (batch, time)
        for i, ids in enumerate(id_lists):
            padded[i, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
        return padded, lengths

    def _encode_ids(self, id_lists: Sequence[list[int]], tower: str):
        padded, lengths = self._batch(id_lists)
        device = self.network.bias.device
        return self.network.encode(padded.to(device), lengths, tower)

    def _encode(self, texts: Sequence[str], tower: str, batch_size: int = 256) -> np.ndarray:
        import torch

        limit = self.config.max_query_tokens if tower == "query" else self.config.max_text_tokens
        out = np.zeros((len(texts), self.config.output_dim), dtype=np.float32)  # (n, output_dim)
        self.network.eval()
        with threads(self.config.threads), torch.no_grad():
            for start in range(0, len(texts), batch_size):
                chunk = [self.ids(t, limit) for t in texts[start : start + batch_size]]
                out[start : start + len(chunk)] = self._encode_ids(chunk, tower).cpu().numpy()
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors ``(n, output_dim)`` float32."""
        return self._encode(list(texts), "query")

    def encode_products(self, texts: Sequence[str]) -> np.ndarray:
        """Product vectors ``(n, output_dim)`` float32; ``score = σ(query · product + bias)``."""
        return self._encode(list(texts), "product")

    @property
    def bias(self) -> float:
        return float(self.network.bias.detach()[0])

    def _logits(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        unique_q = list(dict.fromkeys(queries))
        unique_t = list(dict.fromkeys(texts))
        q = self.encode_queries(unique_q).astype(np.float64)  # (unique queries, dim)
        t = self.encode_products(unique_t).astype(np.float64)  # (unique texts, dim)
        q_row = {s: i for i, s in enumerate(unique_q)}
        t_row = {s: i for i, s in enumerate(unique_t)}
        qi = np.array([q_row[s] for s in queries])
        ti = np.array([t_row[s] for s in texts])
        return np.einsum("nd,nd->n", q[qi], t[ti]) + self.bias  # (n,)

    # -- training

    @classmethod
    def fit(
        cls,
        examples: Sequence[Example] | Examples,
        *,
        dev: Sequence[Example] | Examples | None = None,
        config: TwoTowerLSTMConfig | None = None,
        checkpoints: Path | None = None,
        resume: bool = False,
    ) -> TwoTowerLSTM:
        """Build the vocabulary from the training texts and train both towers.

        Args:
            examples: LabeledPairs, ``(query, text, target)`` tuples, or Pairs (integer classes).
            dev: examples of the same kind for early stopping and (pair sets) class thresholds.
            config: settings (default :class:`TwoTowerLSTMConfig`).
            checkpoints: a folder for one checkpoint per epoch; ``resume`` continues from the latest.

        Returns:
            The trained model; ``model.summary`` holds the training summary.
        """
        import torch

        config = config or TwoTowerLSTMConfig()
        train = as_examples(examples)
        dev_set = as_examples(dev, num_classes=train.num_classes if train.labels is not None else None) if dev else None
        given = len(train)
        train_for_classes = train
        train = with_random_negatives(train, config.random_negatives, config.seed)
        tokenizer = analyzer()
        counts: Counter[str] = Counter()
        for text in dict.fromkeys(train.queries + train.texts):
            counts.update(tokenizer(text))
        kept = sorted((t for t, c in counts.items() if c >= config.min_count), key=lambda t: (-counts[t], t))
        vocabulary = [PAD, UNK, *kept]
        logger.info("vocabulary: %d of %d tokens seen at least %d times", len(kept), len(counts), config.min_count)
        with threads(config.threads):
            torch.manual_seed(config.seed)
            network = _network(len(vocabulary), config)
            model = cls(vocabulary, network, config)
            query_ids = {q: model.ids(q, config.max_query_tokens) for q in dict.fromkeys(train.queries)}
            text_ids = {t: model.ids(t, config.max_text_tokens) for t in dict.fromkeys(train.texts)}
            cut = sum(len(tokenizer(t)) > config.max_text_tokens for t in text_ids)
            if cut:
                logger.info("%d of %d training texts cut to %d tokens", cut, len(text_ids), config.max_text_tokens)

            def batch_logits(indices: np.ndarray):
                queries = [train.queries[i] for i in indices]
                unique = list(dict.fromkeys(queries))
                row = {q: i for i, q in enumerate(unique)}
                u = model._encode_ids([query_ids[q] for q in unique], "query")  # (unique, dim)
                u = u[torch.as_tensor([row[q] for q in queries], device=u.device)]  # (batch, dim)
                v = model._encode_ids([text_ids[train.texts[i]] for i in indices], "product")  # (batch, dim)
                return (u * v).sum(dim=1) + network.bias  # (batch,)

            summary = TrainingSummary(
                model=f"{cls.KIND} ({config.pooling} pooling)",
                config=config.to_dict(),
                data={
                    "train_pairs": given,
                    "random_negatives": len(train) - given,
                    "dev_pairs": len(dev_set) if dev_set else 0,
                    "vocabulary": len(vocabulary),
                    "texts_cut": cut,
                },
            )
            metric, greater_is_better = dev_metric(dev_set)
            fit_module(
                network,
                batch_logits,
                train.targets,
                config,
                summary,
                evaluate=(lambda: dev_metrics(model, dev_set)) if dev_set is not None and len(dev_set) else None,
                metric=metric,
                greater_is_better=greater_is_better,
                description="two-tower LSTM",
                checkpoints=checkpoints,
                resume=resume,
                log_every=config.log_every,
            )
            model.summary = summary
            model._fit_classes(train_for_classes, dev_set)
            summary.data["thresholds"] = model.thresholds
        return model

    # -- persistence

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def _save_weights(self, directory: Path) -> dict[str, Any]:
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}
        save_file(state, str(directory / "weights.safetensors"))
        (directory / "vocab.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8")
        return {"vocabulary": len(self.vocabulary)}

    @classmethod
    def _load(cls, directory: Path, manifest: dict[str, Any]) -> TwoTowerLSTM:
        from safetensors.torch import load_file

        config = TwoTowerLSTMConfig.from_dict(manifest["config"])
        vocabulary = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        if not isinstance(vocabulary, list) or vocabulary[:2] != [PAD, UNK]:
            raise ValueError("vocab.json must be a list starting with [PAD], [UNK]")
        network = _network(len(vocabulary), config)
        network.load_state_dict(load_file(str(directory / "weights.safetensors")))
        network.eval()
        return cls(vocabulary, network, config)
