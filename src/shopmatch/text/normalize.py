"""Unicode and unit normalization applied to products and queries alike.

``normalize`` folds what should not matter for matching: Unicode compatibility forms (NFKC,
which also turns full-width ``ＵＳＢ`` into ``USB``), case, typographic quotes, and the many
spellings of units after a number (``12"``, ``12 inch``, ``12-in.`` → ``12in``;
``65 Watt`` → ``65w``), so that a query and a product written differently meet on one token.

Example:
    >>> normalize('ＵＳＢ Cable 6 Feet, 65 Watt, 3/4 in. Pipe, 12" Skillet')
    'usb cable 6ft, 65w, 3/4in pipe, 12in skillet'
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({"“": '"', "”": '"', "″": '"', "‘": "'", "’": "'", "′": "'", "´": "'"})

_NUMBER = r"(\d+(?:[.,]\d+)?(?:/\d+)?)"
# After a number; each pattern maps to the canonical unit suffix.
_UNITS: list[tuple[str, str]] = [
    (r'\s*(?:"|\'\'|-?\s*inch(?:es)?\b|-?\s?in\.(?=\s|$|[,;:)\]]))', "in"),
    (r"\s*(?:'(?![\w'])|-?\s*(?:feet|foot)\b|-?\s?ft\b\.?)", "ft"),
    (r"\s*-?\s*(?:watts?|w)\b", "w"),
    (r"\s*-?\s*(?:volts?|v)\b", "v"),
    (r"\s*-?\s*(?:mah)\b", "mah"),
    (r"\s*-?\s*(?:gb|gigabytes?)\b", "gb"),
    (r"\s*-?\s*(?:tb|terabytes?)\b", "tb"),
    (r"\s*-?\s*(?:mm|millimet(?:er|re)s?)\b", "mm"),
    (r"\s*-?\s*(?:cm|centimet(?:er|re)s?)\b", "cm"),
    (r"\s*-?\s*(?:ml|millilit(?:er|re)s?)\b", "ml"),
    (r"\s*-?\s*(?:fl\.?\s?oz|fluid\s+ounces?)\b\.?", "floz"),
    (r"\s*-?\s*(?:oz|ounces?)\b\.?", "oz"),
    (r"\s*-?\s*(?:lbs?|pounds?)\b\.?", "lb"),
    (r"\s*-?\s*(?:kg|kilograms?)\b", "kg"),
    (r"\s*-?\s*(?:gal(?:lons?)?)\b\.?", "gal"),
    (r"\s*-?\s*(?:qt|quarts?)\b\.?", "qt"),
    (r"\s*-?\s*(?:pack|pk|packs|count|ct|pcs?|pieces?)\b\.?", "pack"),
]
# One pass over the text: every unit spelling is a named alternative after the number.
_UNIT_RE = re.compile(_NUMBER + "(?:" + "|".join(f"(?P<u{i}>{pattern})" for i, (pattern, _) in enumerate(_UNITS)) + ")")
_UNIT_OF_GROUP = {f"u{i}": unit for i, (_, unit) in enumerate(_UNITS)}
UNIT_SUFFIXES = tuple(unit for _, unit in _UNITS)
_SPACES = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # 1,000 W → 1000w


def _join_unit(match: re.Match) -> str:
    return match.group(1) + _UNIT_OF_GROUP[match.lastgroup]


def normalize(text: str, *, units: bool = True) -> str:
    """NFKC, case folding, quote unification and (optionally) unit canonicalization.

    Args:
        text: Any text (English, Chinese, mixed).
        units: Join a number with its unit into one canonical token (``12 inch`` → ``12in``).

    Returns:
        The normalized text, whitespace collapsed.
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    if units and _DIGIT.search(text):
        text = _THOUSANDS.sub("", text)
        text = _UNIT_RE.sub(_join_unit, text)
    return _SPACES.sub(" ", text).strip()
