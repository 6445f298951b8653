"""English word frequencies, offline: the dictionary that ships inside ``symspellpy``.

Spelling correction learns its words from the catalog; a real English word the catalog happens
not to hold (``vegan``, ``gift``, ``petcock``) would otherwise look like a typo of a catalog word.
:func:`english_counts` reads symspellpy's ``frequency_dictionary_en_82_765.txt`` (82,834 words,
lower case, with their counts in a large English corpus; the rarest has about 12,700) once per
process; :func:`is_english` asks whether a word is in it at or above a count.

Example:
    >>> is_english("vegan", 100_000), is_english("cordles", 1)
    (True, False)
    >>> is_english("petcock", 100_000), is_english("petcock", 10_000)
    (False, True)
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from shopmatch.errors import IndexFormatError

DICTIONARY_FILE = "frequency_dictionary_en_82_765.txt"


def dictionary_path() -> Path:
    """Where the installed ``symspellpy`` keeps its English frequency dictionary."""
    return Path(str(resources.files("symspellpy") / DICTIONARY_FILE))


@cache
def english_counts() -> dict[str, int]:
    """word → its count in symspellpy's English frequency dictionary (read once, ~0.1 s).

    Raises:
        IndexFormatError: the file is missing or a line is not ``word count`` (the message names
            the file and the line).
    """
    path = dictionary_path()
    counts: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                word, _, count = line.rstrip("\n").partition(" ")
                if not word or not count.isdigit():
                    raise IndexFormatError(f"{path}, line {number}: expected 'word count', got {line.strip()!r}")
                counts[word] = int(count)
    except OSError as err:
        raise IndexFormatError(f"{path}: {err} (the English dictionary ships with symspellpy)") from None
    return counts


def is_english(word: str, min_count: int) -> bool:
    """``word`` (lower case) is in the English dictionary with a count of ``min_count`` or more."""
    return english_counts().get(word, 0) >= min_count
