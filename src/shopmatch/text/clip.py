"""Cut a long text after its first N words: the part a model's token limit would drop anyway.

A cross-encoder reads at most ``max_length`` tokens of a query and a product text together,
while a product text (title, bullets, description) often runs to a hundred words or more.
Tokenizing the part that truncation then throws away cost a 2-layer, 32-token re-ranker 5-6 ms
of about 40 per 50 candidates (``bench/rerank_clipping.py``). Cutting the text first changes
nothing the model sees as long as the kept words still give at least as many tokens as the limit
lets through: every word counted here holds a letter or a digit, which WordPiece, SentencePiece
and byte-level BPE tokenizers never drop, so each gives at least one token; and the cut falls on
whitespace, so the tokens of the kept words are the ones the whole text would give.

Example:
    >>> clip_words("Red ceramic mug, 12 oz -- dishwasher safe", 3)
    'Red ceramic mug,'
    >>> clip_words("short text", 5)
    'short text'
"""

from __future__ import annotations

import re

# A whitespace-separated run holding at least one letter or digit ([^\W_]: a word character but "_").
_COUNTED_WORD = re.compile(r"\S*[^\W_]\S*")


def clip_words(text: str, words: int) -> str:
    """``text`` up to the end of its ``words``-th counted word (a run of non-whitespace holding a
    letter or digit; runs of only punctuation are kept but not counted); ``text`` itself when it
    has no more words than that.

    Raises:
        ValueError: ``words`` is below 1.
    """
    if words < 1:
        raise ValueError(f"words must be at least 1, got {words}")
    end = None
    for count, match in enumerate(_COUNTED_WORD.finditer(text), start=1):
        if count == words:
            end = match.end()
        elif count > words:  # there is more to cut
            return text[:end]
    return text
