"""Query suggestions: prefix completion from the catalog's phrases and the queries that found clicks.

A :class:`Suggester` is built with the index from the catalog's phrases — brands, category names,
and the one- to three-word runs of titles (Chinese titles: jieba words and pairs of consecutive
words) — each with the number of products that hold it (``results``). Every phrase is reachable
by its normalized text and, for Chinese, by its simplified form, its full pinyin (``pingguo``) and
its initials (``pg``). With shopper events, :meth:`Suggester.with_queries` adds the queries whose
results were clicked.

:meth:`Suggester.suggest` finds the keys that start with the typed prefix in one sorted array
(two binary searches) and keeps the best by score: ``log(1 + results) + 2·log(1 + clicks)``.
When a prefix of four or more letters finds fewer than ``limit`` phrases, prefixes one edit away
(a letter deleted, inserted, replaced, or two swapped) are searched too, ranked after the exact ones.

Example:
    >>> from shopmatch.catalog import Product
    >>> s = Suggester.build([Product("1", "USB-C cable 6ft", brand="Anker"), Product("2", "USB hub", brand="Anker"),
    ...                      Product("3", "USB-C charger")])
    >>> [(x.text, x.results) for x in s.suggest("usb", limit=3)]
    [('usb-c', 2), ('usb', 1), ('usb hub', 1)]
    >>> [x.text for x in s.suggest("ankr", limit=1)]   # one edit away
    ['anker']
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopmatch.errors import IndexFormatError
from shopmatch.store import read_json_model, write_json_model
from shopmatch.text.chinese import CJK_RUN, segmenter, to_simplified
from shopmatch.text.normalize import normalize

if TYPE_CHECKING:
    from shopmatch.catalog import Product
    from shopmatch.events.io import EventLog
    from shopmatch.query.pinyin import PinyinIndex
    from shopmatch.retrieval.lexical import LexicalRetriever

SUGGEST_KIND = "shopmatch-suggest"
SUGGEST_FORMAT_VERSION = 1
MAX_WORDS = 3  # title runs of one to three words
MAX_PHRASES = 300_000  # the most frequent phrases kept
MIN_PRODUCTS = 2  # a title run is a phrase when at least this many products hold it (or the catalog is tiny)
TINY_CATALOG = 1_000
TYPO_MIN_CHARS = 4
CLICK_WEIGHT = 2.0
MAX_PREFIX_CHARS = 100
_WORD = re.compile(r"[^\W_]+(?:[-/.'+][^\W_]+)*")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Suggestion:
    """One completion: the text, the products that hold it, the clicks its query found, and how it matched."""

    text: str
    results: int
    clicks: int = 0
    typo: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "results": self.results}
        if self.clicks:
            out["clicks"] = self.clicks
        if self.typo:
            out["typo"] = True
        return out


class Suggester:
    """Sorted keys → phrases with product counts (see the module docstring)."""

    def __init__(
        self,
        phrases: Sequence[str],
        results: Sequence[int],
        clicks: Sequence[int],
        keys: Sequence[str],
        owners: Sequence[int],
        *,
        chinese: bool = False,
    ) -> None:
        self.chinese = chinese  # Chinese phrases have pinyin keys
        self.phrases = list(phrases)
        self.results = np.asarray(results, dtype=np.int64)
        self.clicks = np.asarray(clicks, dtype=np.int64)
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self.keys = [keys[i] for i in order]
        self.owners = np.asarray([owners[i] for i in order], dtype=np.int64)
        self.scores = np.log1p(self.results) + CLICK_WEIGHT * np.log1p(self.clicks)
        self._key_scores = self.scores[self.owners] if len(self.owners) else np.zeros(0)

    def __len__(self) -> int:
        return len(self.phrases)

    @classmethod
    def build(
        cls,
        products: Sequence[Product],
        pinyin: PinyinIndex | None = None,
        segment: Callable[[str], Iterable[str]] | None = None,
    ) -> Suggester:
        """The catalog's phrases and their keys (``pinyin``: a pinyin index means the catalog has
        Chinese, so Chinese phrases also get pinyin keys; ``segment``: Chinese run → words)."""
        counts: Counter[str] = Counter()
        segment = segment or segmenter().cut
        min_products = 1 if len(products) < TINY_CATALOG else MIN_PRODUCTS
        named: Counter[str] = Counter()  # brands and categories are phrases however rare
        for product in products:
            found: set[str] = set()
            brands = re.split(r"\s*/\s*", product.brand) if product.brand else []  # Laneige/兰芝: two names
            for name in filter(None, (*brands, *product.category)):
                phrase = _phrase(name)
                if phrase:
                    found.add(phrase)
                    named[phrase] += 1
            found.update(_runs(product.title, segment))
            counts.update(found)
        kept = [(p, n) for p, n in counts.items() if n >= min_products or p in named]
        kept.sort(key=lambda pn: (-pn[1], pn[0]))
        kept = kept[:MAX_PHRASES]
        return cls.of([p for p, _ in kept], [n for _, n in kept], [0] * len(kept), chinese=pinyin is not None)

    @classmethod
    def of(cls, phrases: Sequence[str], results: Sequence[int], clicks: Sequence[int], *, chinese: bool) -> Suggester:
        """A suggester of these phrases, each reachable by its :func:`keys_of`."""
        keys: list[str] = []
        owners: list[int] = []
        for i, phrase in enumerate(phrases):
            for key in keys_of(phrase, chinese=chinese):
                keys.append(key)
                owners.append(i)
        return cls(phrases, results, clicks, keys, owners, chinese=chinese)

    def with_queries(self, clicked: Mapping[str, int], results_of: Callable[[str], int] | None = None) -> Suggester:
        """This suggester plus shopper queries that found clicks (``clicked``: query → clicks).

        A query that is already a phrase gets its clicks; another becomes a phrase whose
        ``results`` is ``results_of(query)`` (0 without it). Queries are normalized first.
        """
        index = {p: i for i, p in enumerate(self.phrases)}
        phrases, results, clicks = list(self.phrases), self.results.tolist(), self.clicks.tolist()
        for query, n in clicked.items():
            phrase = _phrase(query)
            if not phrase or n <= 0:
                continue
            i = index.get(phrase)
            if i is None:
                index[phrase] = i = len(phrases)
                phrases.append(phrase)
                results.append(int(results_of(phrase)) if results_of is not None else 0)
                clicks.append(0)
            clicks[i] += int(n)
        return Suggester.of(phrases, results, clicks, chinese=self.chinese)

    # ---- queries ---------------------------------------------------------------------------------

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """The best ``limit`` phrases that start with ``prefix`` (or one edit from it; see the module docstring)."""
        key = _key(prefix)
        if not key or limit < 1:
            return []
        found = self._top(self._range(key), limit)
        out = [self._suggestion(i) for i in found]
        if len(out) < limit and len(key) >= TYPO_MIN_CHARS and key.isascii():
            seen = set(found)
            near: dict[int, None] = {}
            for variant in _one_edit(key, self._matched_chars(key)):
                for i in self._top(self._range(variant), limit):
                    if i not in seen:
                        near[i] = None
            ranked = sorted(near, key=lambda i: -self.scores[i])[: limit - len(out)]
            out.extend(self._suggestion(i, typo=True) for i in ranked)
        return out

    def _matched_chars(self, key: str) -> int:
        """The length of the longest start of ``key`` that some key starts with (an edit past it cannot help)."""
        lo, hi = 0, len(key)  # key[:lo] matches; find the largest such lo
        while lo < hi:
            mid = (lo + hi + 1) // 2
            span = self._range(key[:mid])
            if span[0] < span[1]:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _range(self, key: str) -> tuple[int, int]:
        lo = bisect.bisect_left(self.keys, key)
        hi = bisect.bisect_left(self.keys, key + "\U0010ffff", lo)
        return lo, hi

    def _top(self, span: tuple[int, int], limit: int) -> list[int]:
        """The best phrases (distinct) among the keys ``span``, best first."""
        lo, hi = span
        if lo >= hi:
            return []
        scores = self._key_scores[lo:hi]
        owners = self.owners[lo:hi]
        want = min(len(scores), limit * 4)  # a phrase may own several keys in the span
        if want < len(scores):
            pick = np.argpartition(-scores, want - 1)[:want]
        else:
            pick = np.arange(len(scores))
        pick = pick[np.lexsort((owners[pick], -scores[pick]))]
        return list(dict.fromkeys(owners[pick].tolist()))[:limit]

    def _suggestion(self, i: int, *, typo: bool = False) -> Suggestion:
        return Suggestion(self.phrases[i], int(self.results[i]), int(self.clicks[i]), typo)

    # ---- persistence -----------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``suggest.json`` (phrases, counts, keys) and a manifest to ``directory`` (atomically)."""
        data = {
            "phrases": self.phrases,
            "results": self.results.tolist(),
            "clicks": self.clicks.tolist(),
            "keys": self.keys,
            "owners": self.owners.tolist(),
            "chinese": self.chinese,
        }
        return write_json_model(
            directory, "suggest.json", data, kind=SUGGEST_KIND, version=SUGGEST_FORMAT_VERSION,
            phrases=len(self.phrases),
        )

    @classmethod
    def load(cls, directory: str | Path) -> Suggester | None:
        """Load a saved suggester (None when ``directory`` does not exist: an index built before it).

        Raises:
            IndexFormatError: the directory is damaged (the message names the file).
        """
        stored = read_json_model(directory, "suggest.json", kind=SUGGEST_KIND, version=SUGGEST_FORMAT_VERSION)
        if stored is None:
            return None
        path, data = stored
        try:
            return cls(
                data["phrases"], data["results"], data["clicks"], data["keys"], data["owners"], chinese=data["chinese"]
            )
        except (ValueError, KeyError, TypeError, IndexError) as err:
            raise IndexFormatError(f"{path}: damaged suggestions ({type(err).__name__}: {err}); rebuild it") from None


