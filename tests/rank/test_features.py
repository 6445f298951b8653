"""The ranker's features are what they claim: sentinels, BM25F per field, identifiers, exclusions, product fields."""

from __future__ import annotations

import time

import numpy as np
import pytest

from shopmatch.backends.inprocess.snapshot import Snapshot
from shopmatch.backends.inprocess.static import StaticIndex
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.rank.features import FEATURE_NAMES, MISSING_RANK, MISSING_SCORE, candidate_features, identifiers
from shopmatch.search import ranker_inputs

LEXICAL = PipelineConfig(retrievers=("lexical",))
PRODUCTS = [
    Product("a", "Samsung 980 Pro 1TB NVMe SSD", brand="Samsung", price=99.0, rating=4.5, rating_count=120),
    Product("b", "Samsung 970 Evo 1TB SSD", brand="Samsung", color="black"),
    Product("c", "Garden hose 50ft", category=["Garden", "Hoses"], price=20.0),
    Product("d", "Chicken soup with noodles"),
]


def column(features, name):
    return features[:, FEATURE_NAMES.index(name)]


@pytest.fixture(scope="module")
def snapshot():
    return Snapshot.of(StaticIndex.build(PRODUCTS, LEXICAL))


def features_of(snapshot, query, ids):
    inputs = ranker_inputs(snapshot, query, ids)
    n = int((inputs.hits.rows[0] >= 0).sum())
    order = [snapshot.id_of(int(r)) for r in inputs.hits.rows[0, :n]]
    return order, candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, n)


def test_feature_names_are_fixed_and_distinct():
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert FEATURE_NAMES[:2] == ("lexical_score", "lexical_rank")
    assert {"bm25f", "dense_cosine", "rerank_score", "title_coverage", "excluded", "price"} <= set(FEATURE_NAMES)


def test_a_candidate_the_lexical_retriever_did_not_return_gets_the_sentinel(snapshot):
    order, features = features_of(snapshot, "samsung ssd", ["a", "c"])
    a, c = order.index("a"), order.index("c")
    assert column(features, "lexical_rank")[a] == 1
    assert column(features, "lexical_score")[a] > 0
    assert column(features, "lexical_rank")[c] == MISSING_RANK
    assert column(features, "lexical_score")[c] == MISSING_SCORE
    assert column(features, "bm25f")[c] == 0.0  # no query term: BM25F is really 0
    # an index without a dense retriever: its columns are the sentinels for every candidate
    assert (column(features, "dense_rank") == MISSING_RANK).all()
    assert (column(features, "rerank_score") == MISSING_SCORE).all()


def test_field_coverage_and_bm25(snapshot):
    order, features = features_of(snapshot, "samsung garden", ["a", "c"])
    a, c = order.index("a"), order.index("c")
    assert column(features, "title_coverage")[a] == 0.5  # samsung, not garden
    assert column(features, "brand_coverage")[a] == 0.5
    assert column(features, "category_coverage")[c] == 0.5
    assert column(features, "brand_coverage")[c] == 0.0
    assert column(features, "title_bm25")[a] > 0 and column(features, "brand_bm25")[c] == 0
    assert (column(features, "query_terms") == 2).all()


def test_identifier_matches():
    assert identifiers("Samsung 980 PRO 1TB") == ["980", "1tb"]


def test_identifier_match_in_the_title(snapshot):
    order, features = features_of(snapshot, "samsung 980 1tb", ["a", "b"])
    assert column(features, "identifier_matches")[order.index("a")] == 2
    assert column(features, "identifier_matches")[order.index("b")] == 1  # 1tb, not 980
    assert (column(features, "query_identifiers") == 2).all()


def test_exclusion_flag_and_product_fields(snapshot):
    order, features = features_of(snapshot, "soup without chicken", ["d", "a"])
    assert column(features, "excluded")[order.index("d")] == 1
    assert column(features, "excluded")[order.index("a")] == 0
    a = order.index("a")
    assert (column(features, "price")[a], column(features, "rating")[a], column(features, "rating_count")[a]) == (
        99.0,
        4.5,
        120.0,
    )
    assert column(features, "price")[order.index("d")] == MISSING_SCORE


def test_fused_rank_is_the_place_in_the_candidates(snapshot):
    order, features = features_of(snapshot, "samsung ssd", ["a", "b", "c"])
    assert column(features, "fused_rank").tolist() == [1, 2, 3]
    assert np.all(np.diff(column(features, "fused_score")) <= 0)


def test_one_hundred_candidates_cost_well_under_a_millisecond_beyond_retrieval():
    products = [Product(str(i), f"steel water bottle {i} oz", brand=f"brand{i % 7}") for i in range(300)]
    snapshot = Snapshot.of(StaticIndex.build(products, LEXICAL))
    inputs = ranker_inputs(snapshot, "steel bottle 12 oz", [str(i) for i in range(100)])
    candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, 100)  # warm
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, 100)
        runs.append(time.perf_counter() - started)
    # generous on a shared test machine: the point is "no per-candidate model call"
    assert min(runs) < 0.02
