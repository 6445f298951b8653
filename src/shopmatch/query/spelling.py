"""Spelling correction learned from the catalog: ``cordless dril`` → ``cordless drill``.

At index time a :class:`SpellingModel` counts the words of the indexed product fields (how many
products hold each word), the word pairs of the titles (the context), and the words of the
``brand`` values (protected). At query time a :class:`Speller` looks at each word of the query
and replaces it only when

- it is a plain word: letters a–z only, at least ``min_length`` of them (identifiers, model
  numbers, numbers with units, words with digits, hyphens or accents, and Chinese are never
  touched), and not a word of a catalog brand;
- it is unknown or rare in the catalog: held by at most ``max_rare_count`` products, and an
  unknown word is not another form of a catalog word (``dowels`` when the catalog says
  ``dowel``: the stemmed analyzers match it already);
- a word within ``max_edit_distance`` edits (deletion, insertion, substitution, transposition;
  SymSpell's symmetric-delete lookup, ``symspellpy``) is held by at least ``min_ratio`` times as
  many products (plus one). Among those the best is the most frequent, helped by the title pairs
  it forms with its neighbours (``context_weight``) and held back by its distance
  (``distance_penalty``): ``log(count) + context_weight · log(1 + pairs) − distance_penalty · edits``.

A catalog whose text is mostly Chinese gets no correction (pinyin is another stage's job).

Example:
    >>> from shopmatch.catalog import Product
    >>> titles = ["Cordless drill kit", "Cordless drill driver", "Hammer drill", "DeWalt drill bits"]
    >>> model = SpellingModel.build([Product(str(i), t) for i, t in enumerate(titles)])
    >>> speller = Speller(model, SpellingConfig(max_rare_count=0, min_ratio=1.0))
    >>> speller.correct("cordless dril").text
    'cordless drill'
    >>> speller.correct("dewalt dril X-200").corrections[0].to_dict()
    {'original': 'dril', 'corrected': 'drill', 'distance': 1}
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopmatch.catalog import Product
from shopmatch.errors import IndexFormatError
from shopmatch.progress import track
from shopmatch.query.english import is_english
from shopmatch.settings import ConfigSection, setting
from shopmatch.store import atomic_directory, read_manifest, write_manifest
from shopmatch.text.fields import FIELD_GETTERS
from shopmatch.text.normalize import normalize

if TYPE_CHECKING:
    from shopmatch.events.io import EventLog

logger = logging.getLogger(__name__)

SPELLING_KIND = "shopmatch-spelling"
SPELLING_FORMAT_VERSION = 1

_TOKEN = re.compile(r"[^\W_]+(?:[-/.'_+][^\W_]+)*")  # as the analyzer splits words and identifiers
_PART = re.compile(r"[-/.'_+]")
_WORD = re.compile(r"[a-z]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
DICTIONARIES = ("english", "none")


@dataclass(frozen=True)
class SpellingConfig(ConfigSection):
    """Settings of spelling correction (``[spelling]`` in a pipeline config).

    Attributes:
        enabled: correct query words (a request may still turn it off: ``spelling=false``).
        max_edit_distance: the most edits (1 or 2) between a query word and its correction.
        min_length: words shorter than this are never corrected.
        min_length_distance_2: words shorter than this get corrections one edit away only.
        max_rare_count: a word held by more products than this is never corrected (0: only
            words the catalog does not hold).
        min_ratio: a correction must be held by at least ``min_ratio × (count + 1)`` products,
            ``count`` being the query word's own.
        min_count: words held by fewer products are never offered as corrections.
        context_weight: weight of the title pairs the candidate forms with its neighbours.
        distance_penalty: what each edit costs a candidate (in log-count units).
        dictionary: ``"english"``: a query word the catalog does not hold but English does (see
            :mod:`shopmatch.query.english`) is a real word, corrected only with the catalog's
            context for it; ``"none"``: the catalog's words alone say what is a typo.
        dictionary_min_count: a word counts as English at this count in the dictionary or more
            (the rarest words there have about 12,700; ``vegan`` 2.6 million).
        dictionary_min_pairs: an English word is corrected only into a word that forms at least
            this many title pairs with its neighbours in the query (0: never corrected).

    The defaults were chosen on Home Depot training queries with synthetic typos (``python
    bench/spelling.py --tune``; the guard: ``--tune-guard``, on the training queries as typed
    too), never on the queries the benchmark reports.
    """

    SECTION = "spelling"

    enabled: bool = True
    max_edit_distance: int = setting(2, minimum=1, maximum=2)
    min_length: int = setting(4, minimum=2)
    min_length_distance_2: int = setting(6, minimum=2)
    max_rare_count: int = setting(0, minimum=0)
    min_ratio: float = setting(2.0, minimum=1.0)
    min_count: int = setting(2, minimum=1)
    context_weight: float = setting(2.0, minimum=0.0, maximum=100.0)
    distance_penalty: float = setting(8.0, minimum=0.0, maximum=100.0)
    dictionary: str = setting("english", choices=DICTIONARIES)
    dictionary_min_count: int = setting(1_000_000, minimum=1)
    dictionary_min_pairs: int = setting(3, minimum=0)


@dataclass(frozen=True)
class Correction:
    """One corrected word: as typed (lower-cased), its correction, and the edits between them."""

    original: str
    corrected: str
    distance: int

    def to_dict(self) -> dict[str, Any]:
        return {"original": self.original, "corrected": self.corrected, "distance": self.distance}


@dataclass(frozen=True)
class Spelled:
    """A query's text after correction, and what was corrected (empty: the text as typed)."""

    text: str
    corrections: tuple[Correction, ...] = ()


