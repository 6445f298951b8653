"""Query-time synonyms from a file in Solr's synonym format, applied to the BM25F query.

The file (``[synonyms] file = "synonyms.txt"``) holds one rule a line, as Solr's
``SynonymGraphFilter`` reads it::

    # a comment (a line that starts with #); blank lines are ignored
    # equivalence: each phrase also searches the others
    couch, sofa, settee
    # one-way: the left side also searches the right side, not the other way round
    tv, television => flat screen tv
    bbq => barbecue, grill

Phrases may have several words; they are matched on the analyzed query terms (stemmed and
lowercased as the index is), so ``tvs`` matches a rule for ``tv``. A matched phrase adds the
terms of its synonyms to the BM25F query at ``[synonyms] weight`` (below the query's own terms,
which keep weight 1): BM25F sums each term's score times its weight. Unlike Solr's replacing
``a => b``, the query's own words are always kept: a product that says ``a`` still matches.
``\\,`` and ``\\=>`` escape a literal comma or arrow inside a phrase.

A bad line raises a :class:`~shopmatch.errors.DataError` naming the file and the line.

Example:
    >>> rules = parse_synonyms(["couch, sofa", "tv => television"], path="syn.txt")
    >>> [(r.inputs, r.outputs) for r in rules]
    [(('couch', 'sofa'), ('couch', 'sofa')), (('tv',), ('television',))]
    >>> table = SynonymTable(rules, str.split)
    >>> [(e.source, e.synonym) for e in table.expansions(["cheap", "tv"])]
    [('tv', 'television')]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from shopmatch.errors import ConfigError, DataError
from shopmatch.settings import ConfigSection, setting
from shopmatch.text.tokenize import Analyzer

if TYPE_CHECKING:
    from shopmatch.retrieval.lexical import LexicalConfig

logger = logging.getLogger(__name__)

_ARROW = re.compile(r"(?<!\\)=>")
_COMMA = re.compile(r"(?<!\\),")


@dataclass(frozen=True)
class SynonymsConfig(ConfigSection):
    """Query-time synonyms (``[synonyms]``).

    Attributes:
        file: a synonyms file in Solr's format (empty: no synonyms). A relative path is read
            from the working directory.
        weight: the BM25F weight of a synonym's terms (the query's own terms weigh 1).
    """

    SECTION = "synonyms"

    file: str = ""
    weight: float = setting(0.5, minimum=0.0, maximum=1.0)

    @property
    def active(self) -> bool:
        return bool(self.file) and self.weight > 0


@dataclass(frozen=True)
class SynonymRule:
    """One line of a synonyms file: the ``inputs`` phrases also search the ``outputs`` phrases
    (an equivalence group has the same phrases on both sides)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True)
class Expansion:
    """A synonym the query searched for: the matched ``source`` phrase, the ``synonym`` phrase,
    its analyzed ``terms`` added to BM25F, and their ``weight``."""

    source: str
    synonym: str
    terms: tuple[str, ...]
    weight: float = 1.0

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "synonym": self.synonym, "terms": list(self.terms), "weight": self.weight}


class WeightedTerms(list):
    """A BM25F query: its terms (a list, as every retriever reads a lexical query) and each
    term's weight (1 for the query's own terms, less for synonyms).

    Example:
        >>> terms = WeightedTerms(["tv", "televis"], {"televis": 0.5})
        >>> list(terms), terms.weight("tv"), terms.weight("televis")
        (['tv', 'televis'], 1.0, 0.5)
    """

    def __init__(self, terms: Iterable[str] = (), weights: dict[str, float] | None = None) -> None:
        super().__init__(terms)
        self.weights = dict(weights or {})

    def weight(self, term: str) -> float:
        return self.weights.get(term, 1.0)


def term_weights(prepared: Sequence[str]) -> dict[str, float]:
    """Each distinct term's weight in a prepared BM25F query (1 unless it is a synonym); a term
    given twice counts twice, as in an unweighted query."""
    out: dict[str, float] = {}
    weight_of = prepared.weight if isinstance(prepared, WeightedTerms) else (lambda _t: 1.0)
    for term in prepared:
        out[term] = out.get(term, 0.0) + weight_of(term)
    return out


