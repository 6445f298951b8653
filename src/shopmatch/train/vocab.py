"""Vocabulary extension: give a BERT WordPiece model an id for every CJK character of the training data.

The bundled all-MiniLM-L6-v2 has an English uncased vocabulary with only a few hundred Chinese
characters, so most Chinese text becomes ``[UNK]`` and fine-tuning cannot learn anything from
it. :func:`extend_vocabulary` appends the missing characters to the WordPiece vocabulary (new
ids after the old ones, so every old id is unchanged), grows the input embedding matrix (old
rows bit-identical) and saves a model directory that Hugging Face ``transformers`` and
sentence-transformers (``SentenceTransformer``, ``CrossEncoder``) load offline.

Why ``vocab.txt`` and not ``tokenizer.add_tokens``: BERT's normalizer already puts every CJK
ideograph (and punctuation) in a word of its own, so a character appended to the WordPiece
vocabulary is a first-class token that the slow and the fast tokenizer treat alike. Added
tokens are matched outside WordPiece and differ between the two: the fast tokenizer matches
them on the normalized text and reports the token as ``" 咳 "`` (with the spaces BERT's
normalizer puts around CJK characters), while the slow one matches the raw text, so a CJK
compatibility ideograph such as U+F900 (which normalization maps to U+8C48) stays ``[UNK]``.

Example:
    >>> from shopmatch.encoders.models import resolve_model_dir
    >>> ext = extend_vocabulary(resolve_model_dir("all-MiniLM-L6-v2"), ["无线充电器"], "/tmp/minilm-zh")
    >>> ext.added, ext.new_size - ext.old_size  # each once: by code point
    (['充', '器', '无', '电', '线'], 5)
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shopmatch.errors import ConfigError
from shopmatch.settings import ConfigSection, require_int, setting
from shopmatch.store import atomic_directory, write_manifest
from shopmatch.train.model_dir import load_model, save_model, transformer_dir

logger = logging.getLogger(__name__)

MANIFEST_KIND = "vocab-extended-model"
FORMAT_VERSION = 1
# Std of the noise added to each new embedding row, relative to the mean per-dimension std of
# the old rows: about 10 % of a row's norm for MiniLM, enough to tell the characters apart at
# step 0 while staying next to the starting point (see _init_rows).
NOISE_SCALE = 0.1

# Code point ranges BERT's BasicTokenizer (``_is_chinese_char``) and the fast BertNormalizer
# (``handle_chinese_chars``) surround with spaces: CJK Unified Ideographs, extensions A-E and
# the CJK compatibility ideographs. Each such character is a word of its own, so once it is in
# the vocabulary it is exactly one token.
_CJK_IDEOGRAPHS = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
# Blocks of CJK and full-width punctuation. BERT splits punctuation (Unicode category P*) off
# as single characters and does not fold full-width to half-width, so these are one token each
# once known. Full-width letters, digits and symbols (Ｌ, １, ￥) are *not* split off: they stay
# inside a word, and one id per character would not help; normalize them (NFKC) before the
# tokenizer instead, as shopmatch's text normalization does.
_CJK_PUNCTUATION_BLOCKS = ((0x3000, 0x303F), (0xFE10, 0xFE1F), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))


@dataclass(frozen=True)
class VocabExtensionConfig(ConfigSection):
    """How :func:`extend_vocabulary` picks and starts the new characters (its keyword arguments).

    Attributes:
        min_count: Only characters occurring at least this many times.
        max_new: At most this many characters (the most frequent); ``None``: all.
        init: Initial embedding of the new rows: ``"unk"`` (the ``[UNK]`` row) or ``"mean"`` (the
            mean row), plus small noise.
        noise_scale: Std of that noise relative to the old rows' mean per-dimension std.
        seed: Seed of that noise.
    """

    SECTION = "vocab"

    min_count: int = setting(1, minimum=1)
    max_new: int | None = setting(None, minimum=0)
    init: str = setting("unk", choices=("unk", "mean"))
    noise_scale: float = setting(NOISE_SCALE, minimum=0.0, less_than=100.0)
    seed: int = setting(0, minimum=0)


@dataclass(frozen=True)
class VocabExtension:
    """What :func:`extend_vocabulary` did.

    Attributes:
        added: The characters appended to the vocabulary, in id order (``old_size`` onwards).
        old_size: Number of tokens before (the first new id).
        new_size: Number of tokens after (``old_size + len(added)``).
        out_dir: The saved model directory.
    """

    added: list[str]
    old_size: int
    new_size: int
    out_dir: Path


def is_cjk_character(char: str) -> bool:
    """Whether BERT tokenization makes ``char`` a token of its own and it is a CJK character.

    True for CJK ideographs (unified, extensions, compatibility) and for punctuation in the CJK
    symbol, CJK compatibility form and half-/full-width form blocks.

    Example:
        >>> is_cjk_character("猫"), is_cjk_character("，"), is_cjk_character("Ａ"), is_cjk_character("a")
        (True, True, False, False)
    """
    import unicodedata

    if len(char) != 1:
        return False
    code = ord(char)
    if any(low <= code <= high for low, high in _CJK_IDEOGRAPHS):
        return True
    return any(low <= code <= high for low, high in _CJK_PUNCTUATION_BLOCKS) and unicodedata.category(char).startswith(
        "P"
    )


def _char_normalizer(tokenizer: Any) -> Callable[[str], str]:
    """The tokenizer's own normalization (lower-casing, accent stripping, ...) of one character.

    What is looked up in the vocabulary is the normalized character: e.g. the compatibility
    ideograph U+F900 becomes U+8C48 (NFD in the fast tokenizer, NFC in the slow one), so the
    latter is the one to add.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and backend.normalizer is not None:
        return backend.normalizer.normalize_str
    basic = getattr(tokenizer, "basic_tokenizer", None)  # slow BertTokenizer
    if basic is not None and getattr(tokenizer, "do_basic_tokenize", True):
        return lambda char: "".join(basic.tokenize(char))
    return lambda char: char


