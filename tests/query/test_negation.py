"""Negated queries: what a query excludes, when a text mentions it, and the exclusion stage."""

from __future__ import annotations

import numpy as np
import pytest

from shopmatch.errors import ConfigError
from shopmatch.hits import FusedHits, SourceHits
from shopmatch.query.exclusion import NegationConfig, demote_excluded, excluded_rows, first_not_excluded
from shopmatch.query.negation import mentions, parse_exclusions


def phrases(query):
    return [(e.phrase, e.terms) for e in parse_exclusions(query)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cat treats without chicken", [("chicken", ("chicken",))]),
        ("mens bathing suits without mesh liner", [("mesh liner", ("mesh", "liner"))]),
        ("lights without wiring with switch", [("wiring", ("wire",))]),  # "with switch" is wanted
        ("zipper sweaters for women without hoodie", [("hoodie", ("hoodi",))]),
        ("water bottle w/o straw", [("straw", ("straw",))]),
        ("Tortillas WITHOUT soybean oil”", [("soybean oil", ("soybean", "oil"))]),
        ("boots without laces without zip", [("laces", ("lace",)), ("zip", ("zip",))]),
        ("without chicken", []),  # nothing left to search for
        ("dewalt tool cases without tools", []),  # every tool case holds "tool"
        ("silverware box without the silverware", []),
        ("no show socks", []),  # "no" and "not" are not cues: product names use them
        ("watch the game not your phone tshirt", []),
        ("knife set without", []),
        ("usb c cable", []),
    ],
)
def test_parse_exclusions(query, expected):
    assert phrases(query) == expected


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("Cat treats, chicken flavour", True),
        ("Chicken cat treats", True),
        ("Chicken-Free Cat Treats", False),
        ("Cat treats chicken free", False),
        ("No Chicken cat treats", False),
        ("Cat treats made without any chicken", False),
        ("Cat treats w/o chicken", False),
        ("Non chicken treats", False),
        ("Grain Free Cage Free Chicken Treats", True),  # "free" belongs to the word before it
        ("Treats without grain, with chicken", True),  # the negation ends with its clause
        ("Treats without grain - real chicken", True),
        ("Salmon cat treats", False),
    ],
)
def test_mentions_outside_a_negated_context(text, mentioned):
    (exclusion,) = parse_exclusions("cat treats without chicken")
    assert mentions(text, exclusion) is mentioned


def test_a_phrase_is_mentioned_only_with_all_its_words():
    (exclusion,) = parse_exclusions("swim trunks without mesh liner")
    assert mentions("Swim trunks with mesh liner", exclusion)
    assert mentions("Swim trunks, liner of soft mesh", exclusion)
    assert not mentions("Swim trunks with mesh pockets", exclusion)
    assert not mentions("Swim trunks, no mesh liner", exclusion)
    assert mentions("Cordless lamp with cords", parse_exclusions("lamp without cord")[0])  # stemmed
    assert not mentions("Cordless wall lamp", parse_exclusions("lamp without cord")[0])


def test_config_validation_and_round_trip():
    assert NegationConfig.from_dict({}) == NegationConfig()
    config = NegationConfig.from_dict({"enabled": False, "fields": ["title", "bullets"]})
    assert config.to_dict() == {"enabled": False, "fields": ["title", "bullets"]}
    with pytest.raises(ConfigError, match="unknown negation setting"):
        NegationConfig.from_dict({"enable": True})
    with pytest.raises(ConfigError, match="negation.enabled"):
        NegationConfig(enabled="yes")
    with pytest.raises(ConfigError, match="negation.fields"):
        NegationConfig(fields=("price",))
    with pytest.raises(ConfigError, match="negation.fields"):
        NegationConfig(fields="title")


RECORDS = {
    0: {"id": "a", "title": "Chicken cat treats"},
    1: {"id": "b", "title": "Salmon cat treats"},
    2: {"id": "c", "title": "Cat treats with chicken and liver"},
    3: {"id": "d", "title": "Chicken-free cat treats", "bullets": ["Tastes of chicken"]},
}


def test_excluded_rows_reads_the_configured_fields():
    query = "cat treats without chicken"
    assert excluded_rows(parse_exclusions(query), [0, 1, 2, 3], RECORDS.__getitem__, NegationConfig()).tolist() == [
        True, False, True, False,
    ]  # fmt: skip
    both = NegationConfig(fields=("title", "bullets"))
    assert excluded_rows(parse_exclusions(query), [3], RECORDS.__getitem__, both).tolist() == [True]
    off = NegationConfig(enabled=False)
    assert not excluded_rows(parse_exclusions(query), [0, 1, 2, 3], RECORDS.__getitem__, off).any()


def hits(rows):
    rows = np.array([rows])
    n = rows.shape[1]
    ranks = np.where(rows >= 0, np.arange(1, n + 1), 0).astype(np.int32)
    return FusedHits(
        np.linspace(1, 0.5, n)[None, :].astype(np.float32),
        rows,
        {"lexical": SourceHits(ranks, ranks.astype(np.float32))},
    )


def test_demote_keeps_both_groups_in_order_and_records_the_place_before():
    before = hits([0, 1, 2, 3, -1])
    after = demote_excluded(
        before, [parse_exclusions("cat treats without chicken")], RECORDS.__getitem__, NegationConfig()
    )
    assert after.rows.tolist() == [[1, 3, 0, 2, -1]]
    assert after.scores[0, :4].tolist() == before.scores[0, [1, 3, 0, 2]].tolist()  # each keeps its score
    assert after.sources["lexical"].ranks.tolist() == [[2, 4, 1, 3, 0]]
    assert after.sources["excluded"].ranks.tolist() == [[0, 0, 1, 3, 0]]
    assert after.places(0, 2)["excluded"] == {"rank": 1, "score": 1.0}
    assert after.places(0, 0)["excluded"] == {"rank": None, "score": None}


def test_demote_leaves_other_queries_and_disabled_configs_alone():
    before = hits([0, 1, 2, 3])
    assert demote_excluded(before, [parse_exclusions("cat treats")], RECORDS.__getitem__, NegationConfig()) is before
    off = NegationConfig(enabled=False)
    assert demote_excluded(before, [parse_exclusions("cat treats without chicken")], RECORDS.__getitem__, off) is before


def test_first_not_excluded_reads_only_the_products_it_needs():
    records = {
        0: {"id": "a", "title": "Chicken cat treats"},
        1: {"id": "b", "title": "Salmon cat treats"},
        2: {"id": "c", "title": "Cat treats with chicken"},
        3: {"id": "d", "title": "Tuna cat treats"},
    }
    read = []

    def record_of(row):
        read.append(row)
        return records[row]

    query = "cat treats without chicken"
    assert first_not_excluded(parse_exclusions(query), [0, 1, 2, 3], record_of, NegationConfig(), 1) == [1]
    assert read == [0, 1]
    assert first_not_excluded(parse_exclusions(query), [0, 1, 2, 3], record_of, NegationConfig(), 5) == [1, 3]
    read.clear()
    assert first_not_excluded(parse_exclusions("cat treats"), [0, 1, 2, 3], record_of, NegationConfig(), 2) == [0, 1]
    assert first_not_excluded(parse_exclusions(query), [0, 1, 2, 3], record_of, NegationConfig(enabled=False), 2) == [
        0,
        1,
    ]
    assert read == []  # nothing to check: no product read
