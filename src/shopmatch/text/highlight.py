"""Cut a text into matching and not-matching segments, so a page can highlight words safely.

Example:
    >>> from shopmatch.text.tokenize import Analyzer
    >>> [(s["text"], s["match"]) for s in highlight("USB-C cable, 6ft", {"usb", "cabl"}, Analyzer())]
    [('USB', True), ('-C ', False), ('cable', True), (', 6ft', False)]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shopmatch.text.tokenize import _CJK

# A word for highlighting and occlusion: one CJK character, or a run of letters and digits.
WORD = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+")


def highlight(text: str, terms: set[str], analyzer: Callable[[str], list[str]]) -> list[dict[str, Any]]:
    """``text`` as consecutive segments, ``match`` true for the words whose terms are in ``terms``."""
    segments: list[dict[str, Any]] = []
    position = 0

    def add(piece: str, match: bool) -> None:
        if not piece:
            return
        if segments and segments[-1]["match"] == match:
            segments[-1]["text"] += piece
        else:
            segments.append({"text": piece, "match": match})

    for word in WORD.finditer(text):
        add(text[position : word.start()], False)
        add(word.group(), bool(terms.intersection(analyzer(word.group()))))
        position = word.end()
    add(text[position:], False)
    return segments