def missing_characters(tokenizer: Any, texts: Iterable[str], *, min_count: int = 1) -> list[str]:
    """The CJK characters of ``texts`` that ``tokenizer`` maps to ``[UNK]``.

    Characters are counted after the tokenizer's own normalization (see :func:`is_cjk_character`
    for which ones count as CJK).

    Args:
        tokenizer: A Hugging Face tokenizer (fast or slow), e.g. from ``AutoTokenizer``.
        texts: The texts to scan (consumed once).
        min_count: Only characters occurring at least this many times in ``texts``.

    Returns:
        The characters, most frequent first, ties by code point.

    Example:
        >>> from transformers import AutoTokenizer
        >>> from shopmatch.encoders.models import resolve_model_dir
        >>> tok = AutoTokenizer.from_pretrained(resolve_model_dir("all-MiniLM-L6-v2"))
        >>> missing_characters(tok, ["手机壳 手机膜", "phone case"])  # 手 is in the vocab
        ['机', '壳', '膜']
    """
    require_int(VocabExtensionConfig.SECTION, "min_count", min_count)
    raw: Counter[str] = Counter()
    for text in texts:
        raw.update(text)
    normalize = _char_normalizer(tokenizer)
    vocab = tokenizer.get_vocab()
    counts: Counter[str] = Counter()
    for char, count in raw.items():
        for normalized in normalize(char):
            if is_cjk_character(normalized) and normalized not in vocab:
                counts[normalized] += count
    return sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], ord(c)))