def keys_of(phrase: str, *, chinese: bool) -> list[str]:
    """The keys a phrase is found by: itself and, for Chinese, its full pinyin and its initials."""
    keys = [phrase]
    if chinese and CJK_RUN.search(phrase):
        from pypinyin import Style, lazy_pinyin

        syllables = [s for s in lazy_pinyin(phrase, errors="ignore") if s.strip()]
        full = "".join(syllables).replace(" ", "")
        heads = "".join(s[0] for s in lazy_pinyin(phrase, style=Style.NORMAL, errors="ignore") if s.strip())
        keys += [k for k in dict.fromkeys((full, heads)) if k and k.isascii() and k != phrase]
    return keys


def _key(text: str) -> str:
    return to_simplified(normalize(text[:MAX_PREFIX_CHARS], units=False))


def _phrase(text: str) -> str:
    return _key(text).strip()


def _runs(title: str, segment: Callable[[str], Iterable[str]]) -> set[str]:
    """One- to three-word runs of a title; a Chinese run gives its words and pairs of consecutive words."""
    text = _key(title)
    out: set[str] = set()
    words: list[str] = []
    position = 0

    def latin(part: str) -> None:
        words.extend(_WORD.findall(part))

    def flush() -> None:
        for n in range(1, MAX_WORDS + 1):
            out.update(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        words.clear()

    for match in CJK_RUN.finditer(text):
        latin(text[position : match.start()])
        flush()
        pieces = [w for w in segment(match.group()) if w.strip()]
        out.update(w for w in pieces if len(w) >= 2)
        out.update(a + b for a, b in zip(pieces, pieces[1:], strict=False))
        position = match.end()
    latin(text[position:])
    flush()
    return {r for r in out if len(r) >= 2 or not r.isascii()}


def _one_edit(word: str, upto: int | None = None) -> set[str]:
    """Every string one deletion, insertion, replacement or swap of neighbours away (a–z), the edit
    at a position ≤ ``upto`` (a variant must keep a start that exists)."""
    last = len(word) if upto is None else min(upto, len(word))
    splits = [(word[:i], word[i:]) for i in range(last + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}


def clicked_queries(logs: Iterable[EventLog]) -> Counter[str]:
    """Query → clicks (and carts, purchases) on its results, over event logs (a search's impression
    may be in another log than its clicks); a query is counted by its normalized text, and only
    interactions whose search's impression was read count."""
    logs = list(logs)
    query_of = {i.search_id: i.query for log in logs for i in log.impressions}
    clicked: Counter[str] = Counter()
    for log in logs:
        for interaction in log.interactions:
            phrase = _phrase(query_of.get(interaction.search_id, ""))
            if phrase:
                clicked[phrase] += 1
    return clicked


def matching_products(lexical: LexicalRetriever, text: str) -> int:
    """How many products of the lexical index hold every term of ``text`` (0: none, or no term known)."""
    terms = list(dict.fromkeys(lexical.analyzer(text)))
    if not terms or any(t not in lexical.vocab for t in terms):
        return 0
    indices, indptr = lexical.model.scores["indices"], lexical.model.scores["indptr"]
    rows = None
    for term in sorted(terms, key=lexical.document_frequency):
        col = lexical.vocab[term]
        found = np.asarray(indices[int(indptr[col]) : int(indptr[col + 1])])
        rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
        if not len(rows):
            return 0
    return int(len(rows))
