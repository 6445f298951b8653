"""The query: what was asked (text, filters, page, options) and what was understood, parsed once.

A :class:`Query` is made by the caller (CLI, Python API, HTTP service) with the text and the
options; :func:`understand` fills in what the search stages read — the normalized text and what
the query excludes (``cat treats without chicken``) and, for a catalog with Chinese, what a pinyin
query means (``pingguo shouji`` → ``苹果 手机``: :mod:`shopmatch.query.pinyin`) — once, before any
stage runs. Later parts of query understanding (spelling, synonyms, category intent) add their
fields here. The retrievers read :attr:`Query.search_text`.

Example:
    >>> from shopmatch.query.exclusion import NegationConfig
    >>> query = understand(Query("Cat treats WITHOUT chicken", k=5), NegationConfig())
    >>> query.normalized, [e.phrase for e in query.exclusions]
    ('cat treats without chicken', ['chicken'])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from shopmatch.filters import Filters
from shopmatch.query.exclusion import NegationConfig
from shopmatch.query.negation import Exclusion, parse_exclusions
from shopmatch.query.pinyin import PinyinIndex, PinyinRewrite
from shopmatch.text.normalize import normalize


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
        normalized: the text as the analyzers see it (filled by :func:`understand`).
        exclusions: what the query excludes (filled by :func:`understand`).
        pinyin: the query's pinyin words read as the catalog's Chinese terms (filled by
            :func:`understand` when the index has a pinyin index; None: not a pinyin query).
        understood: whether :func:`understand` has run.
    """

    text: str
    k: int = 10
    offset: int = 0
    filters: Filters = field(default_factory=Filters)
    explain: bool = False
    rerank: bool = True
    facets: bool = False
    normalized: str = ""
    exclusions: tuple[Exclusion, ...] = ()
    pinyin: PinyinRewrite | None = None
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

    @property
    def search_text(self) -> str:
        """What the retrievers and re-rankers read: the query rewritten from pinyin, or as typed."""
        return self.pinyin.text if self.pinyin is not None else self.text

    def understanding(self) -> dict:
        """What query understanding did (for ``/explain`` and ``search --json``)."""
        out: dict = {"normalized": self.normalized, "exclusions": [e.phrase for e in self.exclusions]}
        if self.pinyin is not None:
            out["pinyin"] = self.pinyin.to_dict()
        return out


def understand(query: Query, negation: NegationConfig, pinyin: PinyinIndex | None = None) -> Query:
    """``query`` with its understanding filled in (itself if that has been done already).

    Args:
        query: as asked.
        negation: the exclusion settings.
        pinyin: the index's pinyin index (None: pinyin queries are searched as typed).
    """
    if query.understood:
        return query
    exclusions = tuple(parse_exclusions(query.text)) if negation.enabled else ()
    rewrite = pinyin.rewrite(query.text) if pinyin is not None else None
    return replace(query, normalized=normalize(query.text), exclusions=exclusions, pinyin=rewrite, understood=True)