def _init_rows(weight: Any, rows: Any, *, unk_id: int, init: str, noise_scale: float, seed: int) -> None:
    """Initialize ``weight[rows]`` in place: the ``[UNK]`` (or mean) row plus small seeded noise.

    ``"unk"`` (the default): the old model saw every one of these characters as ``[UNK]``; its
    row is what the model has learnt to expect for "a character I do not know", so starting
    there keeps the extended model's outputs next to the old one's until fine-tuning moves the
    rows apart. ``"mean"``: the mean of the old rows (Hewitt, 2021, "Initializing new word
    embeddings for pretrained language models"), the usual choice when no such row exists.
    The noise (``noise_scale`` times the mean per-dimension std of the old rows, from a seeded
    generator) makes the characters distinguishable from the first step.
    """
    import torch

    old = weight[: min(rows)]
    centre = old[unk_id] if init == "unk" else old.mean(dim=0)
    scale = noise_scale * old.float().std(dim=0).mean()
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((len(rows), weight.shape[1]), generator=generator) * scale
    weight[rows] = (centre.float() + noise).to(weight.dtype)


def _append_to_tokenizer_files(directory: Path, added: list[str], old_size: int) -> None:
    """Append ``added`` to the WordPiece vocabulary saved in ``directory`` (vocab.txt, tokenizer.json)."""
    vocab_txt = directory / "vocab.txt"
    tokenizer_json = directory / "tokenizer.json"
    if vocab_txt.is_file():
        lines = vocab_txt.read_text(encoding="utf-8").splitlines()
        if len(lines) != old_size:
            raise ConfigError(f"{vocab_txt}: {len(lines)} lines for a vocabulary of {old_size} tokens")
        vocab_txt.write_text("\n".join([*lines, *added]) + "\n", encoding="utf-8")
    if tokenizer_json.is_file():
        data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
        model = data.get("model", {})
        if model.get("type") != "WordPiece" or len(model.get("vocab", {})) != old_size:
            raise ConfigError(f"{tokenizer_json}: not a WordPiece vocabulary of {old_size} tokens")
        for offset, char in enumerate(added):
            model["vocab"][char] = old_size + offset
        tokenizer_json.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    if not vocab_txt.is_file() and not tokenizer_json.is_file():
        raise ConfigError(f"{directory}: the tokenizer saved neither vocab.txt nor tokenizer.json")


def _check_tokenizers(directory: Path, added: list[str], old_size: int) -> None:
    """Reload the saved tokenizer (fast and, where there is one, slow): each added character is its own id."""
    from transformers import AutoTokenizer

    if not added:
        return
    # The characters run together (so that a tokenizer which does not split them apart fails),
    # in chunks below the model's length limit (which would only log a warning).
    chunks = ["".join(added[start : start + 256]) for start in range(0, len(added), 256)]
    expected = list(range(old_size, old_size + len(added)))
    for use_fast in (True, False):
        try:
            tokenizer = AutoTokenizer.from_pretrained(directory, use_fast=use_fast, local_files_only=True)
        except (ValueError, OSError):  # no slow tokenizer class for this model
            continue
        ids = [i for row in tokenizer(chunks, add_special_tokens=False)["input_ids"] for i in row]
        if ids != expected:
            kind = "fast" if use_fast else "slow"
            raise ConfigError(
                f"{kind} tokenizer {type(tokenizer).__name__} does not make each added CJK character one token "
                "(is tokenize_chinese_chars off?)"
            )


