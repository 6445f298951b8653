from __future__ import annotations

import pytest

from shopmatch.catalog import Product
from shopmatch.errors import DataError
from shopmatch.judgments import GainMap, Judgment, Judgments
from shopmatch.train.data import labeled_pairs
from shopmatch.train.splits import split_dev


def _judged(rows):
    return Judgments([Judgment(q, f"query {q}", p, label) for q, p, label in rows])


PRODUCTS = {pid: Product(pid, f"title {pid}", brand="Acme") for pid in "abcd"}


def test_esci_targets_equal_gains_and_texts_follow_the_template():
    pairs = labeled_pairs(
        _judged([("1", "a", "E"), ("1", "b", "S"), ("1", "c", "C"), ("1", "d", "I")]), PRODUCTS, GainMap.esci()
    )
    assert [p.target for p in pairs] == [1.0, 0.1, 0.01, 0.0]
    assert pairs[0].text == "title a\nAcme" and pairs[0].query == "query 1" and pairs[0].product_id == "a"


def test_graded_labels_scale_to_unit_interval():
    pairs = labeled_pairs(
        _judged([("1", "a", "3"), ("1", "b", "2"), ("2", "c", "1")]), PRODUCTS, GainMap.parse("offset=1")
    )
    assert [p.target for p in pairs] == [1.0, 0.5, 0.0]


def test_missing_products_raise_or_are_skipped_with_a_warning(caplog):
    judged = _judged([("1", "a", "E"), ("1", "zz", "I")])
    with pytest.raises(DataError, match="1 judged product id.*zz"):
        labeled_pairs(judged, PRODUCTS, GainMap.esci())
    pairs = labeled_pairs(judged, PRODUCTS, GainMap.esci(), skip_missing=True)
    assert [p.product_id for p in pairs] == ["a"]
    assert "zz" in caplog.text


def test_no_positive_gain_is_an_error():
    with pytest.raises(DataError, match="positive gain"):
        labeled_pairs(_judged([("1", "a", "I")]), PRODUCTS, GainMap.esci())


def test_dev_split_is_by_query_seeded_and_disjoint():
    judged = _judged([(str(q), p, "E") for q in range(20) for p in "ab"])
    train, dev = split_dev(judged, 0.25, seed=3)
    assert len(dev.queries) == 5 and len(train.queries) == 15
    assert not set(train.queries) & set(dev.queries)
    assert split_dev(judged, 0.25, seed=3)[1].query_ids == dev.query_ids
    assert split_dev(judged, 0.25, seed=4)[1].query_ids != dev.query_ids
    with pytest.raises(DataError):
        split_dev(_judged([("1", "a", "E")]))


def test_unjudged_negatives_skip_judged_and_unknown_products():
    from shopmatch.catalog import Product
    from shopmatch.judgments import Judgment, Judgments
    from shopmatch.train.mining import unjudged_negatives

    judged = Judgments(
        [Judgment("q1", "red mug", "a", "E"), Judgment("q1", "red mug", "b", "I"), Judgment("q2", "hose", "c", "E")]
    )
    products = {pid: Product(pid, f"title {pid}") for pid in "abcdef"}
    ranked = {"q1": ["a", "b", "c", "d", "zz"], "q2": ["c", "a"]}
    pairs = unjudged_negatives(judged, products, ranked, 5, seed=3)
    by_query = {q: sorted(p.product_id for p in pairs if p.query_id == q) for q in ("q1", "q2")}
    assert by_query == {"q1": ["c", "d"], "q2": ["a"]}
    assert all(p.target == 0.0 for p in pairs) and {p.query for p in pairs} == {"red mug", "hose"}
    one = unjudged_negatives(judged, products, ranked, 1, seed=3)
    assert len(one) == 2 and one == unjudged_negatives(judged, products, ranked, 1, seed=3)
