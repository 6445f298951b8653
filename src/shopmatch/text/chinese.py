"""Chinese text helpers: traditional → simplified folding and jieba with a catalog's own words.

- :func:`to_simplified` folds traditional characters to simplified ones (OpenCC's ``t2s``
  tables, pure Python), so ``蘋果手機`` and ``苹果手机`` meet on the same terms; the analyzer
  applies it to products and queries alike.
- :func:`segmenter` is jieba with extra words (a catalog's brands, e.g. ``兰芝``, ``格兰仕``)
  added to its dictionary, so segmentation keeps them whole; each word list gets its own
  tokenizer (the process-wide jieba dictionary is never changed).
- :func:`catalog_words` picks those words from a catalog: its brand values (``Laneige/兰芝``
  gives ``兰芝``) and, optionally, frequent product terms.

Example:
    >>> to_simplified("蘋果手機 無線藍牙耳機")
    '苹果手机 无线蓝牙耳机'
    >>> list(segmenter(("兰芝",)).cut("兰芝隔离霜"))
    ['兰芝', '隔离霜']
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopmatch.catalog import Product

logger = logging.getLogger(__name__)

# CJK unified ideographs (+ extension A, compatibility, extension B..F)
CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
CJK_RUN = re.compile(f"[{CJK}]+")
USER_DICT_MODES = ("brands", "brands+terms", "off")
# A product term joins the dictionary when this many products hold it (``brands+terms``).
MIN_TERM_PRODUCTS = 5
MAX_WORD_CHARS = 8
BRAND_ATTRIBUTES = frozenset({"brand", "品牌"})

_lock = threading.Lock()
_default_ready = False


def jieba_default():
    """The process-wide jieba tokenizer, initialized once, quietly."""
    global _default_ready
    import jieba

    if not _default_ready:
        with _lock:
            if not _default_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _default_ready = True
    return jieba.dt


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """``text`` with traditional Chinese characters folded to simplified ones (others unchanged)."""
    if not CJK_RUN.search(text):
        return text
    return CJK_RUN.sub(lambda m: _t2s().convert(m.group()), text)


@lru_cache(maxsize=8)
def segmenter(words: tuple[str, ...] = ()) -> Any:
    """A jieba tokenizer whose dictionary also holds ``words`` (the default one for no words)."""
    default = jieba_default()
    if not words:
        return default
    import jieba

    tokenizer = jieba.Tokenizer()
    with _lock:
        tokenizer.FREQ = dict(default.FREQ)  # a copy: the default dictionary stays as it is
        tokenizer.total = default.total
        tokenizer.initialized = True
    for word in words:
        if word not in tokenizer.FREQ or not tokenizer.FREQ[word]:
            tokenizer.add_word(word)
    return tokenizer


def brand_words(brand: str) -> list[str]:
    """The Chinese names in a brand value (``Laneige/兰芝`` → ``兰芝``), folded to simplified."""
    return [w for w in CJK_RUN.findall(to_simplified(brand)) if 2 <= len(w) <= MAX_WORD_CHARS]


def catalog_words(products: Sequence[Product], mode: str = "brands") -> tuple[str, ...]:
    """The words a catalog adds to jieba's dictionary (sorted, so the same catalog gives the same words).

    Args:
        products: the catalog.
        mode: ``"brands"`` (the Chinese parts of brand values: the ``brand`` field and a
            ``brand``/``品牌`` attribute), ``"brands+terms"`` (also Chinese
            runs of two to eight characters that stand alone — between spaces or punctuation —
            in the titles of at least :data:`MIN_TERM_PRODUCTS` products) or ``"off"``.
    """
    if mode not in USER_DICT_MODES:
        raise ValueError(f"user_dict must be one of {', '.join(USER_DICT_MODES)}, got {mode!r}")
    if mode == "off":
        return ()
    words: set[str] = set()
    for product in products:
        if product.brand:
            words.update(brand_words(product.brand))
        for name, value in product.attributes.items():
            if name.strip().casefold() in BRAND_ATTRIBUTES:
                words.update(brand_words(value))
    if mode == "brands+terms":
        words.update(_frequent_title_terms(p.title for p in products))
    return tuple(sorted(words))


def _frequent_title_terms(titles: Iterable[str]) -> set[str]:
    counts: Counter[str] = Counter()
    for title in titles:
        # a run standing alone: the whole whitespace/punctuation-delimited chunk is Chinese
        chunks = re.split(r"[\s,，、;；/|()（）【】\[\]]+", to_simplified(title))
        counts.update({c for c in chunks if 2 <= len(c) <= MAX_WORD_CHARS and CJK_RUN.fullmatch(c)})
    return {term for term, n in counts.items() if n >= MIN_TERM_PRODUCTS}
