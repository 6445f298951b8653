"""The ranker's product tables give exactly the features the per-record reference computes, after
live updates too, and BM25F of unlisted rows read from the columns equals a restricted search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from shopmatch.backends.inprocess.live import LiveIndex
from shopmatch.backends.inprocess.snapshot import Snapshot
from shopmatch.backends.inprocess.static import StaticIndex
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.query.synonyms import WeightedTerms
from shopmatch.rank.features import FEATURE_NAMES, MISSING_SCORE, candidate_features
from shopmatch.rank.product_table import MISSING, ProductTable, ProductTables, _gather
from shopmatch.rank.reference_features import reference_features
from shopmatch.search import ranker_inputs, retrieval_ranker_inputs

PRODUCTS = [
    Product("a", "Samsung 980 Pro 1TB NVMe SSD", brand="Samsung", price=99.0, rating=4.5, rating_count=120),
    Product("b", "Samsung 970 Evo 1TB SSD", brand="Samsung", color="black", category=["Computers", "SSD"]),
    Product("c", "Garden hose 50ft", category=["Garden", "Hoses"], price=20.0),
    Product("d", "Chicken soup with noodles", category=["Food", "Soup"], rating=3.0),
    Product("e", "Vegetable soup, no chicken", category=["Food", "Soup"], price=2.5),
    Product("f", "华为 Mate 60 Pro 手机 512GB", brand="华为", color="黑色", category=["手机"]),
    Product("g", "小米 14 手机 256GB", brand="小米", price=3999.0),
    Product("h", "Cat treats with chicken and salmon", brand="Purrfect", category=["Pets", "Cat"]),
    Product("i", "Salmon cat treats 12 oz", brand="Purrfect", category=["Pets", "Cat"], rating_count=7),
    Product("j", "Steel water bottle 32 oz", color="steel steel", category=["Kitchen"]),
]
QUERIES = [
    "samsung 980 1tb ssd",
    "samsung ssd",
    "soup without chicken",
    "cat treats without chicken",
    "华为手机",
    "手机 512gb",
    "steel bottle 32 oz",
    "garden hose",
    "ssd ssd samsung",
    "nothing matches zzz",
]


def assert_same_features(snapshot, query, ids=None):
    inputs = retrieval_ranker_inputs(snapshot, query) if ids is None else ranker_inputs(snapshot, query, ids)
    n = int((inputs.hits.rows[0] >= 0).sum())
    fast = candidate_features(snapshot, inputs.query, inputs.prepared, inputs.hits, n)
    slow = reference_features(snapshot, inputs.query, inputs.prepared, inputs.hits, n)
    differ = [FEATURE_NAMES[c] for c in np.flatnonzero((fast != slow).any(axis=0))]
    assert not differ, f"{query!r}: {differ} differ"
    return {snapshot.id_of(int(row)): values for row, values in zip(inputs.hits.rows[0, :n], fast, strict=True)}


@pytest.fixture(scope="module")
def hybrid(tiny_hybrid_config):
    return Snapshot.of(StaticIndex.build(PRODUCTS, tiny_hybrid_config))


@pytest.mark.parametrize("query", QUERIES)
def test_fast_features_equal_the_reference_on_a_hybrid_index(hybrid, query):
    assert_same_features(hybrid, query)


def test_every_product_as_a_candidate_including_unlisted_ones(hybrid):
    ids = [p.id for p in PRODUCTS]
    features = np.stack(list(assert_same_features(hybrid, "samsung 980 without chicken", ids).values()))
    assert (features[:, FEATURE_NAMES.index("excluded")] > 0).any()
    assert (features[:, FEATURE_NAMES.index("lexical_score")] == MISSING_SCORE).any()  # unlisted rows
    assert (features[:, FEATURE_NAMES.index("price")] == MISSING_SCORE).any()


def test_lexical_only_and_dense_only_indexes(hybrid, tiny_hybrid_config):
    from dataclasses import replace

    for retrievers in (("lexical",), ("dense",)):
        snapshot = hybrid.with_config(replace(tiny_hybrid_config, retrievers=retrievers))
        for query in ("samsung 980 1tb", "soup without chicken"):
            assert_same_features(snapshot, query, [p.id for p in PRODUCTS])
    # the copies share the base table of their lexical retriever
    lexical = hybrid.with_config(replace(tiny_hybrid_config, retrievers=("lexical",)))
    assert lexical.ranker_tables().parts[0][1] is hybrid.ranker_tables().parts[0][1]


def test_products_added_and_changed_by_a_live_update(tmp_path: Path):
    StaticIndex.build(PRODUCTS, PipelineConfig(retrievers=("lexical",))).save(tmp_path / "index")
    live = LiveIndex(tmp_path / "index", compact_after=0)
    try:
        before = live.snapshot()
        assert not before.base.ranker_table_built  # built when first needed
        assert_same_features(before, "samsung 990 ssd")
        base_table = before.ranker_tables().parts[0][1]
        live.upsert(
            [
                {"id": "k", "title": "Samsung 990 Pro 2TB SSD", "brand": "Samsung", "price": 179.0},
                {"id": "a", "title": "Samsung 990 Evo 2TB SSD renamed", "rating": 4.0},  # replaces a base product
                {"id": "l", "title": "华为 Pura 70 手机", "category": ["手机"]},
            ]
        )
        after = live.snapshot()
        tables = after.ranker_tables()
        assert len(tables.parts) == 2 and tables.parts[0][1] is base_table  # the base is not rebuilt
        for query in ("samsung 990 2tb ssd", "samsung evo without renamed", "华为手机"):
            assert_same_features(after, query, ["a", "b", "k", "l", "f"])
        features = assert_same_features(after, "samsung 990 2tb", ["a", "k"])
        matches, price = FEATURE_NAMES.index("identifier_matches"), FEATURE_NAMES.index("price")
        assert features["a"][matches] == features["k"][matches] == 2  # a's new title
        assert features["a"][price] == MISSING_SCORE and features["k"][price] == 179.0  # a's old price is gone
        live.delete(["k"])
        assert_same_features(live.snapshot(), "samsung 990 2tb", ["a", "b"])
        live.compact()  # a new base index: its table is built by the compaction, since a ranker used the old one
        compacted = live.snapshot()
        assert compacted.base.ranker_table_built and len(compacted.ranker_tables().parts) == 1
        assert compacted.ranker_tables().parts[0][1] is not base_table
        assert_same_features(compacted, "samsung 990 2tb", ["a", "b", "l"])
    finally:
        live.close()


class _NoTables:
    """A snapshot that keeps no product tables (as Milvus): the features build one per query."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def __getattr__(self, name):
        return getattr(self._snapshot, name)

    def ranker_tables(self):
        return None


