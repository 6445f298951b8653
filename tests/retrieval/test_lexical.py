"""BM25F: equal to bm25s' Lucene BM25 on one field, a hand-computed two-field example, field weights, masks."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from shopmatch.catalog import Product
from shopmatch.errors import ConfigError
from shopmatch.retrieval.lexical import FieldWeight, LexicalConfig, LexicalRetriever

QUERIES = [
    "galaxy buds P70D20TL-D4",
    "65w usb c charger",
    "12 inch cast iron skillet",
    "3/4 copper elbow",
    "cordless drill 20v",
    "充电器 65W",
    "water bottle 32 oz",
    "iphone 15 pro 手机壳",
]


# --------------------------------------------------------------------------- bm25s reference


@pytest.fixture(scope="module")
def title_only(catalog):
    config = LexicalConfig(fields={"title": FieldWeight(1.0, 0.75)}, k1=1.2)
    return LexicalRetriever.build(catalog.products, config)


@pytest.fixture(scope="module")
def reference(catalog, title_only):
    import bm25s

    model = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    model.index([title_only.analyzer(p.title) for p in catalog], show_progress=False)
    return model


def test_same_vocabulary_as_reference(title_only, reference):
    assert set(title_only.vocab) == set(reference.vocab_dict) - {""}


@pytest.mark.parametrize("query", QUERIES)
def test_single_field_equals_bm25s_lucene(title_only, reference, query):
    tokens = title_only.analyze_query(query)
    assert tokens, "the query must hit the vocabulary, or the comparison is empty"
    ours = title_only.model.get_scores(tokens)
    theirs = reference.get_scores(tokens)
    assert ours.shape == theirs.shape == (32,)
    assert theirs.max() > 0
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


@pytest.mark.parametrize("query", QUERIES)
def test_search_returns_reference_top_k(title_only, reference, query):
    theirs = reference.get_scores(title_only.analyze_query(query))
    hits = title_only.search_texts([query], k=32)
    found = hits.query(0)
    expected_rows = np.flatnonzero(theirs > 0)
    assert sorted(r for r, _ in found) == sorted(expected_rows.tolist())
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True)
    np.testing.assert_allclose(scores, np.sort(theirs[expected_rows])[::-1], atol=1e-5)


# --------------------------------------------------------------------------- hand-computed BM25F


@pytest.fixture(scope="module")
def two_field():
    products = [
        Product("d0", "red mug", description="red ceramic mug with handle"),
        Product("d1", "blue mug"),
        Product("d2", "red red kettle", description="steel kettle"),
    ]
    config = LexicalConfig(
        fields={"title": FieldWeight(2.0, 0.75), "description": FieldWeight(1.0, 0.5)},
        k1=1.2,
        stem=False,
        stopwords=False,
    )
    return LexicalRetriever.build(products, config)


def _hand_bm25f():
    """BM25F by hand for the `two_field` catalog.

    tf~(t, d) = Σ_f w_f · tf_f(t, d) / (1 − b_f + b_f · len_f(d) / avglen_f)
    score(q, d) = Σ_t idf(t) · tf~(t, d) / (k1 + tf~(t, d)),  idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))

    N = 3, k1 = 1.2; title w=2, b=0.75; description w=1, b=0.5.
    title lengths: d0 "red mug" 2, d1 "blue mug" 2, d2 "red red kettle" 3  -> avglen 7/3
    description lengths: d0 5 ("red ceramic mug with handle"), d2 2 ("steel kettle"); d1 has none
      -> avglen over the products that have the field = (5 + 2) / 2 = 3.5
    """
    k1 = 1.2

    def title(tf, length):
        return 2.0 * tf / (1 - 0.75 + 0.75 * length / (7 / 3))

    def desc(tf, length):
        return 1.0 * tf / (1 - 0.5 + 0.5 * length / 3.5)

    def sat(idf, tf):
        return idf * tf / (k1 + tf)

    idf_2 = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # df = 2: ln 1.6
    idf_1 = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))  # df = 1: ln(8/3)
    red = [sat(idf_2, title(1, 2) + desc(1, 5)), 0.0, sat(idf_2, title(2, 3))]
    mug = [sat(idf_2, title(1, 2) + desc(1, 5)), sat(idf_2, title(1, 2)), 0.0]
    kettle = [0.0, 0.0, sat(idf_1, title(1, 3) + desc(1, 2))]
    return {"red": red, "mug": mug, "kettle": kettle}


def test_hand_computed_bm25f(two_field):
    hand = _hand_bm25f()
    # Worked on paper, so the code above is itself checked:
    #   red/d0:    title 2·1/(0.25 + 0.75·2/(7/3)) = 2.24; description 1/(0.5 + 0.5·5/3.5) = 0.823529
    #              tf~ = 3.063529; ln 1.6 = 0.470004; 0.470004 · 3.063529 / 4.263529 = 0.337718
    #   kettle/d2: title 2/(0.25 + 0.75·3/(7/3)) = 1.647059; description 1/(0.5 + 0.5·2/3.5) = 1.272727
    #              tf~ = 2.919786; ln(8/3) = 0.980829; 0.980829 · 2.919786 / 4.119786 = 0.695136
    assert hand["red"][0] == pytest.approx(0.337718, abs=1e-6)
    assert hand["kettle"][2] == pytest.approx(0.695136, abs=1e-6)
    for term, expected in hand.items():
        np.testing.assert_allclose(two_field.model.get_scores([term]), expected, rtol=1e-5, atol=1e-7)
    # a query sums its terms
    np.testing.assert_allclose(
        two_field.model.get_scores(["red", "kettle"]),
        np.add(hand["red"], hand["kettle"]),
        rtol=1e-5,
    )


def test_hand_computed_search_and_term_scores(two_field):
    hand = _hand_bm25f()
    hits = two_field.search_texts(["red kettle", "mug"], k=3)
    red_kettle = np.add(hand["red"], hand["kettle"])
    assert hits.rows[0].tolist() == [2, 0, -1]
    np.testing.assert_allclose(hits.scores[0], [red_kettle[2], red_kettle[0], 0.0], rtol=1e-5)
    assert hits.rows[1].tolist() == [0, 1, -1]
    np.testing.assert_allclose(hits.scores[1][:2], [hand["mug"][0], hand["mug"][1]], rtol=1e-5)
    terms = two_field.term_scores("red kettle", 2)
    assert terms.keys() == {"red", "kettle"}
    assert terms["red"] == pytest.approx(hand["red"][2], rel=1e-5)
    assert sum(terms.values()) == pytest.approx(float(hits.scores[0][0]), rel=1e-5)
    assert two_field.term_scores("red kettle", 1) == {}


# --------------------------------------------------------------------------- field weights


def _kettles(title_weight, description_weight):
    products = [
        Product("A", "steel kettle", description="for tea"),
        Product("B", "tea pot", description="steel kettle"),
    ]
    fields = {"title": FieldWeight(title_weight), "description": FieldWeight(description_weight)}
    return LexicalRetriever.build(products, LexicalConfig(fields=fields))


def test_title_weight_beats_description():
    hits = _kettles(3.0, 0.3).search_texts(["kettle"], k=2)
    assert hits.rows[0].tolist() == [0, 1]
    assert hits.scores[0][0] > hits.scores[0][1] > 0


def test_description_weight_beats_title():
    hits = _kettles(0.3, 3.0).search_texts(["kettle"], k=2)
    assert hits.rows[0].tolist() == [1, 0]


def test_zero_weight_field_not_indexed():
    retriever = _kettles(1.0, 0.0)
    assert retriever.search_texts(["kettle"], k=2).rows[0].tolist() == [0, -1]
    assert "pot" in retriever.vocab and "for" not in retriever.vocab and "tea" in retriever.vocab


def test_title_first_on_fixture_catalog(pipeline):
    # default config: exact titles first
    assert pipeline.search("galaxy buds P70D20TL-D4", k=1)[0][0].product_id == "p001"
    assert [r.product_id for r in pipeline.search("65w usb c charger", k=2)[0]] == ["p004", "p023"]
    assert pipeline.search("3/4 copper elbow", k=1)[0][0].product_id == "p012"


# --------------------------------------------------------------------------- search mechanics


def test_weight_mask_filters_and_scales(pipeline):
    lexical = pipeline.retrievers["lexical"]
    base = lexical.search_texts(["usb c cable"], k=5)
    top = int(base.rows[0][0])
    mask = np.ones(lexical.num_docs, dtype=np.float32)
    mask[top] = 0.0
    masked = lexical.search_texts(["usb c cable"], k=5, weight_mask=mask)
    assert top not in masked.rows[0].tolist()
    # the others keep their scores and order
    np.testing.assert_allclose(masked.scores[0][:4], base.scores[0][1:5], rtol=1e-6)
    assert masked.rows[0][:4].tolist() == base.rows[0][1:5].tolist()
    nothing = lexical.search_texts(["usb c cable"], k=5, weight_mask=np.zeros(lexical.num_docs, dtype=np.float32))
    assert nothing.rows.tolist() == [[-1] * 5] and not nothing.scores.any()
    only = np.zeros(lexical.num_docs, dtype=np.float32)
    only[[3, 5]] = 2.0
    doubled = lexical.search_texts(["usb c cable"], k=5, weight_mask=only)
    assert set(doubled.rows[0][:2].tolist()) == {3, 5} and doubled.rows[0][2:].tolist() == [-1, -1, -1]
    single = dict(base.query(0))
    for row, score in doubled.query(0):
        assert score == pytest.approx(2 * lexical.model.get_scores(lexical.analyze_query("usb c cable"))[row], rel=1e-6)
        if row in single:
            assert score == pytest.approx(2 * single[row], rel=1e-6)


def test_search_shapes_and_padding(pipeline):
    lexical = pipeline.retrievers["lexical"]
    hits = lexical.search_texts(["", "the of and", "zzzunknownzzz", "galaxy buds", "galaxy buds"], k=50)
    assert hits.scores.shape == (5, 50) and hits.rows.shape == (5, 50)
    assert hits.scores.dtype == np.float32 and hits.rows.dtype == np.int64
    for i in range(3):
        assert hits.query(i) == [] and (hits.rows[i] == -1).all()
    found = hits.query(3)
    assert found == hits.query(4)
    assert 0 < len(found) < 32
    assert (hits.rows[3][len(found) :] == -1).all() and (hits.scores[3][len(found) :] == 0).all()
    assert lexical.search_texts(["galaxy"], k=0).rows.shape == (1, 1)


def test_analyze_query_drops_unknown_terms(pipeline):
    assert pipeline.retrievers["lexical"].analyze_query("galaxy zzzunknownzzz buds") == ["galaxi", "bud"]


def test_empty_catalog():
    retriever = LexicalRetriever.build([], LexicalConfig())
    assert retriever.num_docs == 0
    assert retriever.search_texts(["anything"], k=3).query(0) == []


# --------------------------------------------------------------------------- save / load


def test_save_load_round_trip(two_field, tmp_path):
    two_field.save(tmp_path / "lex")
    for mmap in (True, False):
        loaded = LexicalRetriever.load(tmp_path / "lex", mmap=mmap)
        assert loaded.config == two_field.config
        assert dict(loaded.vocab) == dict(two_field.vocab)
        assert loaded.num_docs == 3
        for query in ("red kettle", "mug", "blue"):
            a, b = two_field.search_texts([query], k=3), loaded.search_texts([query], k=3)
            assert a.rows.tolist() == b.rows.tolist()
            np.testing.assert_array_equal(a.scores, b.scores)


def test_load_bad_backend(two_field, tmp_path):
    two_field.save(tmp_path / "lex")
    with pytest.raises(ConfigError, match="backend"):
        LexicalRetriever.load(tmp_path / "lex", backend="cuda")
    with pytest.raises(ConfigError, match="backend"):
        LexicalRetriever.build([Product("1", "x")], backend="cuda")


@pytest.mark.skipif(
    not os.environ.get("SHOPMATCH_SLOW_TESTS"), reason="numba compiles for ~10 s; set SHOPMATCH_SLOW_TESTS=1"
)
def test_numba_backend_matches_numpy(pipeline, index_dir):
    fast = LexicalRetriever.load(index_dir / "lexical", backend="numba")
    for query in QUERIES:
        a, b = pipeline.retrievers["lexical"].search_texts([query], k=10), fast.search_texts([query], k=10)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


# --------------------------------------------------------------------------- config


def test_config_round_trip():
    config = LexicalConfig(
        fields={"title": FieldWeight(2.0, 0.5), "brand": FieldWeight(1.0, 0.0)}, k1=1.5, chinese="char", stem=False
    )
    assert LexicalConfig.from_dict(config.to_dict()) == config
    assert LexicalConfig.from_dict({"fields": {"title": 2, "all": {"weight": 1, "b": 0.3}}}).fields == {
        "title": FieldWeight(2.0, 0.75),
        "all": FieldWeight(1.0, 0.3),
    }


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"fields": {"price": FieldWeight()}}, "unknown field"),
        ({"fields": {"title": FieldWeight(0.0)}}, "at least one field"),
        ({"k1": 0}, "k1 must be > 0"),
        ({"k1": float("nan")}, "lexical.k1 must be a number"),
        ({"chinese": "pinyin"}, "chinese"),
    ],
)
def test_config_errors(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        LexicalConfig(**kwargs)


@pytest.mark.parametrize(("weight", "b"), [(-1.0, 0.5), (float("nan"), 0.5), (1.0, 1.5), (1.0, -0.1)])
def test_field_weight_errors(weight, b):
    with pytest.raises(ConfigError):
        FieldWeight(weight, b)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"bm25": 1}, "unknown lexical setting"),
        ({"fields": {"title": "heavy"}}, "expected a weight"),
        ({"fields": {"title": {"weight": 1, "boost": 2}}}, "unknown field setting"),
    ],
)
def test_config_from_dict_errors(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        LexicalConfig.from_dict(data)


@pytest.mark.parametrize("query", QUERIES)
def test_score_rows_gives_the_rows_what_search_gives_them(catalog, query):
    """Scores read from the query terms' columns at chosen rows equal a full search's, plain (a
    repeated term counts twice, as bm25s sums it) and with weighted expansion terms."""
    from shopmatch.query.synonyms import WeightedTerms

    bm25 = LexicalRetriever.build(catalog.products, LexicalConfig())
    terms = bm25.prepare([query])[0]
    extra = [t for t in bm25.vocab if t not in terms][:2]
    for prepared in (terms, [*terms, *terms[:1]], WeightedTerms([*terms, *extra], dict.fromkeys(extra, 0.3))):
        hits = bm25.search([prepared], k=len(catalog.products))
        rows = np.arange(len(catalog.products))[::-1].copy()
        scored = dict(hits.query(0))
        expected = np.array([scored.get(int(r), np.nan) for r in rows], dtype=np.float32)
        np.testing.assert_array_equal(bm25.score_rows(prepared, rows), expected)
