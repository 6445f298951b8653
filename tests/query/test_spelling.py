"""Spelling correction: the model counted from a catalog, what is corrected and what never is,
the off switches, saving and loading, and the search path (a test that fails without correction)."""

from __future__ import annotations

import json

import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError, IndexFormatError
from shopmatch.pipeline import SearchPipeline
from shopmatch.query import Query
from shopmatch.query.spelling import Speller, SpellingConfig, SpellingModel, words_of

PRODUCTS = [
    Product("d1", "Cordless drill kit with battery", brand="Torqmaster"),
    Product("d2", "Cordless drill driver 20V", brand="Torqmaster"),
    Product("d3", "Hammer drill, corded", brand="Drillo"),
    Product("d4", "Drill bit set, titanium"),
    Product("h1", "Garden hose 50 ft", brand="Flowright"),
    Product("h2", "Garden hose nozzle", brand="Flowright"),
    Product("h3", "Expandable garden hose"),
    Product("m1", "Microwave P70D20TL-D4 stainless", brand="Galanz"),
    Product("c1", "Microfiber cleaning cloth pack", brand="E-Cloth"),
    Product("c2", "Window cloth, streak free", brand="E-Cloth"),
    Product("z1", "蓝牙耳机 无线"),
]
EASY = SpellingConfig(min_ratio=1.0, min_count=1)  # a tiny catalog: every known word may be a correction
LEXICAL = PipelineConfig(retrievers=("lexical",))


@pytest.fixture(scope="module")
def model() -> SpellingModel:
    return SpellingModel.build(PRODUCTS)


@pytest.fixture(scope="module")
def speller(model) -> Speller:
    return Speller(model, EASY)


def test_counts_products_pairs_and_brands(model):
    assert model.count("drill") == 4 and model.count("garden") == 3 and model.count("hose") == 3
    assert model.pair("cordless", "drill") == 2 and model.pair("drill", "cordless") == 0
    assert {"torqmaster", "flowright", "drillo", "galanz"} <= model.brands
    assert not model.chinese
    assert words_of("P70D20TL-D4 USB-C cable") == ["usb", "c", "cable"]


def test_a_typo_is_corrected_and_the_case_kept(speller):
    spelled = speller.correct("Cordless Dril")
    assert spelled.text == "Cordless Drill"
    assert [c.to_dict() for c in spelled.corrections] == [{"original": "dril", "corrected": "drill", "distance": 1}]
    assert speller.correct("gardne hoze").text == "garden hose"  # transposition, substitution
    assert speller.correct("cordlesss drill").text == "cordless drill"  # insertion


def test_known_words_numbers_identifiers_brands_and_chinese_are_untouched(model, speller):
    for text in ["garden hose", "p70d20tl-d4", "P70D20TL", "20v drill", "50ft hose", "蓝牙耳机 无线", "usb-c", "kit"]:
        assert speller.correct(text).text == text and not speller.correct(text).corrections
    # "drillo" is a brand one edit from "drill" (4 products): never corrected, however rare
    assert speller.correct("drillo hammer").text == "drillo hammer"
    # a brand typed without its hyphen ("E-Cloth") is the brand, not a typo of "cloth"
    assert "ecloth" in model.brands and speller.correct("ecloth").text == "ecloth"
    # an unknown word with digits or accents, or shorter than min_length, stays as typed
    assert speller.correct("dril2 hosé hse").text == "dril2 hosé hse"
    # another form of a catalog word is left to the stemming analyzers
    assert speller.correct("drills").text == "drills"


def test_thresholds(model):
    # "dril" is unknown and "drill" held by 4 products: a ratio of 5 asks for 5 × (0 + 1)
    assert Speller(model, SpellingConfig(min_ratio=5.0, min_count=1)).correct("dril").text == "dril"
    assert Speller(model, SpellingConfig(min_ratio=4.0, min_count=1)).correct("dril").text == "drill"
    assert Speller(model, SpellingConfig(min_ratio=1.0, min_count=5)).correct("dril").text == "dril"
    assert Speller(model, replace_enabled(False)).correct("dril").text == "dril"
    # two edits only for long words
    assert Speller(model, EASY).correct("krdless drxxl").text == "cordless drxxl"
    # a rare word is corrected only up to max_rare_count: "titanium" is held by one product
    rare = SpellingModel({"titanum": 1, "titanium": 9}, {})
    assert Speller(rare, SpellingConfig(min_ratio=1.0, max_rare_count=0)).correct("titanum").text == "titanum"
    assert Speller(rare, SpellingConfig(min_ratio=1.0, max_rare_count=1)).correct("titanum").text == "titanium"