@pytest.mark.parametrize("query", ["samsung 980 1tb", "cat treats without chicken", "华为手机"])
def test_a_backend_without_tables_gets_the_same_features(hybrid, query):
    inputs = retrieval_ranker_inputs(hybrid, query)
    n = int((inputs.hits.rows[0] >= 0).sum())
    fast = candidate_features(_NoTables(hybrid), inputs.query, inputs.prepared, inputs.hits, n)
    assert np.array_equal(fast, reference_features(hybrid, inputs.query, inputs.prepared, inputs.hits, n))


def test_bm25f_of_chosen_rows_equals_a_search_restricted_to_them(hybrid):
    lexical = hybrid.retrievers["lexical"]
    rows = np.arange(len(PRODUCTS))
    for prepared in (
        lexical.analyzer("samsung ssd 1tb"),
        lexical.analyzer("ssd ssd samsung"),  # a repeated term counts twice
        ["unknownterm"],
        [],
        WeightedTerms(["soup", "broth", "chicken"], {"broth": 0.5, "chicken": 0.25}),
    ):
        fast = lexical.score_rows(prepared, rows[::-1])
        slow = lexical._searched_scores(prepared, rows[::-1])
        assert np.array_equal(fast, slow, equal_nan=True), prepared


def test_table_columns():
    records = [p.to_dict() for p in PRODUCTS[:3]]
    table = ProductTable.build(records, str.split)
    assert MISSING == MISSING_SCORE
    assert table.numbers[:, 0].tolist() == [99.0, MISSING, 20.0]
    counts = table.field_counts(np.array([2, 0]), ["hose", "Samsung", "unknown"])
    assert counts.shape == (2, 12)
    assert counts[0, :3].tolist() == [1.0, 0.0, 0.0]  # title
    assert counts[1, 3:6].tolist() == [0.0, 1.0, 0.0]  # brand
    assert table.identifier_matches(np.array([0, 1, 2]), ["1tb", "980"]).tolist() == [2, 1, 0]
    both = ProductTables([(0, table), (3, ProductTable.build(records[:1], str.split))])
    assert both.numbers(np.array([3, 0, 2]))[:, 0].tolist() == [99.0, 99.0, 20.0]
    assert both.identifier_matches(np.array([3, 1]), ["980"]).tolist() == [1, 0]


def test_gather_equals_scipy_indexing_with_missing_and_repeated_columns():
    rng = np.random.default_rng(0)
    matrix = sp.random(60, 40, density=0.2, format="csr", random_state=1, dtype=np.float32)
    for _ in range(20):
        rows = rng.integers(0, 60, size=rng.integers(1, 30))
        columns = rng.integers(-1, 40, size=rng.integers(1, 12))
        expected = matrix[rows][:, np.maximum(columns, 0)].toarray()
        expected[:, columns < 0] = 0.0
        for j, column in enumerate(columns):  # a repeated column is filled at its first place only
            if column >= 0 and j != np.flatnonzero(columns == column)[0]:
                expected[:, j] = 0.0
        assert np.array_equal(_gather(matrix, rows, columns), expected)
    assert _gather(matrix, np.array([], np.int64), np.array([3])).shape == (0, 1)
