"""Cross-encoder models for training: loading a start model with the head it needs, LoRA, fewer layers.

A start model is a bundled name or a local model directory: a plain encoder (e.g. the bundled
bi-encoder's BERT), a trained cross-encoder with BERT's ``[CLS]`` classifier, or one with the
mean-token head (sentence-transformers modules Transformer → Pooling → Dense). :func:`resolved_head`
says which head a training run gets; :func:`load_cross_encoder` builds it.

Example:
    >>> model = load_cross_encoder("all-MiniLM-L6-v2", head="mean", max_layers=2)  # doctest: +SKIP
    >>> model.predict([("red mug", "Red ceramic mug")]).shape  # doctest: +SKIP
    (1,)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopmatch.encoders.models import resolve_model_dir
from shopmatch.errors import ConfigError

if TYPE_CHECKING:
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig

logger = logging.getLogger(__name__)


def resolved_head(config: CrossEncoderTrainConfig, model_dir: str | Path) -> str:
    """The head (``cls`` or ``mean``) a re-ranker trained from ``model_dir`` with ``config`` gets.

    ``auto`` keeps the head a trained cross-encoder already has (mean-token or ``[CLS]``). A model
    without one (e.g. the bundled bi-encoder) gets the mean-token head — on esci-us-150 it
    re-ranks better than a new ``[CLS]`` head (docs/experiments/2026-11-25-cross-encoder-reranking.md) — and ``[CLS]``
    with LoRA. Pair classifiers always use ``[CLS]`` (:func:`train_pair_classifier`).

    Raises:
        ConfigError: ``model_dir`` has a mean-token head and ``config`` asks for ``cls`` or LoRA
            (that head cannot be swapped for a ``[CLS]`` one, and LoRA is set up for ``[CLS]``).

    Example:
        >>> resolved_head(CrossEncoderTrainConfig(), "all-MiniLM-L6-v2")  # doctest: +SKIP
        'mean'
    """
    directory = resolve_model_dir(model_dir)
    if has_mean_head(directory):
        if config.lora:
            raise ConfigError(f"{directory} has a mean-token head; LoRA is set up for [CLS] heads: train without lora")
        if config.head == "cls":
            raise ConfigError(f"{directory} has a mean-token head; it cannot get a [CLS] one: use head auto or mean")
        return "mean"
    if config.head != "auto":
        return config.head
    if classifier_outputs(directory) is not None or config.lora:
        return "cls"
    return "mean"


def load_cross_encoder(
    model: str | Path,
    *,
    num_labels: int = 1,
    max_length: int = 128,
    max_layers: int | None = None,
    head: str = "cls",
):
    """A sentence-transformers ``CrossEncoder`` from a bundled name or a local model directory.

    ``head="mean"`` (one output only): a model directory that already has that head is loaded as
    it is; any other gets a new linear layer over the mean of its token states.

    A model without a classification head (e.g. the bundled bi-encoder's BERT), or with one of
    another size (e.g. a 3-class classifier fine-tuned further as a binary one), gets a new,
    randomly initialized one; ``max_layers`` drops the transformer layers above the first N.
    """
    if head not in ("cls", "mean"):
        raise ConfigError(f"head must be 'cls' or 'mean' here (resolve 'auto' with resolved_head), got {head!r}")
    model_dir = resolve_model_dir(model)
    if head == "mean" and not has_mean_head(model_dir):
        cross_encoder = _mean_head_cross_encoder(model_dir, num_labels, max_length)
    else:
        cross_encoder = _saved_cross_encoder(model_dir, num_labels, max_length)
    if max_layers is not None:
        truncate_layers(cross_encoder[0].model, max_layers)
    return cross_encoder


def _saved_cross_encoder(model_dir: Path, num_labels: int, max_length: int):
    """``model_dir`` as a ``CrossEncoder``; a missing classifier, or one of another size, starts random."""
    import transformers
    from sentence_transformers import CrossEncoder

    extra: dict[str, Any] = {}
    existing = classifier_outputs(model_dir)
    if existing is not None and existing != num_labels:
        logger.info("%s has a %d-output classifier; it gets a new %d-output one", model_dir, existing, num_labels)
        extra["model_kwargs"] = {"ignore_mismatched_sizes": True}
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "newly initialized: classifier" is expected here
    try:
        cross_encoder = CrossEncoder(
            str(model_dir), num_labels=num_labels, max_length=max_length, device="cpu", local_files_only=True, **extra
        )
    finally:
        transformers.logging.set_verbosity(verbosity)
    return cross_encoder


def has_mean_head(model_dir: Path) -> bool:
    """Whether ``model_dir`` is a cross-encoder whose modules end in a Dense layer writing ``scores``."""
    modules_file = Path(model_dir) / "modules.json"
    if not modules_file.is_file():
        return False
    for module in json.loads(modules_file.read_text(encoding="utf-8")):
        if module.get("type", "").endswith(".Dense"):
            config_file = Path(model_dir) / module.get("path", "") / "config.json"
            if config_file.is_file() and json.loads(config_file.read_text()).get("module_output_name") == "scores":
                return True
    return False


def _mean_head_cross_encoder(model_dir: Path, num_labels: int, max_length: int):
    """Transformer (token states) → mean pooling → a new linear layer to ``num_labels`` logits."""
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    if num_labels != 1:
        raise ConfigError("head 'mean' is for re-rankers (one relevance logit); use head 'cls' for classifiers")
    offline = {"local_files_only": True}
    transformer = Transformer(
        str(model_dir),
        transformer_task="feature-extraction",
        max_seq_length=max_length,
        model_kwargs=offline,
        processor_kwargs=offline,
        config_kwargs=offline,
    )
    dim = transformer.get_embedding_dimension()
    pooling = Pooling(dim, pooling_mode="mean")
    score = Dense(
        dim,
        num_labels,
        activation_function=torch.nn.Identity(),
        module_input_name="sentence_embedding",
        module_output_name="scores",
    )
    logger.info("%s: new relevance head over the mean of the token states", model_dir)
    return CrossEncoder(modules=[transformer, pooling, score], device="cpu")


def classifier_outputs(model_dir: Path) -> int | None:
    """How many outputs the sequence-classification head saved in ``model_dir`` has (None: no head)."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not any(str(a).endswith("ForSequenceClassification") for a in config.get("architectures") or ()):
        return None
    return len(config.get("id2label") or {}) or int(config.get("num_labels", 2))


def truncate_layers(model: Any, n: int) -> None:
    """Keep the first ``n`` transformer layers of a Hugging Face encoder model (in place)."""
    import torch

    base = getattr(model, getattr(model, "base_model_prefix", ""), model)
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        owner = base
        *parents, leaf = path.split(".")
        for name in parents:
            owner = getattr(owner, name, None)
        layers = getattr(owner, leaf, None) if owner is not None else None
        if isinstance(layers, torch.nn.ModuleList):
            break
    else:
        raise ConfigError(f"max_layers: cannot find the transformer layers of {type(model).__name__}")
    if n < len(layers):
        setattr(owner, leaf, torch.nn.ModuleList(list(layers)[:n]))
        for key in ("num_hidden_layers", "n_layers", "num_layers"):
            if hasattr(model.config, key):
                setattr(model.config, key, n)
        logger.info("kept the first %d of %d transformer layers", n, len(layers))


def add_lora(model: Any, config: CrossEncoderTrainConfig) -> None:
    """Wrap ``model``'s transformer in LoRA adapters (``config.lora_rank``, ``lora_alpha``, ``lora_dropout``)."""
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=["query", "key", "value", "dense"],
    )
    model[0].model = get_peft_model(model[0].model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("LoRA: training %d of %d parameters (%.1f%%)", trainable, total, 100 * trainable / total)


def load_pair_classifier(model_dir: str | Path):
    """A trained pair classifier (or any cross-encoder) directory as a ``CrossEncoder``.

    Raises:
        ConfigError: not a model directory.
    """
    from sentence_transformers import CrossEncoder

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"{model_dir}: not a model directory (no config.json)")
    return CrossEncoder(str(model_dir), device="cpu", local_files_only=True)
