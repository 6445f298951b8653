"""Pinyin queries read as the catalog's Chinese terms, through the one search path."""

from __future__ import annotations

import json
import shutil

import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import IndexFormatError
from shopmatch.pipeline import SearchPipeline
from shopmatch.query.pinyin import PinyinConfig, PinyinIndex

PRODUCTS = [
    Product("p1", "苹果手机 256G 黑色", brand="苹果"),
    Product("p2", "华为手机 Mate60", brand="华为/HUAWEI"),
    Product("p3", "新鲜苹果 水果 5斤"),
    Product("p4", "无线蓝牙耳机 降噪"),
    Product("p5", "Apple USB-C cable"),
]
LEXICAL = PipelineConfig.from_dict({"pipeline": {"retrievers": ["lexical"]}})


@pytest.fixture(scope="module")
def pipe():
    return SearchPipeline.build(PRODUCTS, LEXICAL)


def test_full_pinyin_and_initials_are_rewritten():
    index = PinyinIndex.build(PRODUCTS)
    assert index.rewrite("pingguo shouji").text == "苹果 手机"
    assert index.rewrite("pingguoshouji").text == "苹果手机"
    assert index.rewrite("pgsj").text == "苹果手机"
    assert index.rewrite("lanya erji").text == "蓝牙 耳机"
    pieces = index.rewrite("wxly").pieces
    assert [(p.letters, p.kind) for p in pieces] == [("wxly", "initials")] and pieces[0].term == "无线蓝牙"


def test_english_words_of_the_catalog_and_non_pinyin_stay():
    index = PinyinIndex.build(PRODUCTS)
    assert index.rewrite("apple") is None  # a word of the catalog
    assert index.rewrite("huawei shouji").text == "huawei 手机"  # the brand as the catalog writes it
    assert index.rewrite("xyzzy") is None  # not pinyin of any catalog term
    assert index.rewrite("苹果") is None
    assert index.rewrite("usb-c 65w") is None


def test_no_pinyin_index_for_a_catalog_without_chinese():
    assert PinyinIndex.build([Product("1", "USB-C cable"), Product("2", "HDMI cable")]) is None


def test_search_finds_the_chinese_product_and_says_why(pipe):
    for query in ("pingguo shouji", "pgsj"):
        page = pipe.search_pages([query])[0]
        assert page.results[0].product_id == "p1"
        understood = page.to_dict()["understanding"]
        assert understood["pinyin"]["to"] == page.query.searched
        assert understood["pinyin"]["pieces"][0]["term"].startswith("苹果")
    english = pipe.search_pages(["apple cable"])[0]
    assert english.results[0].product_id == "p5" and "pinyin" not in english.to_dict()["understanding"]
    explained = pipe.explain("pgsj", "p1")
    assert explained["understanding"]["pinyin"]["to"] == "苹果手机"


def test_pinyin_can_be_turned_off(pipe):
    off = pipe.with_config(pinyin=PinyinConfig(enabled=False))
    page = off.search_pages(["pingguo shouji"])[0]
    assert page.query.pinyin is None and page.results == []


def test_saved_and_loaded_and_an_older_index_without_it(pipe, tmp_path):
    directory = pipe.save(tmp_path / "index")
    loaded = SearchPipeline.load(directory)
    assert loaded.index.pinyin.rewrite("pgsj") == pipe.index.pinyin.rewrite("pgsj")
    old = tmp_path / "old"
    shutil.copytree(directory, old)
    shutil.rmtree(old / "pinyin")
    assert SearchPipeline.load(old).search_pages(["pingguo"])[0].results == []  # searched as typed
    (directory / "pinyin" / "pinyin.json").write_text("{")
    with pytest.raises(IndexFormatError, match="pinyin.json"):
        SearchPipeline.load(directory)


def test_config_section_round_trips():
    config = PipelineConfig.from_dict({"pinyin": {"enabled": False}})
    assert config.pinyin.enabled is False
    assert PipelineConfig.from_dict(json.loads(json.dumps(config.to_dict()))).pinyin.enabled is False
