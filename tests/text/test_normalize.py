"""normalize(): NFKC/width, case folding, quotes, units after numbers."""

from __future__ import annotations

import pytest

from shopmatch.text.normalize import normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＵＳＢ　Ｃａｂｌｅ　Ｔｙｐｅ－Ｃ　１ｍ", "usb cable type-c 1m"),  # full width -> ASCII (NFKC)
        ("Ｖｏｌｔｒａ", "voltra"),
        ("Straße", "strasse"),  # casefold, not just lower
        ("ﬁts", "fits"),  # ligature
        ("①", "1"),
        ("  Kindle\t Paperwhite \n", "kindle paperwhite"),  # whitespace collapsed
        ("“quoted” ‘single’", "\"quoted\" 'single'"),
    ],
)
def test_unicode_and_case(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text",
    ['12"', "12 inch", "12 inches", "12-inch", "12 in.", "12in", "12”", "12 IN.", "１２ inch", "12''"],
)
def test_inches(text):
    assert normalize(text) == "12in"


@pytest.mark.parametrize(
    ("text", "expected"), [("12-in.", "12in"), ("12-in. skillet", "12in skillet"), ("6-ft", "6ft")]
)
def test_hyphenated_unit_abbreviations(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3/4 in.", "3/4in"),
        ("3/4 in. copper pipe", "3/4in copper pipe"),
        ("1/2 in., tee", "1/2in, tee"),
        ("2.5 inch", "2.5in"),
        ("36 in. x 18 in. x 72 in.", "36in x 18in x 72in"),
    ],
)
def test_fractions_and_decimals_with_inches(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text", ["6 ft", "6'", "6 feet", "6 foot", "6ft.", "6 FT", "6’"])
def test_feet(text):
    assert normalize(text) == "6ft"


@pytest.mark.parametrize("text", ["65 Watt", "65W", "65 watts", "65-watt", "65 w", "６５Ｗ"])
def test_watts(text):
    assert normalize(text) == "65w"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20 V", "20v"),
        ("20 volts", "20v"),
        ("5000 mAh", "5000mah"),
        ("32 oz.", "32oz"),
        ("16 fl oz", "16floz"),
        ("16 fl. oz.", "16floz"),
        ("10 lbs", "10lb"),
        ("2 gallons", "2gal"),
        ("10-Pack", "10pack"),
        ("29 pieces", "29pack"),
        ("256 GB", "256gb"),
        ("2 TB", "2tb"),
        ("100 ml", "100ml"),
        ("30 cm", "30cm"),
        ("5 kg", "5kg"),
    ],
)
def test_other_units(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2 in 1 charger",  # 'in' without a period is the word, not inches
        "plug in. now",  # no number before it
        "12 index cards",
        "size 10 women",
        "iphone 15 pro",
    ],
)
def test_no_false_units(text):
    assert normalize(text) == text.lower()


def test_units_can_be_disabled():
    assert normalize("12 Inch 65 Watt", units=False) == "12 inch 65 watt"


def test_docstring_example():
    assert normalize('ＵＳＢ Cable 6 Feet, 65 Watt, 3/4 in. Pipe, 12" Skillet') == (
        "usb cable 6ft, 65w, 3/4in pipe, 12in skillet"
    )


def test_idempotent():
    text = 'Galaxy 12" Skillet, 6 ft cord, 65 Watt, ＵＳＢ 3/4 in.'
    once = normalize(text)
    assert normalize(once) == once