def words_of(text: str) -> list[str]:
    """The plain words (a–z) of a text in order, identifiers' parts with digits left out.

    Example:
        >>> words_of("DeWalt 20V MAX* XR Brushless drill/driver (DCD791D2)")
        ['dewalt', 'max', 'xr', 'brushless', 'drill', 'driver']
    """
    out = []
    for token in _TOKEN.findall(normalize(text, units=False)):
        out.extend(part for part in _PART.split(token) if _WORD.fullmatch(part))
    return out


class SpellingModel:
    """What correction reads from the catalog: word counts, title pairs, brand words.

    Args:
        words: word → how many products hold it (in any indexed field).
        pairs: ``"first second"`` → how many titles hold the two words in a row.
        brands: the words of the catalog's brand values, and each brand's words written as one
            (``ecloth`` for "E-Cloth"): never corrected.
        chinese: the catalog's text is mostly Chinese (nothing is corrected).
    """

    def __init__(
        self, words: dict[str, int], pairs: dict[str, int], brands: Iterable[str] = (), *, chinese: bool = False
    ) -> None:
        self.words = words
        self.pairs = pairs
        self.brands = frozenset(brands)
        self.chinese = chinese

    @classmethod
    def build(cls, products: Sequence[Product], *, queries: Iterable[str] = ()) -> SpellingModel:
        """Count the words of ``products`` (every indexed field), their title pairs and brand
        words; ``queries`` (e.g. logged queries that found clicks) count as one product each."""
        words: Counter[str] = Counter()
        pairs: Counter[str] = Counter()
        brands: set[str] = set()
        latin = cjk = 0
        for product in track(products, total=len(products), description="spelling vocabulary"):
            seen: set[str] = set()
            for get in FIELD_GETTERS.values():
                text = get(product)
                if text:
                    found = words_of(text)
                    seen.update(found)
                    latin += len(found)
                    cjk += len(_CJK.findall(text))
            words.update(seen)
            title = words_of(product.title)
            pairs.update(f"{a} {b}" for a, b in zip(title, title[1:], strict=False))
            if product.brand:
                brand = words_of(product.brand)
                brands.update(brand)
                if len(brand) > 1:  # typed without its hyphen or space: "E-Cloth" → "ecloth"
                    brands.add("".join(brand))
        for query in queries:
            words.update(set(words_of(query)))
        return cls(dict(words), dict(pairs), brands, chinese=cjk > latin)

    def count(self, word: str) -> int:
        return self.words.get(word, 0)

    def pair(self, first: str, second: str) -> int:
        return self.pairs.get(f"{first} {second}", 0)

    def save(self, directory: str | Path) -> Path:
        """Write the model directory atomically (``manifest.json``, ``words.tsv``, ``pairs.tsv``,
        ``brands.txt``)."""
        directory = Path(directory)
        with atomic_directory(directory) as tmp:
            _write_counts(tmp / "words.tsv", self.words)
            _write_counts(tmp / "pairs.tsv", self.pairs)
            (tmp / "brands.txt").write_text("".join(f"{b}\n" for b in sorted(self.brands)), encoding="utf-8")
            write_manifest(
                tmp,
                kind=SPELLING_KIND,
                format_version=SPELLING_FORMAT_VERSION,
                config={},
                words=len(self.words),
                pairs=len(self.pairs),
                chinese=self.chinese,
            )
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> SpellingModel:
        """Read a model directory.

        Raises:
            IndexFormatError: not a spelling model, or a damaged line (the message names the file
                and the line).
        """
        directory = Path(directory)
        manifest = read_manifest(directory, kind=SPELLING_KIND, supported_version=SPELLING_FORMAT_VERSION)
        brands_path = directory / "brands.txt"
        try:
            brands = brands_path.read_text(encoding="utf-8").split()
        except OSError as err:
            raise IndexFormatError(f"{brands_path}: {err}") from None
        words = _read_counts(directory / "words.tsv")
        pairs = _read_counts(directory / "pairs.tsv")
        return cls(words, pairs, brands, chinese=bool(manifest.get("chinese", False)))


