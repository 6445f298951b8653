"""The query: what was asked (text, filters, page, options) and what was understood, parsed once.

A :class:`Query` is made by the caller (CLI, Python API, HTTP service) with the text and the
options; :func:`understand` fills in what the search stages read — for a catalog with Chinese,
what a pinyin query means (``pingguo shouji`` → ``苹果 手机``: :mod:`shopmatch.query.pinyin`), else
the spelling correction (``cordless dril`` → ``cordless drill``, :mod:`shopmatch.query.spelling`),
the normalized text and what the query excludes (``cat treats without chicken``) — once, before any
stage runs. The stages search :attr:`Query.searched` (the pinyin reading or the corrected text,
else the text as typed).

Example:
    >>> from shopmatch.query.exclusion import NegationConfig
    >>> query = understand(Query("Cat treats WITHOUT chicken", k=5), NegationConfig())
    >>> query.normalized, [e.phrase for e in query.exclusions]
    ('cat treats without chicken', ['chicken'])
    >>> from shopmatch.catalog import Product
    >>> from shopmatch.query.spelling import Speller, SpellingConfig, SpellingModel
    >>> model = SpellingModel.build([Product("1", "Cordless drill"), Product("2", "Hammer drill")])
    >>> speller = Speller(model, SpellingConfig(min_ratio=1.0, min_count=1))
    >>> understand(Query("cordless dril"), NegationConfig(), speller).searched
    'cordless drill'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from shopmatch.filters import Filters
from shopmatch.query.exclusion import NegationConfig
from shopmatch.query.negation import Exclusion, parse_exclusions
from shopmatch.query.pinyin import PinyinIndex, PinyinRewrite
from shopmatch.query.spelling import Correction, Speller
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
        spelling: correct misspelled words (when the index has a spelling model and
            ``[spelling]`` is enabled); False searches the text as typed.
        corrected: the text with its misspellings corrected, "" when nothing was corrected
            (filled by :func:`understand`).
        corrections: each corrected word (filled by :func:`understand`).
        normalized: the searched text as the analyzers see it (filled by :func:`understand`).
        user_id: who searches: with ``[personalize]`` on, their profile re-orders the results.
        profile: the shopper's profile, when the caller has it (the service's live store); else
            the search looks ``user_id`` up in the ``[personalize] profiles`` file.
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
    spelling: bool = True
    corrected: str = ""
    corrections: tuple[Correction, ...] = ()
    user_id: str | None = None
    profile: UserProfile | None = field(default=None, compare=False, repr=False)
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
    def searched(self) -> str:
        """The text the stages search: the query read from pinyin, else the corrected text, else the
        text as typed."""
        if self.pinyin is not None:
            return self.pinyin.text
        return self.corrected or self.text

    def understanding(self) -> dict:
        """What query understanding did (for ``/explain`` and ``search --json``)."""
        out: dict = {"normalized": self.normalized, "exclusions": [e.phrase for e in self.exclusions]}
        if self.corrections:
            out["corrected"] = self.corrected
            out["corrections"] = [c.to_dict() for c in self.corrections]
        if self.pinyin is not None:
            out["pinyin"] = self.pinyin.to_dict()
        return out


def understand(
    query: Query,
    negation: NegationConfig,
    speller: Speller | None = None,
    pinyin: PinyinIndex | None = None,
) -> Query:
    """``query`` with its understanding filled in (itself if that has been done already).

    Args:
        query: as asked.
        negation: the exclusion settings.
        speller: corrects its spelling unless the query turned that off (``spelling=False``);
            a query read as pinyin is not spell-corrected.
        pinyin: the index's pinyin index (None: pinyin queries are searched as typed).
    """
    if query.understood:
        return query
    rewrite = pinyin.rewrite(query.text) if pinyin is not None else None
    corrected, corrections = "", ()
    if rewrite is None and speller is not None and query.spelling:
        spelled = speller.correct(query.text)
        if spelled.corrections:
            corrected, corrections = spelled.text, spelled.corrections
    text = corrected or query.text
    exclusions = tuple(parse_exclusions(text)) if negation.enabled else ()
    return replace(
        query,
        corrected=corrected,
        corrections=corrections,
        normalized=normalize(text),
        exclusions=exclusions,
        pinyin=rewrite,
        understood=True,
    )