def replace_enabled(enabled: bool) -> SpellingConfig:
    return SpellingConfig(enabled=enabled, min_ratio=1.0, min_count=1)


def test_context_picks_the_word_the_titles_put_there():
    model = SpellingModel({"hose": 5, "house": 6, "garden": 5, "number": 5}, {"garden hose": 5, "house number": 5})
    context = SpellingConfig(min_ratio=1.0, context_weight=1.0)
    assert Speller(model, context).correct("garden hoise").text == "garden hose"
    assert Speller(model, context).correct("hoise number").text == "house number"
    assert Speller(model, SpellingConfig(min_ratio=1.0, context_weight=0.0)).correct("garden hoise").text == (
        "garden house"
    )


def test_a_chinese_catalog_corrects_nothing():
    model = SpellingModel.build([Product("1", "蓝牙耳机 无线 降噪 耳机 蓝牙"), Product("2", "无线 鼠标 mouse")])
    assert model.chinese
    assert Speller(model, EASY).correct("mouze").text == "mouze"


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="spelling.max_edit_distance"):
        SpellingConfig(max_edit_distance=3)
    with pytest.raises(ConfigError, match="spelling.min_ratio"):
        PipelineConfig.from_dict({"spelling": {"min_ratio": 0.5}})
    with pytest.raises(ConfigError, match="spelling"):
        PipelineConfig.from_dict({"spelling": {"typo": 1}})
    assert PipelineConfig.from_dict({"spelling": {"enabled": False}}).spelling.enabled is False


def test_save_load_round_trip_and_damaged_files(model, tmp_path):
    loaded = SpellingModel.load(model.save(tmp_path / "spelling"))
    assert loaded.words == model.words and loaded.pairs == model.pairs and loaded.brands == model.brands
    (tmp_path / "spelling" / "words.tsv").write_text("drill\t4\nhose three\n", encoding="utf-8")
    with pytest.raises(IndexFormatError, match=r"words.tsv, line 2"):
        SpellingModel.load(tmp_path / "spelling")
    with pytest.raises(IndexFormatError):
        SpellingModel.load(tmp_path / "nothing")


def test_the_search_path_corrects_and_the_switch_turns_it_off(tmp_path):
    pipe = SearchPipeline.build(PRODUCTS, PipelineConfig(retrievers=("lexical",), spelling=EASY))
    page = pipe.search_pages([Query("gardne hoze", k=3)])[0]
    assert page.query.corrected == "garden hose" and page.query.searched == "garden hose"
    assert {r.product_id for r in page.results} == {"h1", "h2", "h3"}  # fails without correction: no word matches
    answer = page.to_dict()
    assert answer["query"] == "gardne hoze" and answer["corrected_query"] == "garden hose"
    assert answer["corrections"][0] == {"original": "gardne", "corrected": "garden", "distance": 1}
    off = pipe.search_pages([Query("gardne hoze", k=3, spelling=False)])[0]
    assert off.results == [] and off.to_dict()["corrected_query"] is None and off.to_dict()["corrections"] == []
    config_off = pipe.with_config(spelling=replace_enabled(False)).search_pages(["gardne hoze"])[0]
    assert config_off.results == [] and config_off.query.corrected == ""
    # the exclusion stage reads the corrected text
    assert [e.phrase for e in pipe.search_pages(["drill without batery"])[0].query.exclusions] == ["battery"]
    # saved with the index, loaded with it; /explain says what was searched
    loaded = SearchPipeline.load(pipe.save(tmp_path / "index"))
    assert (tmp_path / "index" / "spelling" / "manifest.json").is_file()
    assert loaded.search_pages(["gardne hoze"])[0].query.corrected == "garden hose"
    explained = loaded.explain("gardne hoze", "h1")
    assert explained["corrected_query"] == "garden hose" and explained["rank"] is not None
    assert "corrected_query" not in loaded.explain("gardne hoze", "h1", spelling=False)


