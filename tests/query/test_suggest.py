"""Suggestions: prefix completion from the catalog's phrases (English, Chinese, pinyin), typos, clicked queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import IndexFormatError
from shopmatch.events.io import collect_events
from shopmatch.events.model import Impression, Interaction
from shopmatch.pipeline import SearchPipeline
from shopmatch.query.pinyin import PinyinIndex
from shopmatch.query.suggest import Suggester, clicked_queries, matching_products

PRODUCTS = [
    Product("1", "Wireless Bluetooth Headphones", brand="Sonora", category=["Electronics", "Audio"]),
    Product("2", "Wireless Mouse", brand="Clicky", category=["Electronics", "Computers"]),
    Product("3", "Wireless Bluetooth Speaker", brand="Sonora", category=["Electronics", "Audio"]),
    Product("4", "苹果手机 256G", brand="苹果"),
    Product("5", "蘋果 新鮮水果"),
]


@pytest.fixture(scope="module")
def suggester():
    return Suggester.build(PRODUCTS, PinyinIndex.build(PRODUCTS))


def texts(found):
    return [s.text for s in found]


def test_english_prefixes_complete_to_catalog_phrases_with_counts(suggester):
    found = suggester.suggest("wirel", limit=3)
    assert found[0].text == "wireless" and found[0].results == 3
    assert "wireless bluetooth" in texts(found) and not any(s.typo for s in found)
    assert texts(suggester.suggest("Sono", limit=1)) == ["sonora"]
    assert texts(suggester.suggest("audio", limit=1)) == ["audio"]
    assert suggester.suggest("zzz") == [] and suggester.suggest("") == []


def test_chinese_and_pinyin_prefixes(suggester):
    assert texts(suggester.suggest("苹", limit=2)) == ["苹果", "苹果手机"]
    assert suggester.suggest("苹", limit=1)[0].results == 2  # 蘋果 folded to 苹果
    assert texts(suggester.suggest("蘋果", limit=1)) == ["苹果"]
    assert texts(suggester.suggest("pingg", limit=1)) == ["苹果"]
    assert "苹果手机" in texts(suggester.suggest("pgsj"))
    assert "苹果手机" in texts(suggester.suggest("pingguosh"))


def test_one_typo_from_four_letters(suggester):
    found = suggester.suggest("wirls", limit=2)  # one letter missing... and one wrong: two edits
    assert found == []
    found = suggester.suggest("wirless", limit=2)
    assert found and found[0].text.startswith("wireless") and found[0].typo
    assert suggester.suggest("wrl") == []  # under four letters: exact prefixes only


def test_clicked_queries_are_suggested_first():
    ts = datetime(2026, 12, 6, tzinfo=UTC)
    log = collect_events(
        [
            Impression("s1", "Wireless Earbuds", ("1",), ts),
            Impression("s2", "wireless earbuds", ("1",), ts),
            Impression("s3", "wireless charger", ("2",), ts),  # shown, never clicked
            Interaction("click", "s1", "1", ts),
            Interaction("click", "s2", "1", ts),
        ]
    )
    clicked = clicked_queries([log])
    assert clicked == {"wireless earbuds": 2}
    pipe = SearchPipeline.build(PRODUCTS, PipelineConfig.from_dict({"pipeline": {"retrievers": ["lexical"]}}))
    lexical = pipe.retrievers["lexical"]
    assert matching_products(lexical, "wireless bluetooth") == 2
    with_clicks = pipe.index.suggester.with_queries(clicked, lambda text: matching_products(lexical, text))
    top = with_clicks.suggest("wireless e", limit=1)[0]
    assert (top.text, top.results, top.clicks) == ("wireless earbuds", 0, 2)
    assert with_clicks.suggest("wireless", limit=1)[0].text == "wireless earbuds"


def test_saved_and_loaded(suggester, tmp_path):
    loaded = Suggester.load(suggester.save(tmp_path / "suggest"))
    assert loaded.suggest("pgsj") == suggester.suggest("pgsj")
    assert Suggester.load(tmp_path / "absent") is None
    (tmp_path / "suggest" / "suggest.json").write_text("[]")
    with pytest.raises(IndexFormatError, match="suggest.json"):
        Suggester.load(tmp_path / "suggest")
