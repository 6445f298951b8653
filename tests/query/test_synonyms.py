"""Synonyms: the Solr-format parser, its errors, phrase matching and the weighted BM25F query."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError, DataError
from shopmatch.pipeline import SearchPipeline
from shopmatch.query.synonyms import (
    SynonymsConfig,
    SynonymTable,
    WeightedTerms,
    expanded_terms,
    parse_synonyms,
    read_synonyms,
)
from shopmatch.retrieval.lexical import LexicalConfig, LexicalRetriever

SOLR_FILE = """\
# a comment

couch, sofa, settee
tv, television => flat screen tv
bbq => barbecue, grill
   # an indented comment
i\\,pod => ipod
"""


def test_parser_reads_equivalences_one_way_rules_multi_word_and_escapes():
    rules = parse_synonyms(SOLR_FILE.splitlines(), path="syn.txt")
    assert [(r.inputs, r.outputs, r.line) for r in rules] == [
        (("couch", "sofa", "settee"), ("couch", "sofa", "settee"), 3),
        (("tv", "television"), ("flat screen tv",), 4),
        (("bbq",), ("barbecue", "grill"), 5),
        (("i,pod",), ("ipod",), 7),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a => b => c", "more than one '=>'"),
        ("lonely", "at least two phrases"),
        ("a, , b", "empty phrase"),
        ("a => ", "empty phrase"),
        ("a,", "empty phrase"),
    ],
)
def test_parser_errors_name_the_file_and_line(line, message):
    with pytest.raises(DataError) as caught:
        parse_synonyms(["# ok", "x, y", line], path="shop/synonyms.txt")
    assert str(caught.value).startswith("shop/synonyms.txt:3: ")
    assert message in str(caught.value)


def test_read_synonyms_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="synonyms file not found"):
        read_synonyms(tmp_path / "nope.txt")


def test_table_matches_analyzed_multi_word_phrases_one_way_only():
    analyzer = LexicalConfig().analyzer()
    table = SynonymTable(parse_synonyms(SOLR_FILE.splitlines()), analyzer)
    found = table.expansions(analyzer("cheap Televisions"), weight=0.5)  # matched on the stem
    assert [(e.source, e.synonym, e.weight) for e in found] == [("televis", "flat screen tv", 0.5)]
    assert table.expansions(analyzer("flat screen tv")) == []  # the right side does not expand back
    couch = table.expansions(analyzer("leather couch"))
    assert {e.synonym for e in couch} == {"sofa", "settee"}


def test_expanded_terms_keep_the_query_terms_at_weight_one():
    analyzer = LexicalConfig().analyzer()
    table = SynonymTable(parse_synonyms(["tv => television, tv stand"]), analyzer)
    terms = analyzer("tv")
    prepared = expanded_terms(terms, table.expansions(terms, weight=0.3))
    assert isinstance(prepared, WeightedTerms)
    assert prepared.weight("tv") == 1.0  # "tv stand" adds only "stand"
    assert prepared.weights == {"televis": 0.3, "stand": 0.3}
    assert expanded_terms(terms, []) == terms


PRODUCTS = [
    Product("couch", "Leather couch, brown"),
    Product("sofa", "Velvet sofa, green"),
    Product("lamp", "Floor lamp"),
]


def test_bm25f_scores_an_expansion_at_its_weight():
    bm25 = LexicalRetriever.build(PRODUCTS, LexicalConfig())
    sofa_row = 1
    alone = bm25.score_rows(["sofa"], np.array([sofa_row]))[0]
    weighted = bm25.score_rows(WeightedTerms(["couch", "sofa"], {"sofa": 0.25}), np.array([sofa_row]))[0]
    assert weighted == pytest.approx(0.25 * alone, rel=1e-5)
    hits = bm25.search([WeightedTerms(["couch", "sofa"], {"sofa": 0.25})], k=3)
    assert hits.rows[0, :2].tolist() == [0, 1]  # the original term's product first
    explained = bm25.explain(WeightedTerms(["couch", "sofa"], {"sofa": 0.25}), sofa_row)["terms"]
    assert explained["sofa"] == pytest.approx(0.25 * alone, rel=1e-5)


def test_search_applies_the_configured_file_and_shows_the_expansions(tmp_path):
    path = tmp_path / "synonyms.txt"
    path.write_text("couch, sofa\n", encoding="utf-8")
    lexical = PipelineConfig(retrievers=("lexical",))
    plain = SearchPipeline.build(PRODUCTS, lexical)
    assert [r.product_id for r in plain.search("couch")[0]] == ["couch"]
    synonyms = plain.with_config(synonyms=SynonymsConfig(file=str(path), weight=0.5))
    page = synonyms.search_pages(["couch"])[0]
    assert [r.product_id for r in page.results] == ["couch", "sofa"]
    shown = page.to_dict()["understanding"]["expansions"]
    assert shown == [{"source": "couch", "synonym": "sofa", "terms": ["sofa"], "weight": 0.5}]
    off = plain.with_config(synonyms=SynonymsConfig(file=str(path), weight=0.0))
    assert [r.product_id for r in off.search("couch")[0]] == ["couch"]


def test_a_bad_synonyms_file_fails_the_search_with_its_line(tmp_path):
    path = tmp_path / "synonyms.txt"
    path.write_text("couch, sofa\nlonely\n", encoding="utf-8")
    pipe = SearchPipeline.build(PRODUCTS, PipelineConfig(retrievers=("lexical",)))
    with pytest.raises(DataError, match=r"synonyms.txt:2: "):
        pipe.with_config(synonyms=SynonymsConfig(file=str(path))).search("couch")


def test_synonyms_section_round_trips_through_the_config():
    config = PipelineConfig.from_dict({"synonyms": {"file": "s.txt", "weight": 0.25}})
    assert config.synonyms == SynonymsConfig("s.txt", 0.25)
    assert PipelineConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="synonyms.weight"):
        PipelineConfig.from_dict({"synonyms": {"weight": 2}})
    assert dataclasses.replace(config.synonyms, file="").active is False


def test_the_weighted_path_at_weight_one_is_the_plain_bm25f_search():
    products = PRODUCTS + [Product("both", "Couch or sofa? A sofa"), Product("x", "Sofa bed")]
    bm25 = LexicalRetriever.build(products, LexicalConfig())
    plain = bm25.search([["couch", "sofa"]], k=5).query(0)
    weighted = bm25.search([WeightedTerms(["couch", "sofa"], {"sofa": 1.0})], k=5).query(0)
    assert [row for row, _ in weighted] == [row for row, _ in plain]
    assert np.allclose([s for _, s in weighted], [s for _, s in plain], rtol=1e-5)
