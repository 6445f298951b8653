"""The real-word guard of spelling correction: an English word the catalog does not hold is not
"corrected" into a catalog word, unless the catalog's own title pairs name the correction."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError, IndexFormatError
from shopmatch.pipeline import SearchPipeline
from shopmatch.query import Query, english
from shopmatch.query.spelling import Speller, SpellingConfig, SpellingModel

PRODUCTS = [
    Product("v1", "Vega protein snacks, chocolate"),
    Product("v2", "Vega protein bars"),
    Product("d1", "Cordless drill kit"),
    Product("d2", "Cordless drill driver"),
    Product("d3", "Cordless impact driver"),
    Product("w1", "Copper wire 50 amp, 100 ft"),
    Product("w2", "Breaker 50 amp wire kit"),
    Product("w3", "Aluminum wire, 25 ft"),
    Product("p1", "Peacock feather wall art"),
    Product("p2", "Peacock blue throw pillow"),
]
EASY = {"min_ratio": 1.0, "min_count": 1}


@pytest.fixture(scope="module")
def model() -> SpellingModel:
    return SpellingModel.build(PRODUCTS)


def speller(model: SpellingModel, **settings) -> Speller:
    return Speller(model, SpellingConfig(**EASY, **settings))


def test_a_real_word_the_catalog_lacks_is_not_corrected_and_a_typo_still_is(model):
    assert model.count("vegan") == 0 and model.count("vega") == 2
    unguarded, guarded = speller(model, dictionary="none"), speller(model, dictionary="english")
    assert unguarded.correct("vegan snacks").text == "vega snacks"  # what the guard is for
    spelled = guarded.correct("vegan snacks")
    assert spelled.text == "vegan snacks" and not spelled.corrections
    for each in (unguarded, guarded):
        assert each.correct("cordles drill").text == "cordless drill"
        assert each.correct("Cordles dril").text == "Cordless drill"


def test_the_catalogs_context_overrides_the_guard_only_as_far_as_allowed(model):
    assert model.pair("amp", "wire") == 1
    assert speller(model, dictionary="none").correct("50 amp wife").text == "50 amp wire"
    assert speller(model, dictionary_min_pairs=1).correct("50 amp wife").text == "50 amp wire"
    assert speller(model, dictionary_min_pairs=2).correct("50 amp wife").text == "50 amp wife"
    assert speller(model, dictionary_min_pairs=0).correct("50 amp wife").text == "50 amp wife"  # 0: never
    assert speller(model, dictionary_min_pairs=1).correct("wife").text == "wife"  # no neighbours, no context


def test_a_word_rarer_than_the_threshold_is_not_protected(model):
    assert 10_000 < english.english_counts()["petcock"] < 100_000
    assert speller(model, dictionary_min_count=100_000).correct("petcock").text == "peacock"
    assert speller(model, dictionary_min_count=10_000).correct("petcock").text == "petcock"


def test_identifiers_and_chinese_are_untouched_as_before(model):
    guarded = speller(model)
    for text in ["P70D20TL-D4", "20v drill", "蓝牙耳机", "usb-c"]:
        assert guarded.correct(text).text == text


def test_the_setting_is_checked_and_reaches_the_search_path():
    with pytest.raises(ConfigError, match="spelling.dictionary"):
        PipelineConfig.from_dict({"spelling": {"dictionary": "french"}})
    with pytest.raises(ConfigError, match="spelling.dictionary_min_count"):
        SpellingConfig(dictionary_min_count=0)
    for dictionary, searched in (("none", "vega snacks"), ("english", "vegan snacks")):
        config = PipelineConfig.from_dict({"spelling": {**EASY, "dictionary": dictionary}})
        pipe = SearchPipeline.build(PRODUCTS, replace(config, retrievers=("lexical",)))
        assert pipe.search_pages([Query("vegan snacks", k=2)])[0].query.searched == searched


def test_a_damaged_dictionary_names_the_file_and_line(tmp_path, monkeypatch):
    damaged = tmp_path / english.DICTIONARY_FILE
    damaged.write_text("the 100\nvegan lots\n", encoding="utf-8")
    monkeypatch.setattr(english, "dictionary_path", lambda: damaged)
    english.english_counts.cache_clear()
    try:
        with pytest.raises(IndexFormatError, match=r"frequency_dictionary_en_82_765.txt, line 2"):
            english.english_counts()
        monkeypatch.setattr(english, "dictionary_path", lambda: tmp_path / "missing.txt")
        with pytest.raises(IndexFormatError, match="missing.txt"):
            english.english_counts()
    finally:
        english.english_counts.cache_clear()
