"""Pinyin queries: ``pingguo shouji`` or ``pgsj`` rewritten to the catalog's ``苹果 手机``.

At index time a :class:`PinyinIndex` is built from the catalog's Chinese terms (the jieba words of
titles and brands, folded to simplified, and each pair of consecutive words): the full pinyin of
each term (``pingguo``) and its initials (``pg``) map to the terms, with the number of products
that hold them. A catalog without Chinese gets none.

At query time (:meth:`PinyinIndex.rewrite`) each word of Latin letters that is not a word of the
catalog (``apple`` in a catalog that says ``apple`` stays ``apple``) is split into the fewest
pieces that are full pinyin or initials of catalog terms (ties: the more products the terms are
in); when the whole word is covered it is replaced by the most frequent term of each piece.
Initials pieces need at least two letters. Words that cannot be covered stay as typed.

Example:
    >>> from shopmatch.catalog import Product
    >>> index = PinyinIndex.build([Product("1", "Apple 苹果手机 256G"), Product("2", "苹果 新鲜水果")])
    >>> index.rewrite("pingguo shouji").text
    '苹果 手机'
    >>> index.rewrite("pgsj").text
    '苹果手机'
    >>> index.rewrite("apple") is None
    True
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopmatch.errors import IndexFormatError
from shopmatch.settings import ConfigSection
from shopmatch.store import read_json_model, write_json_model
from shopmatch.text.chinese import CJK_RUN, segmenter, to_simplified
from shopmatch.text.normalize import normalize

if TYPE_CHECKING:
    from shopmatch.catalog import Product

PINYIN_KIND = "shopmatch-pinyin"
PINYIN_FORMAT_VERSION = 1
# A catalog gets a pinyin index when at least this share of its products has Chinese in the title.
MIN_CHINESE_SHARE = 0.01
MAX_TERM_CHARS = 8
MAX_FULL_LETTERS = 36
MAX_INITIALS = 8
KEEP_TERMS = 5  # terms kept per key (most frequent first)
_LATIN_WORD = re.compile(r"[a-z]+")
_QUERY_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class PinyinConfig(ConfigSection):
    """Pinyin query rewriting (``[pinyin]``).

    Attributes:
        enabled: rewrite pinyin queries when the index has a pinyin index (built for catalogs with
            Chinese titles).
    """

    SECTION = "pinyin"

    enabled: bool = True


@dataclass(frozen=True)
class PinyinPiece:
    """One piece of a rewritten word: the letters, how they were read, the term chosen and the others."""

    letters: str
    kind: str  # "full" or "initials"
    term: str
    products: int
    alternatives: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "letters": self.letters,
            "as": self.kind,
            "term": self.term,
            "products": self.products,
            "alternatives": list(self.alternatives),
        }


@dataclass(frozen=True)
class PinyinRewrite:
    """A query with its pinyin words replaced by Chinese terms (``text``) and how each was read."""

    original: str
    text: str
    pieces: tuple[PinyinPiece, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.original, "to": self.text, "pieces": [p.to_dict() for p in self.pieces]}


class PinyinIndex:
    """Full pinyin and initials → the catalog's Chinese terms (see the module docstring)."""

    def __init__(
        self,
        full: Mapping[str, Sequence[tuple[str, int]]],
        initials: Mapping[str, Sequence[tuple[str, int]]],
        latin_words: Iterable[str],
    ) -> None:
        self.full = {k: [tuple(t) for t in v] for k, v in full.items()}
        self.initials = {k: [tuple(t) for t in v] for k, v in initials.items()}
        self.latin_words = frozenset(latin_words)
        self._longest_full = max(map(len, self.full), default=0)
        self._longest_initials = max(map(len, self.initials), default=0)

    def __len__(self) -> int:
        return len(self.full)

    @classmethod
    def build(
        cls, products: Sequence[Product], segment: Callable[[str], Iterable[str]] | None = None
    ) -> PinyinIndex | None:
        """The pinyin index of a catalog (None when fewer than 1% of its titles hold Chinese).

        Args:
            products: the catalog.
            segment: Chinese run → words (default: jieba; the lexical retriever passes its own,
                with the catalog's user dictionary).
        """
        from pypinyin import lazy_pinyin

        chinese = sum(1 for p in products if CJK_RUN.search(p.title))
        if not products or chinese < MIN_CHINESE_SHARE * len(products):
            return None
        segment = segment or segmenter().cut
        term_products: Counter[str] = Counter()
        latin: set[str] = set()
        for product in products:
            text = to_simplified(normalize(" ".join(filter(None, (product.title, product.brand)))))
            latin.update(_LATIN_WORD.findall(text))
            terms: set[str] = set()
            for run in CJK_RUN.findall(text):
                words = [w for w in segment(run) if w.strip()]
                terms.update(w for w in words if len(w) <= MAX_TERM_CHARS)
                terms.update(a + b for a, b in zip(words, words[1:], strict=False) if len(a + b) <= MAX_TERM_CHARS)
            term_products.update(terms)
        full: dict[str, Counter[str]] = {}
        initials: dict[str, Counter[str]] = {}
        for term, n in term_products.items():
            syllables = lazy_pinyin(term, errors="ignore")
            if len(syllables) != len(term):
                continue
            key = "".join(syllables)
            if key.isascii() and key.isalpha() and len(key) <= MAX_FULL_LETTERS:
                full.setdefault(key, Counter())[term] += n
            heads = "".join(s[0] for s in syllables)
            if len(term) >= 2 and heads.isascii() and heads.isalpha() and len(heads) <= MAX_INITIALS:
                initials.setdefault(heads, Counter())[term] += n
        return cls(_top(full), _top(initials), latin)

    # ---- queries ---------------------------------------------------------------------------------

    def rewrite(self, query: str) -> PinyinRewrite | None:
        """``query`` with its pinyin words replaced by catalog terms (None: nothing to rewrite)."""
        text = normalize(query, units=False)
        if not text or CJK_RUN.search(text):
            return None
        out: list[str] = []
        pieces: list[PinyinPiece] = []
        changed = False
        for word in _QUERY_WORD.findall(text):
            read = self._read(word) if word.isascii() and word.isalpha() else None
            if read is None:
                out.append(word)
                continue
            changed = True
            out.append("".join(p.term for p in read))  # one typed word, one Chinese word
            pieces.extend(read)
        if not changed:
            return None
        return PinyinRewrite(query, " ".join(out), tuple(pieces))

    def _read(self, word: str) -> list[PinyinPiece] | None:
        """The fewest pieces covering ``word`` (ties: more products), or None."""
        if len(word) < 2 or word in self.latin_words:
            return None
        n = len(word)
        # best[i]: (pieces, -log products) of the best reading of word[:i]
        best: list[tuple[int, float] | None] = [None] * (n + 1)
        back: list[PinyinPiece | None] = [None] * (n + 1)
        best[0] = (0, 0.0)
        for end in range(1, n + 1):
            for kind, table, longest, shortest in (
                ("full", self.full, self._longest_full, 1),
                ("initials", self.initials, self._longest_initials, 2),
            ):
                for start in range(max(0, end - longest), end - shortest + 1):
                    if best[start] is None:
                        continue
                    terms = table.get(word[start:end])
                    if not terms:
                        continue
                    term, count = terms[0]
                    cost = (best[start][0] + 1, best[start][1] - math.log1p(count))
                    if best[end] is None or cost < best[end]:
                        best[end] = cost
                        alternatives = tuple(t for t, _ in terms[1:])
                        back[end] = PinyinPiece(word[start:end], kind, term, count, alternatives)
        if best[n] is None:
            return None
        pieces: list[PinyinPiece] = []
        end = n
        while end > 0:
            piece = back[end]
            pieces.append(piece)
            end -= len(piece.letters)
        return pieces[::-1]

    # ---- persistence -----------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``pinyin.json`` and a manifest to ``directory`` (atomically)."""
        data = {"full": self.full, "initials": self.initials, "latin_words": sorted(self.latin_words)}
        return write_json_model(
            directory, "pinyin.json", data, kind=PINYIN_KIND, version=PINYIN_FORMAT_VERSION, keys=len(self.full)
        )

    @classmethod
    def load(cls, directory: str | Path) -> PinyinIndex | None:
        """Load a saved pinyin index (None when ``directory`` does not exist: an index built before it).

        Raises:
            IndexFormatError: the directory is damaged (the message names the file).
        """
        stored = read_json_model(directory, "pinyin.json", kind=PINYIN_KIND, version=PINYIN_FORMAT_VERSION)
        if stored is None:
            return None
        path, data = stored
        try:
            return cls(data["full"], data["initials"], data["latin_words"])
        except (ValueError, KeyError, TypeError) as err:
            raise IndexFormatError(f"{path}: damaged pinyin index ({type(err).__name__}: {err}); rebuild it") from None


def _top(table: Mapping[str, Counter[str]]) -> dict[str, list[tuple[str, int]]]:
    return {key: sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:KEEP_TERMS] for key, terms in table.items()}
