"""Negated parts of a query: ``cat treats without chicken`` excludes products with chicken.

Lexical and semantic retrievers alike reward a product for every query word it holds, so for
``cat treats without chicken`` the chicken treats rank first. This module finds what a query
excludes and tells whether a product text mentions it:

- a **cue** (``without``, ``w/o``) starts an exclusion; it runs to the next boundary word
  (``with``, ``for``, ``and``, ``or``, ``in``, ``to``, ``that``, ``but``), another cue or the end:
  ``lights without wiring with switch`` excludes ``wiring`` and keeps ``with switch``;
- a query that is only an exclusion (``without chicken``) excludes nothing: there is nothing
  left to search for; nor do the words the query also asks for (``tool cases without tools``:
  every tool case holds ``tool``);
- ``no`` and ``not`` are not cues: product names use them (``no show socks``, ``Watch the Game
  Not Your Phone T-Shirt``);
- a text **mentions** an exclusion when it holds every one of its terms (stemmed, stopwords
  dropped) outside a negated context: a term is negated when one of the three words before it
  in its clause is ``without``, ``no``, ``not``, ``non`` or ``w/o``, or the word after
  it is ``free`` or ``less`` (a clause ends at punctuation, ``with`` or ``but``).
  ``Chicken-Free Cat Treats`` and ``Drain without Overflow`` do not mention ``chicken`` and
  ``overflow``; they are what the shopper asked for.

Example:
    >>> [e.phrase for e in parse_exclusions("cat treats without chicken")]
    ['chicken']
    >>> (exclusion,) = parse_exclusions("mens bathing suits without mesh liner")
    >>> mentions("Swim Trunks with Mesh Liner", exclusion), mentions("Swim Trunks, No Mesh Liner", exclusion)
    (True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from shopmatch.text.tokenize import Analyzer

CUES = frozenset({"without", "w/o"})
BOUNDARIES = frozenset({"with", "for", "and", "or", "in", "to", "that", "but"})
NEGATION_WINDOW = 3  # words before a term that can negate it

_QUERY_WORD = re.compile(r"w/o|[^\W_]+(?:[-/.'][^\W_]+)*")
_WITHOUT_ABBREVIATION = re.compile(r"\bw/o\b", re.IGNORECASE)
# A negation reaches to the end of its clause: punctuation, "with" or "but" end it.
_CLAUSE_END = re.compile(r"[,;:|()\[\]/]|\s[-–—]\s|\b(?:with|but)\b", re.IGNORECASE)
_terms = Analyzer()  # stemmed, stopwords dropped: the terms an exclusion is about
_words = Analyzer(stopwords=False, identifiers=False)  # every word in order, for negated contexts
_NEGATING_BEFORE = frozenset(_words("without no not non"))
_NEGATING_AFTER = frozenset(_words("free less"))


@dataclass(frozen=True)
class Exclusion:
    """One thing a query excludes.

    Attributes:
        phrase: the excluded words as typed (``mesh liner``).
        terms: their index terms (``mesh``, ``liner``); a text must hold all of them to mention it.
    """

    phrase: str
    terms: tuple[str, ...]


def parse_exclusions(query: str) -> list[Exclusion]:
    """What ``query`` excludes (empty for most queries).

    >>> [e.phrase for e in parse_exclusions("lights without wiring with switch")]
    ['wiring']
    >>> parse_exclusions("without chicken"), parse_exclusions("no show socks")
    ([], [])
    >>> parse_exclusions("dewalt tool cases without tools")
    []
    """
    lowered = query.lower()
    if "without" not in lowered and "w/o" not in lowered:
        return []  # most queries: no cue, nothing to analyze
    words = _QUERY_WORD.findall(lowered)
    exclusions: list[Exclusion] = []
    kept: list[str] = []
    i = 0
    while i < len(words):
        if words[i] not in CUES:
            kept.append(words[i])
            i += 1
            continue
        end = i + 1
        while end < len(words) and words[end] not in BOUNDARIES and words[end] not in CUES:
            end += 1
        phrase = " ".join(words[i + 1 : end])
        exclusions.append(Exclusion(phrase, tuple(dict.fromkeys(_terms(phrase)))))
        i = end
    wanted = set(_terms(" ".join(kept)))
    if not wanted:
        return []
    # every product found holds the wanted terms, so they cannot tell what is excluded
    out = []
    for exclusion in exclusions:
        terms = tuple(t for t in exclusion.terms if t not in wanted)
        if terms:
            out.append(Exclusion(exclusion.phrase, terms))
    return out


@lru_cache(maxsize=65_536)
def plain_terms(text: str) -> frozenset[str]:
    """The index terms ``text`` holds outside a negated context."""
    plain = set()
    for clause in _CLAUSE_END.split(_WITHOUT_ABBREVIATION.sub("without", text)):
        words = _words(clause)
        for i, word in enumerate(words):
            before = words[max(0, i - NEGATION_WINDOW) : i]
            after = words[i + 1 : i + 2]
            if _NEGATING_BEFORE.isdisjoint(before) and _NEGATING_AFTER.isdisjoint(after):
                plain.add(word)
    return frozenset(plain)


def mentions(text: str, exclusion: Exclusion) -> bool:
    """Whether ``text`` holds every term of ``exclusion`` outside a negated context."""
    plain = plain_terms(text)
    return all(term in plain for term in exclusion.terms)
