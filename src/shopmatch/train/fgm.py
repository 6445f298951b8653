"""FGM adversarial training (Miyato et al. 2017, "Adversarial Training Methods for
Semi-Supervised Text Classification"): after the normal backward pass, the word embeddings of
the batch are pushed by ``epsilon · g / ‖g‖`` along their loss gradient ``g``, the loss is computed
and back-propagated again, and the embeddings are restored. The update then also fits the
worst nearby input, which makes the model less sensitive to small changes of wording.

The perturbation is added to the output of the word-embedding layer (through forward hooks), so
it works when the embedding matrix itself is frozen, as with LoRA.
"""

from __future__ import annotations

from typing import Any

import torch


class EmbeddingPerturbation:
    """Forward hooks on a word-embedding module: remember its output's gradient, add a perturbation.

    Example:
        >>> emb = torch.nn.Embedding(10, 4)
        >>> fgm = EmbeddingPerturbation(emb, epsilon=1.0)
        >>> out = emb(torch.tensor([[1, 2]]))
        >>> out.sum().backward()
        >>> fgm.attack()
        True
        >>> round(float((emb(torch.tensor([[1, 2]])) - out).detach().norm()), 4)
        1.0
        >>> fgm.restore()
    """

    def __init__(self, embeddings: torch.nn.Module, epsilon: float) -> None:
        self.epsilon = epsilon
        self._output: torch.Tensor | None = None
        self._delta: torch.Tensor | None = None
        self._handle = embeddings.register_forward_hook(self._hook)

    def _hook(self, module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
        if self._delta is not None and self._delta.shape == output.shape:
            return output + self._delta
        if torch.is_grad_enabled() and module.training:
            if not output.requires_grad:  # frozen embeddings (LoRA): make the output a leaf that gets a gradient
                output = output.detach().requires_grad_(True)
            output.retain_grad()
            self._output = output
            return output
        return None

    def attack(self) -> bool:
        """Set the perturbation from the last backward pass; False if there was no gradient."""
        if self._output is None or self._output.grad is None:
            return False
        grad = self._output.grad.detach()
        norm = torch.linalg.vector_norm(grad)
        if not torch.isfinite(norm) or norm == 0:
            return False
        self._delta = self.epsilon * grad / norm
        return True

    def restore(self) -> None:
        self._delta = None
        self._output = None

    def remove(self) -> None:
        self._handle.remove()


def fgm_training_step(trainer_cls: type) -> type:
    """A subclass of a Hugging Face ``Trainer`` class whose training step adds the FGM pass.

    The trainer instance needs ``fgm`` (an :class:`EmbeddingPerturbation`) set before training.
    """

    class FGMTrainer(trainer_cls):  # type: ignore[misc, valid-type]
        fgm: EmbeddingPerturbation | None = None

        def training_step(self, model, inputs, num_items_in_batch=None):
            loss = super().training_step(model, inputs, num_items_in_batch)
            if self.fgm is not None and self.fgm.attack():
                super().training_step(model, inputs, num_items_in_batch)  # adds the adversarial gradient
            if self.fgm is not None:
                self.fgm.restore()
            return loss

    FGMTrainer.__name__ = f"FGM{trainer_cls.__name__}"
    return FGMTrainer