def parse_synonyms(lines: Iterable[str], *, path: str | Path = "<synonyms>") -> list[SynonymRule]:
    """The rules of a Solr-format synonyms file (comments and blank lines skipped).

    Raises:
        DataError: a line with an empty phrase, more than one ``=>``, or a group of one phrase
            (names the file and the line).
    """
    rules = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        sides = _ARROW.split(text)
        if len(sides) > 2:
            raise DataError("more than one '=>' on a line", path=path, line=number)
        groups = [_phrases(side, path, number) for side in sides]
        if len(groups) == 2:
            rules.append(SynonymRule(groups[0], groups[1], number))
        elif len(groups[0]) < 2:
            raise DataError(
                f"an equivalence group needs at least two phrases separated by commas, got {text!r}",
                path=path,
                line=number,
            )
        else:
            rules.append(SynonymRule(groups[0], groups[0], number))
    return rules


def _phrases(side: str, path: str | Path, line: int) -> tuple[str, ...]:
    phrases = [" ".join(p.replace("\\,", ",").replace("\\=>", "=>").split()) for p in _COMMA.split(side)]
    if any(not p for p in phrases):
        raise DataError(f"empty phrase in {side.strip()!r} (two commas, or a comma at an end)", path=path, line=line)
    return tuple(phrases)


def read_synonyms(path: str | Path) -> list[SynonymRule]:
    """Parse a synonyms file (UTF-8).

    Raises:
        ConfigError: the file does not exist.
        DataError: a bad line (see :func:`parse_synonyms`).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: synonyms file not found ([synonyms] file)") from None
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text ({err.reason})", path=path) from None
    return parse_synonyms(text.splitlines(), path=path)


class SynonymTable:
    """The rules compiled for one analyzer: analyzed phrase → the phrases it also searches."""

    def __init__(self, rules: Sequence[SynonymRule], analyzer: Callable[[str], list[str]]) -> None:
        self.rules = list(rules)
        self._targets: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
        for rule in rules:
            outputs = {phrase: tuple(analyzer(phrase)) for phrase in rule.outputs}
            for phrase in rule.inputs:
                key = tuple(analyzer(phrase))
                if not key:
                    continue  # e.g. a stopword alone: it can never be matched
                targets = self._targets.setdefault(key, {})
                for out, terms in outputs.items():
                    if terms and terms != key:
                        targets.setdefault(out, terms)
        self.longest = max((len(k) for k in self._targets), default=0)

    def __len__(self) -> int:
        return len(self._targets)

    def expansions(self, terms: Sequence[str], weight: float = 1.0) -> list[Expansion]:
        """The synonyms of every phrase of the analyzed query ``terms`` (each synonym once; one
        whose terms the query already holds adds nothing and is left out)."""
        out: list[Expansion] = []
        own = set(terms)
        seen: set[str] = set()
        for start in range(len(terms)):
            for length in range(1, min(self.longest, len(terms) - start) + 1):
                key = tuple(terms[start : start + length])
                for synonym, synonym_terms in self._targets.get(key, {}).items():
                    if synonym not in seen and not own.issuperset(synonym_terms):
                        seen.add(synonym)
                        out.append(Expansion(" ".join(key), synonym, synonym_terms, weight))
        return out


def expanded_terms(terms: Sequence[str], expansions: Sequence[Expansion]) -> list[str] | WeightedTerms:
    """The BM25F query: ``terms`` at weight 1 and the expansions' terms that the query does not
    already hold at their weight (the highest when several synonyms add a term)."""
    if not expansions:
        return terms if isinstance(terms, list) else list(terms)
    own = set(terms)
    weights: dict[str, float] = {}
    for expansion in expansions:
        for term in expansion.terms:
            if term not in own:
                weights[term] = max(weights.get(term, 0.0), expansion.weight)
    return WeightedTerms([*terms, *weights], weights)


@lru_cache(maxsize=16)
def _cached_table(path: str, mtime_ns: int, analysis: tuple[bool, bool, str, bool]) -> SynonymTable:
    stem, stopwords, chinese, identifiers = analysis
    analyzer = Analyzer(stem=stem, stopwords=stopwords, chinese=chinese, identifiers=identifiers)
    table = SynonymTable(read_synonyms(path), analyzer)
    logger.info("synonyms: %d phrases from %s", len(table), path)
    return table


def synonym_table(config: SynonymsConfig, lexical: LexicalConfig) -> SynonymTable | None:
    """The configured synonyms analyzed as the ``[lexical]`` index analyzes text (the file is read
    again when it changes); None when off.

    Raises:
        ConfigError: the file does not exist.
        DataError: a bad line.
    """
    if not config.active:
        return None
    path = Path(config.file)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"{path}: synonyms file not found ([synonyms] file)") from None
    return _cached_table(str(path), mtime, (lexical.stem, lexical.stopwords, lexical.chinese, lexical.identifiers))
