"""Classic matchers from the literature, in the same interfaces as the main models.

- averaged word2vec + cosine (unsupervised) is a retriever: :mod:`shopmatch.retrieval.word_vectors`.
- :class:`LinearMatcher`: ``σ(W·q + V·c + b)`` over averaged word vectors, optionally with
  interaction features; trained with BCE.
- :class:`TwoTowerLSTM`: two BiLSTM towers and a dot product, trained from scratch with BCE.
- :func:`load_baseline`: loads a trained baseline directory of either kind.

The trained ones run on the training harness's from-scratch loop (:mod:`shopmatch.train.loop`):
the same early stopping, checkpoints, summary and device setting as the transformer models.
"""

from shopmatch.baselines.linear import LinearMatcher, LinearMatcherConfig
from shopmatch.baselines.trained import TrainedMatcher, TrainingConfig, load_baseline
from shopmatch.baselines.two_tower_lstm import TwoTowerLSTM, TwoTowerLSTMConfig

__all__ = [
    "LinearMatcher",
    "LinearMatcherConfig",
    "TrainedMatcher",
    "TrainingConfig",
    "TwoTowerLSTM",
    "TwoTowerLSTMConfig",
    "load_baseline",
]