def queries_with_clicks(log: EventLog) -> list[str]:
    """The query of each logged search that got a click, add to cart or purchase (once per search):
    words shoppers typed and then found what they wanted with.

    Example:
        >>> from shopmatch.events import parse_event
        >>> from shopmatch.events.io import EventLog
        >>> shown = parse_event({"type": "impression", "search_id": "s1", "query": "dewalt drill",
        ...                      "results": ["p1"], "ts": "2026-01-01T00:00:00Z"})
        >>> click = parse_event({"type": "click", "search_id": "s1", "product_id": "p1",
        ...                      "ts": "2026-01-01T00:00:05Z"})
        >>> queries_with_clicks(EventLog([shown], [click]))
        ['dewalt drill']
    """
    found = {i.search_id for i in log.interactions}
    return [shown.query for shown in log.impressions if shown.search_id in found]


class Speller:
    """Corrects query words with a :class:`SpellingModel` under a :class:`SpellingConfig`."""

    def __init__(self, model: SpellingModel, config: SpellingConfig | None = None, known: Iterable[str] = ()) -> None:
        self.model = model
        self.config = config or SpellingConfig()
        self.known = frozenset(known)

    def knowing(self, words: Iterable[str]) -> Speller:
        """This speller, and ``words`` never corrected too (the words of products added since the
        model was counted); it shares this one's lookup tables."""
        speller = Speller(self.model, self.config, self.known | frozenset(words))
        speller.__dict__.update(_symspell=self._symspell, _stems=self._stems)  # built once, here
        return speller

    @cached_property
    def _symspell(self):
        from symspellpy import SymSpell

        config = self.config
        symspell = SymSpell(max_dictionary_edit_distance=config.max_edit_distance, prefix_length=7)
        for word, count in self.model.words.items():
            if count >= config.min_count and len(word) >= 2:
                symspell.create_dictionary_entry(word, count)
        return symspell

    @cached_property
    def _stems(self) -> frozenset[str]:
        from shopmatch.text.tokenize import _stem

        return frozenset(_stem(word) for word in self.model.words)

    def correct(self, text: str) -> Spelled:
        """``text`` with its misspelled words replaced (see the module docstring); the rest of the
        text — case, punctuation, identifiers — is kept as typed."""
        if not self.config.enabled or self.model.chinese:
            return Spelled(text)
        matches = list(_TOKEN.finditer(text))
        lowered = [m.group().lower() for m in matches]
        corrections = []
        pieces, end = [], 0
        for i, match in enumerate(matches):
            previous = lowered[i - 1] if i else ""
            following = lowered[i + 1] if i + 1 < len(lowered) else ""
            fixed = self._word(lowered[i], previous, following)
            if fixed is None:
                continue
            corrections.append(fixed)
            lowered[i] = fixed.corrected
            pieces.extend([text[end : match.start()], _cased(fixed.corrected, match.group())])
            end = match.end()
        if not corrections:
            return Spelled(text)
        pieces.append(text[end:])
        return Spelled("".join(pieces), tuple(corrections))

    def _word(self, word: str, previous: str, following: str) -> Correction | None:
        config, model = self.config, self.model
        if len(word) < config.min_length or not _WORD.fullmatch(word) or word in model.brands or word in self.known:
            return None
        own = model.count(word)
        if own > config.max_rare_count:
            return None
        from shopmatch.text.tokenize import _stem

        if not own and _stem(word) in self._stems:  # another form of a catalog word: the analyzer matches it
            return None
        from symspellpy import Verbosity

        real = config.dictionary == "english" and is_english(word, config.dictionary_min_count)
        if real and not config.dictionary_min_pairs:
            return None
        distance = config.max_edit_distance if len(word) >= config.min_length_distance_2 else 1
        needed = config.min_ratio * (own + 1)
        best, best_score = None, -math.inf
        for suggestion in self._symspell.lookup(word, Verbosity.ALL, max_edit_distance=distance):
            candidate = suggestion.term
            if candidate == word or suggestion.count < needed:
                continue
            context = model.pair(previous, candidate) + model.pair(candidate, following)
            if real and context < config.dictionary_min_pairs:  # a real word: only the catalog's context overrides it
                continue
            score = (
                math.log(suggestion.count)
                + config.context_weight * math.log1p(context)
                - config.distance_penalty * suggestion.distance
            )
            if score > best_score:
                best, best_score = Correction(word, candidate, suggestion.distance), score
        return best


def _cased(word: str, typed: str) -> str:
    """``word`` in the case the user typed (all capitals, capitalized, or lower case)."""
    if typed.isupper() and len(typed) > 1:
        return word.upper()
    if typed[:1].isupper():
        return word.capitalize()
    return word


def _write_counts(path: Path, counts: dict[str, int]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for key, value in sorted(counts.items()):
            out.write(f"{key}\t{value}\n")


def _read_counts(path: Path) -> dict[str, int]:
    counts = {}
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                key, tab, value = line.rstrip("\n").partition("\t")
                if not tab or not value.isdigit():
                    raise IndexFormatError(f"{path}, line {number}: expected 'word<TAB>count', got {line.strip()!r}")
                counts[key] = int(value)
    except OSError as err:
        raise IndexFormatError(f"{path}: {err}") from None
    return counts
