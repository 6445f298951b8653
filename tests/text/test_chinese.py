"""Traditional → simplified folding and the catalog's jieba user dictionary."""

from __future__ import annotations

import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.pipeline import SearchPipeline
from shopmatch.text.chinese import catalog_words, segmenter, to_simplified
from shopmatch.text.tokenize import Analyzer

LEXICAL = {"pipeline": {"retrievers": ["lexical"]}}


def test_to_simplified_folds_only_traditional_characters():
    assert to_simplified("蘋果手機 iPhone 15 無線") == "苹果手机 iPhone 15 无线"
    assert to_simplified("苹果手机") == "苹果手机"
    assert to_simplified("USB cable") == "USB cable"


def test_analyzer_folds_products_and_queries_alike():
    assert Analyzer()("無線藍牙耳機") == Analyzer()("无线蓝牙耳机")
    assert Analyzer(traditional=False)("無線") != Analyzer(traditional=False)("无线")


def test_traditional_query_finds_simplified_product_and_back():
    products = [Product("1", "无线蓝牙耳机 降噪"), Product("2", "機械鍵盤 青軸"), Product("3", "USB cable")]
    pipe = SearchPipeline.build(products, PipelineConfig.from_dict(LEXICAL))
    assert [r.product_id for r in pipe.search("無線藍牙耳機", k=3)[0]][:1] == ["1"]
    assert [r.product_id for r in pipe.search("机械键盘", k=3)[0]][:1] == ["2"]


def test_user_dictionary_keeps_a_brand_whole():
    assert list(segmenter().cut("花西子散粉")) == ["花", "西子", "散粉"]  # jieba alone splits the brand
    words = catalog_words([Product("1", "散粉 定妆", brand="Florasis/花西子"), Product("2", "口红", brand="Apple")])
    assert words == ("花西子",)
    assert list(segmenter(words).cut("花西子散粉")) == ["花西子", "散粉"]
    assert list(segmenter().cut("花西子散粉")) == ["花", "西子", "散粉"]  # the process-wide jieba is unchanged


def test_user_dictionary_is_built_with_the_index_and_saved(tmp_path):
    products = [Product("1", "花西子 散粉 定妆", brand="花西子"), Product("2", "完美日记 口红", brand="完美日记")]
    pipe = SearchPipeline.build(products, PipelineConfig.from_dict(LEXICAL))
    lexical = pipe.retrievers["lexical"]
    assert lexical.user_words == ("完美日记", "花西子")
    assert "花西子" in lexical.analyzer("花西子散粉")
    loaded = SearchPipeline.load(pipe.save(tmp_path / "index"))
    assert loaded.retrievers["lexical"].user_words == ("完美日记", "花西子")
    assert loaded.retrievers["lexical"].analyzer("花西子散粉") == lexical.analyzer("花西子散粉")
    off = SearchPipeline.build(products, PipelineConfig.from_dict({**LEXICAL, "lexical": {"user_dict": "off"}}))
    assert off.retrievers["lexical"].user_words == ()
    assert "花西子" not in off.retrievers["lexical"].analyzer("花西子散粉")


def test_brands_and_terms_adds_frequent_stand_alone_title_terms():
    products = [Product(str(i), f"石头科技 扫地机 型号{i}") for i in range(5)]
    assert catalog_words(products, "brands") == ()
    assert "石头科技" in catalog_words(products, "brands+terms")
    with pytest.raises(ValueError, match="user_dict must be one of"):
        catalog_words(products, "everything")


def test_an_index_saved_before_the_folding_keeps_it_off(tmp_path):
    import json

    pipe = SearchPipeline.build([Product("1", "無線耳機")], PipelineConfig.from_dict(LEXICAL))
    directory = pipe.save(tmp_path / "index")
    config_file = directory / "lexical" / "lexical_config.json"
    saved = json.loads(config_file.read_text())
    del saved["traditional"]
    config_file.write_text(json.dumps(saved))
    assert SearchPipeline.load(directory).retrievers["lexical"].config.traditional is False
