"""Data augmentation for (query, product text) training pairs, applied on the fly.

Operations (each keeps the label; the query side imitates how shoppers type, the product side
how catalogs differ):

- ``token_dropout``: drop each word of the query with probability 0.15 (at least one word stays).
- ``word_swap``: swap two adjacent words of the query.
- ``typo``: one keyboard slip in a query word of four or more letters (swap, drop, double or
  replace a letter).
- ``field_shuffle``: shuffle the lines (fields) of the product text after the title.
- ``synonym``: replace a query word by a common e-commerce synonym (a small built-in table).

Example:
    >>> aug = Augmenter(("word_swap",), probability=1.0, seed=0)
    >>> aug("red ceramic mug", "Mug")
    ('ceramic red mug', 'Mug')
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from shopmatch.errors import ConfigError

OPERATIONS = ("token_dropout", "word_swap", "typo", "field_shuffle", "synonym")

SYNONYMS = {
    "sofa": "couch",
    "couch": "sofa",
    "tee": "t-shirt",
    "t-shirt": "tee",
    "tshirt": "tee",
    "sneakers": "trainers",
    "trainers": "sneakers",
    "cellphone": "phone",
    "phone": "cellphone",
    "laptop": "notebook",
    "notebook": "laptop",
    "pants": "trousers",
    "trousers": "pants",
    "tv": "television",
    "television": "tv",
    "cup": "mug",
    "mug": "cup",
    "headphones": "earphones",
    "earphones": "headphones",
    "charger": "adapter",
    "cable": "cord",
    "cord": "cable",
    "kids": "children",
    "children": "kids",
    "women": "womens",
    "womens": "women",
    "men": "mens",
    "mens": "men",
    "bag": "purse",
    "purse": "bag",
    "rug": "carpet",
    "carpet": "rug",
    "bike": "bicycle",
    "bicycle": "bike",
}


def token_dropout(text: str, rng: random.Random, rate: float = 0.15) -> str:
    words = text.split()
    if len(words) < 2:
        return text
    kept = [w for w in words if rng.random() >= rate]
    return " ".join(kept or [rng.choice(words)])


def word_swap(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) < 2:
        return text
    i = rng.randrange(len(words) - 1)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def typo(text: str, rng: random.Random) -> str:
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    elif kind == 1:
        word = word[:j] + word[j + 1 :]
    elif kind == 2:
        word = word[:j] + word[j] + word[j:]
    else:
        word = word[:j] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[j + 1 :]
    words[i] = word
    return " ".join(words)


def field_shuffle(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if len(lines) < 3:
        return text
    rest = lines[1:]
    rng.shuffle(rest)
    return "\n".join([lines[0], *rest])


def synonym(text: str, rng: random.Random) -> str:
    words = text.split()
    candidates = [i for i, w in enumerate(words) if w.lower() in SYNONYMS]
    if not candidates:
        return text
    i = rng.choice(candidates)
    words[i] = SYNONYMS[words[i].lower()]
    return " ".join(words)


_QUERY_OPERATIONS = {"token_dropout": token_dropout, "word_swap": word_swap, "typo": typo, "synonym": synonym}
_TEXT_OPERATIONS = {"field_shuffle": field_shuffle}


class Augmenter:
    """Applies one randomly chosen operation to a pair with probability ``probability``.

    Args:
        operations: names from :data:`OPERATIONS`.
        probability: chance that a pair is changed at all.
        seed: the random stream (the same seed and call order give the same pairs).
    """

    def __init__(self, operations: Sequence[str], probability: float = 0.3, seed: int = 0) -> None:
        unknown = sorted(set(operations) - set(OPERATIONS))
        if unknown:
            raise ConfigError(f"unknown augmentation(s) {unknown}; known: {', '.join(OPERATIONS)}")
        if not 0.0 <= probability <= 1.0:
            raise ConfigError(f"augmentation probability must be in [0, 1], got {probability}")
        self.operations = tuple(operations)
        self.probability = probability
        self.rng = random.Random(seed)

    def __call__(self, query: str, text: str) -> tuple[str, str]:
        if not self.operations or self.rng.random() >= self.probability:
            return query, text
        name = self.rng.choice(self.operations)
        if name in _TEXT_OPERATIONS:
            return query, _TEXT_OPERATIONS[name](text, self.rng)
        return _QUERY_OPERATIONS[name](query, self.rng), text
