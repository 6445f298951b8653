"""Tokenizers for English, Chinese and mixed text, keeping identifiers whole.

An :class:`Analyzer` turns one text into the list of index terms BM25 counts:

- text is normalized (:func:`~shopmatch.text.normalize.normalize`) and split into runs of
  CJK characters and runs of everything else, so mixed Chinese/English text works without
  being told its language;
- English words are stemmed (Snowball, PyStemmer) and stopwords dropped;
- identifiers (model numbers, SKUs, sizes: ``P70D20TL-D4``, ``65w``, ``3/4in``) are kept as
  one token, joined without punctuation (``p70d20tld4``, as users often type them) *and*
  split into their parts, so an exact model-number query finds its product first while a
  partial one still matches;
- Chinese runs become single characters plus jieba's search-mode words (overlapping words,
  ``微波``, ``微波炉``); ``chinese="jieba"`` or ``"char"`` keep only one of the two.

Example:
    >>> a = Analyzer()
    >>> a("Galanz P70D20TL-D4 Microwave Ovens, 20L")
    ['galanz', 'p70d20tl-d4', 'p70d20tld4', 'p70d20tl', 'd4', 'microwav', 'oven', '20l']
    >>> Analyzer(chinese="char")("蓝牙耳机 65W")
    ['蓝', '牙', '耳', '机', '65w', '65']
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

from shopmatch.text.chinese import CJK, CJK_RUN, jieba_default, segmenter, to_simplified
from shopmatch.text.normalize import UNIT_SUFFIXES, normalize

logger = logging.getLogger(__name__)

_CJK = CJK
_CJK_RUN = CJK_RUN
# A word or identifier: letters/digits joined by - / . ' _ (no leading/trailing punctuation).
_TOKEN = re.compile(r"[^\W_]+(?:[-/.'_+][^\W_]+)*")
_SPLIT = re.compile(r"[-/.'_+]")
_UNIT_TOKEN = re.compile(r"^(\d+(?:[.,]\d+)?(?:/\d+)?)(" + "|".join(UNIT_SUFFIXES) + r")$")

ENGLISH_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)
CHINESE_MODES = ("jieba+char", "jieba", "char")
CHINESE_STOPWORDS = frozenset("的 了 和 与 及 是 在 也 就 都 而 或 等 着 吗 呢 啊 吧 之 其".split())


_jieba = jieba_default  # the process-wide jieba tokenizer, initialized once, quietly


@lru_cache(maxsize=4)
def _stemmer(language: str):
    import Stemmer

    return Stemmer.Stemmer(language)


@dataclass(frozen=True)
class Analyzer:
    """Text → index terms, for products and queries alike.

    Args:
        stem: Stem English words (Snowball English).
        stopwords: Drop English (and a few Chinese) stopwords.
        chinese: ``"jieba+char"`` (default: every character plus jieba's search-mode words of
            two or more characters, so a query segmented differently from a title still
            matches), ``"jieba"`` (words only) or ``"char"`` (characters only).
        identifiers: Also emit the parts of identifiers (``p70d20tl-d4`` → ``p70d20tl``, ``d4``)
            and the number of a number+unit (``65w`` → ``65``).
        traditional: Fold traditional Chinese characters to simplified ones (``蘋果`` → ``苹果``).
        user_words: Words jieba keeps whole besides its own dictionary (a catalog's brands).

    Example:
        >>> Analyzer()("Kindle Paperwhite – Now Waterproof")
        ['kindl', 'paperwhit', 'now', 'waterproof']
    """

    stem: bool = True
    stopwords: bool = True
    chinese: str = "jieba+char"
    identifiers: bool = True
    traditional: bool = True
    user_words: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.chinese not in CHINESE_MODES:
            raise ValueError(f"chinese must be one of {', '.join(CHINESE_MODES)}, got {self.chinese!r}")
        # a catalog's words may be thousands: hash them once, and find their jieba once
        key = (self.stem, self.stopwords, self.chinese, self.identifiers, self.traditional, self.user_words)
        object.__setattr__(self, "_hash", hash(key))
        object.__setattr__(self, "_segmenter", None)

    def __hash__(self) -> int:
        return self._hash

    def __call__(self, text: str) -> list[str]:
        text = normalize(text)
        tokens: list[str] = []
        position = 0
        for match in _CJK_RUN.finditer(text):
            self._latin(text[position : match.start()], tokens)
            self._cjk(match.group(), tokens)
            position = match.end()
        self._latin(text[position:], tokens)
        return tokens

    def many(self, texts: list[str]) -> list[list[str]]:
        """Analyze a batch of texts."""
        return [self(t) for t in texts]

    def _latin(self, text: str, out: list[str]) -> None:
        if not text:
            return
        stop = ENGLISH_STOPWORDS if self.stopwords else ()
        stems = _STEMS if self.stem else None
        for token in _TOKEN.findall(text):
            if token.isalpha():  # the common case, inlined: stopword check, then cached stem
                if token in stop:
                    continue
                out.append(token if stems is None else stems.get(token) or _stem(token))
            else:
                self._identifier(token, out)

    def _word(self, word: str, out: list[str]) -> None:
        if self.stopwords and word in ENGLISH_STOPWORDS:
            return
        out.append(_stem(word) if self.stem else word)

    def _identifier(self, token: str, out: list[str]) -> None:
        if token.endswith("'s"):  # possessive: men's → men
            token = token[:-2]
            if token.isalpha():
                self._word(token, out)
                return
        has_digit = any(c.isdigit() for c in token)
        parts = [p for p in _SPLIT.split(token) if p]
        if not has_digit:
            # hyphenated words: t-shirts → t, shirt and the joined (stemmed) tshirt
            for part in parts:
                self._word(part, out)
            self._word("".join(parts), out)
            return
        out.append(token)
        if not self.identifiers:
            return
        unit = _UNIT_TOKEN.match(token)
        if unit:
            out.append(unit.group(1))
            return
        if not any(c.isalpha() for c in token):
            return  # plain numbers and fractions (2.5, 3/4) stay whole
        if len(parts) > 1:
            out.append("".join(parts))  # xr-2231b also as xr2231b, as a user may type it
            for part in parts:
                if part.isalpha():
                    self._word(part, out)
                else:
                    out.append(part)

    def _cjk(self, run: str, out: list[str]) -> None:
        if self.traditional:
            run = to_simplified(run)
        if self.chinese != "jieba":
            out.extend(ch for ch in run if ch not in CHINESE_STOPWORDS)
            if self.chinese == "char":
                return
        words_only = self.chinese == "jieba+char"  # single characters are already in
        jieba = self._segmenter
        if jieba is None:
            jieba = segmenter(self.user_words)
            object.__setattr__(self, "_segmenter", jieba)
        for word in jieba.cut_for_search(run):
            if word.strip() and word not in CHINESE_STOPWORDS and not (words_only and len(word) == 1):
                out.append(word)


_STEMS: dict[str, str] = {}
_MAX_CACHED_STEMS = 500_000


def _stem(word: str) -> str:
    stem = _STEMS.get(word)
    if stem is not None:
        return stem
    stem = _stemmer("english").stemWord(word)
    if len(_STEMS) < _MAX_CACHED_STEMS:
        _STEMS[word] = stem
    return stem