def extend_vocabulary(
    model_dir: str | Path,
    texts: Iterable[str],
    out_dir: str | Path,
    *,
    min_count: int = 1,
    max_new: int | None = None,
    init: Literal["unk", "mean"] = "unk",
    noise_scale: float = NOISE_SCALE,
    seed: int = 0,
) -> VocabExtension:
    """Add the CJK characters of ``texts`` unknown to the model's tokenizer; save the model to ``out_dir``.

    Every old token id and embedding row stays as it was; the new characters get the ids after
    them, each one token. ``out_dir`` is written atomically (replaced if it exists) with the
    Hugging Face model and tokenizer at its top level; if ``model_dir`` is a sentence-transformers
    directory, its other modules (pooling, normalize, ...) are copied along, so
    ``SentenceTransformer(out_dir)`` keeps the same pipeline.

    Args:
        model_dir: A Hugging Face model directory (``config.json``) or a sentence-transformers one
            (``modules.json``; the transformer at the top level or in a subfolder). BERT-style
            WordPiece tokenizers only.
        texts: The training texts (both sides of every pair), consumed once.
        out_dir: Where to save the extended model; must not be ``model_dir``.
        min_count: Only characters occurring at least this many times.
        max_new: At most this many characters (the most frequent); ``None``: all.
        init: Initial embedding of the new rows: ``"unk"`` (the ``[UNK]`` row) or ``"mean"`` (the
            mean row), plus small noise; see :func:`_init_rows`.
        noise_scale: Std of that noise relative to the old rows' mean per-dimension std (0.1: the
            new characters start next to each other; 1.0: as far apart as the old rows are).
        seed: Seed of that noise; the same inputs and seed give bit-identical outputs.

    Returns:
        The added characters and the vocabulary sizes before and after.

    Raises:
        ConfigError: not a model directory, ``out_dir`` is ``model_dir``, a bad argument, or a
            tokenizer that is not a plain WordPiece one isolating CJK characters.

    Example:
        >>> from shopmatch.encoders.models import resolve_model_dir
        >>> ext = extend_vocabulary(resolve_model_dir("all-MiniLM-L6-v2"), ["猫粮", "猫砂"], "/tmp/minilm-zh")
        >>> ext.added, ext.old_size, ext.new_size
        (['猫', '砂', '粮'], 30522, 30525)
    """
    from transformers import AutoTokenizer

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    VocabExtensionConfig(min_count=min_count, max_new=max_new, init=init, noise_scale=noise_scale, seed=seed)
    if out_dir.resolve() == model_dir.resolve():
        raise ConfigError(f"{out_dir}: out_dir must not be the model directory itself")
    hf_dir, modules = transformer_dir(model_dir)

    tokenizer = AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    old_size = len(tokenizer)
    if old_size != tokenizer.vocab_size:
        # Appending to the WordPiece vocabulary would give the new characters the ids of the
        # tokens added after it.
        raise ConfigError(
            f"{hf_dir}: the tokenizer has {old_size - tokenizer.vocab_size} added tokens after its "
            f"{tokenizer.vocab_size}-token vocabulary; cannot extend it without renumbering them"
        )
    missing = missing_characters(tokenizer, texts, min_count=min_count)
    added = missing if max_new is None else missing[:max_new]
    new_size = old_size + len(added)
    logger.info(
        "vocabulary of %s: adding %d CJK characters (%d missing with at least %d occurrences%s), %d -> %d tokens",
        model_dir,
        len(added),
        len(missing),
        min_count,
        f", kept the {max_new} most frequent" if max_new is not None and len(missing) > max_new else "",
        old_size,
        new_size,
    )

    import torch

    model = load_model(hf_dir)
    old_rows = model.get_input_embeddings().num_embeddings
    if old_rows < old_size:
        raise ConfigError(f"{hf_dir}: {old_rows} embedding rows for a vocabulary of {old_size} tokens")
    if added:
        # Rows beyond the tokenizer's vocabulary (padding to a multiple of 8 and the like) are
        # used by no token; the new characters take them before the matrix grows.
        model.resize_token_embeddings(max(old_rows, new_size), mean_resizing=False)
        with torch.no_grad():
            _init_rows(
                model.get_input_embeddings().weight,
                list(range(old_size, new_size)),
                unk_id=tokenizer.unk_token_id,
                init=init,
                noise_scale=noise_scale,
                seed=seed,
            )

    with atomic_directory(out_dir) as tmp:
        save_model(tmp, model, tokenizer, model_dir, hf_dir, modules)
        _append_to_tokenizer_files(tmp, added, old_size)
        _check_tokenizers(tmp, added, old_size)
        write_manifest(
            tmp,
            kind=MANIFEST_KIND,
            format_version=FORMAT_VERSION,
            config={
                "base_model": str(model_dir),
                "min_count": min_count,
                "max_new": max_new,
                "init": init,
                "noise_scale": noise_scale,
            },
            seed=seed,
            old_size=old_size,
            new_size=new_size,
            added=len(added),
        )
    return VocabExtension(added=added, old_size=old_size, new_size=new_size, out_dir=out_dir)
