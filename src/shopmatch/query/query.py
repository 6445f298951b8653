"""The query: what was asked (text, filters, page, options) and what was understood, parsed once.

A :class:`Query` is made by the caller (CLI, Python API, HTTP service) with the text and the
options; :func:`understand` fills in what the search stages read — the normalized text and what
the query excludes (``cat treats without chicken``) — once, before any stage runs. Later parts of
query understanding (spelling, synonyms, category intent) add their fields here.

Example:
    >>> from shopmatch.query.exclusion import NegationConfig
    >>> query = understand(Query("Cat treats WITHOUT chicken", k=5), NegationConfig())
    >>> query.normalized, [e.phrase for e in query.exclusions]
    ('cat treats without chicken', ['chicken'])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from shopmatch.filters import Filters
from shopmatch.query.exclusion import NegationConfig
from shopmatch.query.negation import Exclusion, parse_exclusions
from shopmatch.text.normalize import normalize

if TYPE_CHECKING:
    from shopmatch.personalize.profiles import UserProfile


@dataclass(frozen=True)
class Query:
    """One search request and its understanding.

    Attributes:
        text: the query as typed.
        k: results wanted (the page size).
        offset: results skipped before the page (paging).
        filters: what results may be (brand, color, category, price, rating).
        explain: add an explanation to each result.
        rerank: re-rank with the index's cross-encoder when it has one.
        facets: count facets over the candidates (the service's filter panel).
        user_id: who searches: with ``[personalize]`` on, their profile re-orders the results.
        profile: the shopper's profile, when the caller has it (the service's live store); else
            the search looks ``user_id`` up in the ``[personalize] profiles`` file.
        normalized: the text as the analyzers see it (filled by :func:`understand`).
        exclusions: what the query excludes (filled by :func:`understand`).
        understood: whether :func:`understand` has run.
    """

    text: str
    k: int = 10
    offset: int = 0
    filters: Filters = field(default_factory=Filters)
    explain: bool = False
    rerank: bool = True
    facets: bool = False
    user_id: str | None = None
    profile: UserProfile | None = field(default=None, compare=False, repr=False)
    normalized: str = ""
    exclusions: tuple[Exclusion, ...] = ()
    understood: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"query text must be a string, got {self.text!r}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        if isinstance(self.offset, bool) or not isinstance(self.offset, int) or self.offset < 0:
            raise ValueError(f"offset must be an integer ≥ 0, got {self.offset!r}")

    @property
    def window(self) -> int:
        """Results up to the end of the page (``offset + k``)."""
        return self.offset + self.k


def understand(query: Query, negation: NegationConfig) -> Query:
    """``query`` with its understanding filled in (itself if that has been done already)."""
    if query.understood:
        return query
    exclusions = tuple(parse_exclusions(query.text)) if negation.enabled else ()
    return replace(query, normalized=normalize(query.text), exclusions=exclusions, understood=True)