def test_an_index_without_a_spelling_model_searches_as_typed(tmp_path):
    directory = SearchPipeline.build(PRODUCTS, PipelineConfig(retrievers=("lexical",), spelling=EASY)).save(
        tmp_path / "index"
    )
    import shutil

    shutil.rmtree(directory / "spelling")
    old = SearchPipeline.load(directory)
    assert old.search_pages(["gardne hoze"])[0].query.corrected == ""
    rebuilt = SearchPipeline.of(old.index.with_spelling())
    assert rebuilt.search_pages(["gardne hoze"])[0].query.corrected == "garden hose"
    manifest = json.loads((directory / "manifest.json").read_text())
    assert "spelling" in manifest["config"]


def test_search_json_and_no_spelling_in_the_cli(tmp_path):
    from typer.testing import CliRunner

    from shopmatch.cli import app

    directory = SearchPipeline.build(PRODUCTS, PipelineConfig(retrievers=("lexical",), spelling=EASY)).save(
        tmp_path / "index"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["search", str(directory), "gardne hoze", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.splitlines()[0])
    assert answer["corrected_query"] == "garden hose" and answer["results"]
    result = runner.invoke(app, ["search", str(directory), "gardne hoze", "--json", "--no-spelling"])
    answer = json.loads(result.stdout.splitlines()[0])
    assert answer["corrected_query"] is None and answer["results"] == []
    result = runner.invoke(app, ["search", str(directory), "gardne hoze"])
    assert "showing results for 'garden hose'" in result.output


def test_words_of_products_added_live_are_never_corrected(tmp_path):
    from shopmatch.backends.inprocess.live import LiveIndex

    directory = SearchPipeline.build(PRODUCTS, PipelineConfig(retrievers=("lexical",), spelling=EASY)).save(
        tmp_path / "index"
    )
    live = LiveIndex(directory)
    try:
        assert live.search(Query("garden hoze")).query.corrected == "garden hose"
        live.upsert([{"id": "n1", "title": "Hoze reel, wall mounted"}])  # a word one edit from "hose"
        page = live.search(Query("garden hoze"))
        assert page.query.corrected == "" and [r.product_id for r in page.results][0] == "n1"
    finally:
        live.close()


def test_queries_that_found_clicks_join_the_words(tmp_path):
    from typer.testing import CliRunner

    from shopmatch.catalog import write_catalog
    from shopmatch.cli import app
    from shopmatch.events import parse_event, write_events

    events = [
        parse_event({"type": "impression", "search_id": "s1", "query": "hoze reel", "results": ["h1"],
                     "ts": "2026-01-01T00:00:00Z"}),
        parse_event({"type": "click", "search_id": "s1", "product_id": "h1", "ts": "2026-01-01T00:00:03Z"}),
        parse_event({"type": "impression", "search_id": "s2", "query": "gardn", "results": [],
                     "ts": "2026-01-01T00:00:00Z"}),
    ]  # fmt: skip
    write_events(events, tmp_path / "events.jsonl")
    write_catalog(PRODUCTS, tmp_path / "products.jsonl")
    (tmp_path / "easy.toml").write_text('[pipeline]\nretrievers = ["lexical"]\n[spelling]\nmin_ratio = 1.0\n')
    args = ["index", str(tmp_path / "products.jsonl"), "-o", str(tmp_path / "index"), "-c", str(tmp_path / "easy.toml")]
    result = CliRunner().invoke(app, [*args, "--events", str(tmp_path / "events.jsonl")])
    assert result.exit_code == 0, result.output
    model = SpellingModel.load(tmp_path / "index" / "spelling")
    assert model.count("hoze") == 1 and model.count("gardn") == 0  # only the search that got a click
