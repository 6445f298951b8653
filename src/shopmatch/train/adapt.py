"""Domain adaptation: masked-language-model training on a shop's own unlabeled text.

A few hundred judged pairs cannot teach a model what thousands of new characters mean: after
:func:`~shopmatch.train.vocab.extend_vocabulary` every added Chinese character starts as the
``[UNK]`` row plus noise. Unlabeled text is cheap (catalog titles, query logs), and masked
language modelling on it (predict a hidden token from its context, as BERT was pre-trained)
gives the new rows meaning before the judgments are used: "don't stop pretraining" (Gururangan
et al., 2020), and the vocabulary-extension recipe of Wang et al. (2020, "Extending multilingual
BERT to low-resource languages").

:func:`adapt_to_texts` keeps the model's own architecture and files: the adapted encoder weights
are copied back into the original model (its pooler and any task head stay as they were), so
the output loads wherever the input did (``CrossEncoder``, ``SentenceTransformer``,
``shopmatch train ... --model``).

Example:
    >>> from shopmatch.train.adapt import adapt_to_texts
    >>> result = adapt_to_texts("/tmp/minilm-zh", ["无线充电器 快充", "猫粮 成猫"], "/tmp/minilm-zh-adapted")
    >>> result.texts, result.out_dir.name
    (2, 'minilm-zh-adapted')
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shopmatch.errors import ConfigError, DataError
from shopmatch.progress import track
from shopmatch.store import atomic_directory, write_manifest
from shopmatch.train.model_dir import load_model, save_model, transformer_dir

logger = logging.getLogger(__name__)

MANIFEST_KIND = "adapted-model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class AdaptationConfig:
    """Options of :func:`adapt_to_texts`.

    Attributes:
        epochs: Passes over the texts.
        batch_size: Texts per optimizer step.
        learning_rate: Peak AdamW learning rate (linear warm-up over ``warmup_ratio`` of the
            steps, then linear decay to 0).
        warmup_ratio: Share of the steps spent warming up.
        max_length: Tokens kept per text (longer texts are truncated).
        mask_probability: Share of the tokens to predict (BERT's 80/10/10 masking).
        train: ``"all"`` the weights, or only the word ``"embeddings"`` (and the MLM head): the
            layers keep what they learnt in pre-training, and the new rows learn to fit them.
        seed: Seeds the order, the masks and the MLM head's initialisation.
    """

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.06
    max_length: int = 64
    mask_probability: float = 0.15
    train: Literal["all", "embeddings"] = "all"
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "learning_rate": self.learning_rate > 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "max_length": self.max_length >= 4,
            "mask_probability": 0 < self.mask_probability < 1,
            "train": self.train in ("all", "embeddings"),
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"adaptation {name} out of range: {getattr(self, name)!r}")


@dataclass(frozen=True)
class AdaptationResult:
    """What :func:`adapt_to_texts` did.

    Attributes:
        out_dir: The saved model directory.
        texts: Distinct non-empty texts trained on.
        steps: Optimizer steps taken.
        losses: The masked-token cross-entropy of every step, in order.
        seconds: Wall time of the training.
    """

    out_dir: Path
    texts: int
    steps: int
    losses: list[float] = field(repr=False)
    seconds: float

    def mean_loss(self, first: bool) -> float:
        """Mean loss over the first (or last) tenth of the steps, at least one step."""
        n = max(1, len(self.losses) // 10)
        part = self.losses[:n] if first else self.losses[-n:]
        return sum(part) / len(part)


def read_texts(path: str | Path) -> list[str]:
    """The texts of a plain UTF-8 file, one per line (blank lines skipped; ``.gz`` read as gzip).

    Raises:
        DataError: the file is missing or a line is not valid UTF-8 (named by file and line).

    Example:
        >>> _ = Path("/tmp/titles.txt").write_text("猫粮 成猫\n\n 狗粮\n", encoding="utf-8")
        >>> read_texts("/tmp/titles.txt")
        ['猫粮 成猫', '狗粮']
    """
    from shopmatch.catalog import decode_text_file

    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    texts = []
    for number, line in enumerate(decode_text_file(path).splitlines(), start=1):
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise DataError("is not valid UTF-8", path=path, line=number) from None
        if line.strip():
            texts.append(line.strip())
    return texts


def _length_grouped_batches(lengths: list[int], batch_size: int, generator: Any) -> list[list[int]]:
    """One epoch of batches: a seeded shuffle, sorted by length within windows of 50 batches.

    Batches are padded to their longest text, so texts of like length batch together (as
    ``transformers``' ``group_by_length`` does) while the window keeps the order random.
    """
    import torch

    order = torch.randperm(len(lengths), generator=generator).tolist()
    window = 50 * batch_size
    batches = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def _masked_token_logits(model: Any, hidden: Any) -> Any:
    """The MLM head applied to some hidden states only (the masked positions).

    Scoring every position against a 30k+ vocabulary would cost more than the encoder itself;
    only the masked ~15 % need it. BERT-family heads sit at ``cls``, RoBERTa-family ones at
    ``lm_head``.
    """
    for name in ("cls", "lm_head"):
        head = getattr(model, name, None)
        if head is not None:
            return head(hidden)
    raise ConfigError(f"{type(model).__name__}: no masked-language-model head named cls or lm_head")


def adapt_to_texts(
    model_dir: str | Path,
    texts: Iterable[str],
    out_dir: str | Path,
    config: AdaptationConfig | None = None,
) -> AdaptationResult:
    """Train ``model_dir`` as a masked language model on ``texts``; save it to ``out_dir``.

    Args:
        model_dir: A Hugging Face model directory or a sentence-transformers one (as for
            :func:`~shopmatch.train.vocab.extend_vocabulary`), typically just extended with the
            characters of ``texts``. A model saved without an MLM head (all-MiniLM-L6-v2) gets
            a new, seeded one that is trained along and then dropped.
        texts: Unlabeled texts (titles, queries); duplicates and blank ones are skipped.
        out_dir: Where to save; must not be ``model_dir``. Same files as ``model_dir``, only the
            encoder weights (embeddings and layers) changed.
        config: Training options; defaults to :class:`AdaptationConfig`.

    Returns:
        The step count, the loss of every step and the time taken.

    Raises:
        ConfigError: not a model directory, ``out_dir`` is ``model_dir``, no text, or a model
            class without a masked-language-model form.
    """
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling
    from transformers import logging as transformers_logging
    from transformers.optimization import get_linear_schedule_with_warmup

    config = config or AdaptationConfig()
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if out_dir.resolve() == model_dir.resolve():
        raise ConfigError(f"{out_dir}: out_dir must not be the model directory itself")
    hf_dir, modules = transformer_dir(model_dir)
    unique = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
    if not unique:
        raise ConfigError("no text to adapt the model to")

    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # the missing MLM head is expected: it is new
    try:
        mlm = AutoModelForMaskedLM.from_pretrained(hf_dir, local_files_only=True)
    except ValueError as error:
        raise ConfigError(f"{hf_dir}: this model has no masked-language-model form ({error})") from None
    finally:
        transformers_logging.set_verbosity(verbosity)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mask_probability)
    encoded = tokenizer(unique, truncation=True, max_length=config.max_length)
    examples = [{key: encoded[key][i] for key in encoded} for i in range(len(unique))]
    lengths = [len(ids) for ids in encoded["input_ids"]]

    steps_per_epoch = math.ceil(len(examples) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.train == "embeddings":
        for name, parameter in mlm.base_model.named_parameters():
            parameter.requires_grad = name.startswith("embeddings.word_embeddings.")
    trained = [p for p in mlm.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=config.learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, round(config.warmup_ratio * total), total)
    generator = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    started = time.perf_counter()
    mlm.train()

    def batches():
        for _ in range(config.epochs):
            for chosen in _length_grouped_batches(lengths, config.batch_size, generator):
                yield collator([examples[i] for i in chosen])

    for batch in track(batches(), total=total, description="adapting to the texts (MLM)"):
        labels = batch.pop("labels")
        hidden = mlm.base_model(**batch).last_hidden_state
        chosen = labels != -100
        if not chosen.any():  # a batch of very short texts can draw no mask at all
            continue
        logits = _masked_token_logits(mlm, hidden[chosen])
        loss = torch.nn.functional.cross_entropy(logits, labels[chosen])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    seconds = time.perf_counter() - started
    logger.info("adapted %s on %d texts: %d steps in %.0f s", model_dir, len(unique), len(losses), seconds)

    model = load_model(hf_dir)
    missing, unexpected = model.base_model.load_state_dict(mlm.base_model.state_dict(), strict=False)
    kept = [key for key in missing if not key.startswith("pooler.")]
    if kept or unexpected:
        raise ConfigError(f"{hf_dir}: adapted weights do not fit the model (missing {kept}, unexpected {unexpected})")
    with atomic_directory(out_dir) as tmp:
        save_model(tmp, model, tokenizer, model_dir, hf_dir, modules)
        write_manifest(
            tmp,
            kind=MANIFEST_KIND,
            format_version=FORMAT_VERSION,
            config={"base_model": str(model_dir), **config.__dict__},
            seed=config.seed,
            texts=len(unique),
            steps=len(losses),
            seconds=round(seconds, 1),
            losses=[round(x, 4) for x in losses],
        )
    return AdaptationResult(out_dir=out_dir, texts=len(unique), steps=len(losses), losses=losses, seconds=seconds)
