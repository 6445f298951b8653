"""Analyzer: English stemming/stopwords, identifiers, Chinese (jieba search mode, char), mixed text."""

from __future__ import annotations

import pytest

from shopmatch.catalog import Product
from shopmatch.pipeline import SearchPipeline
from shopmatch.text.tokenize import Analyzer
from tests.conftest import LEXICAL


@pytest.fixture(scope="module")
def analyze():
    return Analyzer()


def test_docstring_examples(analyze):
    assert analyze("Galanz P70D20TL-D4 Microwave Ovens, 20L") == [
        "galanz",
        "p70d20tl-d4",
        "p70d20tld4",
        "p70d20tl",
        "d4",
        "microwav",
        "oven",
        "20l",
    ]
    assert Analyzer(chinese="char")("蓝牙耳机 65W") == ["蓝", "牙", "耳", "机", "65w", "65"]
    assert analyze("Kindle Paperwhite – Now Waterproof") == ["kindl", "paperwhit", "now", "waterproof"]


def test_english_stemming_and_stopwords(analyze):
    assert analyze("The running shoes are for the men") == ["run", "shoe", "men"]
    assert analyze("Men's shoes") == ["men", "shoe"]
    assert analyze("batteries battery") == ["batteri", "batteri"]
    assert Analyzer(stem=False)("the running shoes") == ["running", "shoes"]
    assert Analyzer(stopwords=False)("the shoes") == ["the", "shoe"]


def test_normalization_applies_before_tokenizing(analyze):
    assert analyze("ＵＳＢ　Ｃａｂｌｅ") == analyze("usb cable") == ["usb", "cabl"]
    assert analyze('12" skillet') == analyze("12 inch skillet") == analyze("12 in. skillet")
    assert analyze("6 feet cord") == analyze("6' cord") == ["6ft", "6", "cord"]


def test_identifier_kept_whole_and_split(analyze):
    assert analyze("P70D20TL-D4") == ["p70d20tl-d4", "p70d20tld4", "p70d20tl", "d4"]
    assert analyze("XR-2231B") == ["xr-2231b", "xr2231b", "xr", "2231b"]
    assert analyze("DCD771C2") == ["dcd771c2"]


def test_number_with_unit_gives_number_too(analyze):
    assert analyze("65W") == analyze("65 Watt") == ["65w", "65"]
    assert analyze("3/4 in.") == ["3/4in", "3/4"]
    assert analyze("20000mAh") == ["20000mah", "20000"]


def test_plain_numbers_stay_whole(analyze):
    assert analyze("2.5 3/4 100 15") == ["2.5", "3/4", "100", "15"]


def test_hyphenated_words(analyze):
    assert analyze("t-shirt") == ["t", "shirt", "tshirt"]
    assert analyze("wi-fi") == ["wi", "fi", "wifi"]
    assert analyze("usb-c") == ["usb", "c", "usbc"]


def test_identifiers_off():
    a = Analyzer(identifiers=False)
    assert a("P70D20TL-D4 65W") == ["p70d20tl-d4", "65w"]


def test_invalid_chinese_mode():
    with pytest.raises(ValueError, match="chinese"):
        Analyzer(chinese="pinyin")


def test_chinese_search_mode_overlapping_words(analyze):
    tokens = analyze("微波炉")
    assert "微波" in tokens and "微波炉" in tokens
    assert Analyzer(chinese="jieba")("蓝牙耳机 降噪") == ["蓝牙", "耳机", "降噪"]


def test_default_chinese_is_characters_plus_words(analyze):
    # every character (robust when query and title segment differently) + jieba words of ≥ 2 chars
    assert analyze("蓝牙耳机 降噪") == ["蓝", "牙", "耳", "机", "蓝牙", "耳机", "降", "噪", "降噪"]


def test_chinese_stopwords_dropped(analyze):
    assert "的" not in analyze("好用的充电器")
    assert Analyzer(chinese="char")("微波炉的") == ["微", "波", "炉"]


def test_mixed_chinese_english():
    tokens = Analyzer(chinese="jieba")("小米 Xiaomi 65W GaN charger 氮化镓 充电器 USB-C")
    assert tokens == [
        "小米",
        "xiaomi",
        "65w",
        "65",
        "gan",
        "charger",
        "氮化",
        "镓",
        "充电",
        "电器",
        "充电器",
        "usb",
        "c",
        "usbc",
    ]
    # no space between scripts: still split
    assert Analyzer(chinese="jieba")("iPhone15手机壳") == ["iphone15", "手机", "壳"]
    assert Analyzer(chinese="char")("苹果15pro手机壳") == ["苹", "果", "15pro", "手", "机", "壳"]


def test_many_is_batch(analyze):
    assert analyze.many(["65W", "微波炉"]) == [analyze("65W"), analyze("微波炉")]


# --------------------------------------------------------------------------- ranking behaviour


@pytest.fixture(scope="module")
def model_catalog():
    products = [
        Product("c", "Cordless drill XR-2231C compact"),
        Product("a", "Cordless drill XR-100B compact"),
        Product("b", "Cordless drill XR-2231B compact"),
        Product("d", "XR-2231 drill battery"),
        Product("e", "Drill kit 2231B XR series"),
    ]
    return SearchPipeline.build(products, LEXICAL)


@pytest.mark.parametrize("query", ["XR-2231B", "xr-2231b", "ＸＲ－２２３１Ｂ", "xr-2231b drill", "cordless XR-2231B"])
def test_exact_model_number_ranks_first(model_catalog, query):
    results = model_catalog.search(query, k=5)[0]
    assert results[0].product_id == "b"
    # strictly ahead of everything sharing only parts of it
    assert results[0].score > results[1].score


def test_partial_model_number_still_matches(model_catalog):
    ids = {r.product_id for r in model_catalog.search("2231B", k=5)[0]}
    assert {"b", "e"} <= ids
    assert "c" not in ids


def test_model_number_without_hyphen_matches(model_catalog):
    results = model_catalog.search("XR2231B", k=5)[0]
    assert results and results[0].product_id == "b"


def test_joined_hyphenated_word_is_stemmed():
    pipe = SearchPipeline.build([Product("1", "Mens T-Shirts cotton"), Product("2", "Cotton socks")], LEXICAL)
    for query in ("tshirt", "tshirts"):
        assert [r.product_id for r in pipe.search(query)[0]] == ["1"]


def test_thousands_separator_number_with_unit():
    pipe = SearchPipeline.build([Product("1", "Microwave 1,000 W"), Product("2", "Microwave 700 W")], LEXICAL)
    assert [r.product_id for r in pipe.search("1000w microwave")[0]][:1] == ["1"]
    assert "000w" not in Analyzer()("1,000 W")


def test_unit_spellings_meet(catalog):
    pipe = SearchPipeline.build(catalog.products, LEXICAL)
    # product p008 title: 12" cast iron skillet; the description says 12 inch
    for query in ('12" skillet', "12 inch skillet", "12 in. skillet"):
        assert pipe.search(query, k=1)[0][0].product_id == "p008"
    # full-width title p021 is found by a plain ASCII query
    assert pipe.search("usb cable type-c 1m", k=1)[0][0].product_id == "p021"
