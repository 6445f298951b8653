"""The ranker stage re-orders the candidates, records its place, and runs in search and in rerank mode."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from shopmatch.backends.inprocess.snapshot import Snapshot
from shopmatch.backends.inprocess.static import StaticIndex
from shopmatch.catalog import Product
from shopmatch.config import PipelineConfig
from shopmatch.query import Query
from shopmatch.rank.features import FEATURE_NAMES
from shopmatch.rank.stage import rank_hits
from shopmatch.search import ranker_inputs, score_candidates, search

PRODUCTS = [Product(str(i), f"usb cable {'usb ' * (5 - i)}", price=float(i)) for i in range(5)]


class ByPrice:
    """A stand-in ranker: the cheaper, the better (the opposite of BM25F's order here)."""

    feature_names = FEATURE_NAMES

    def predict(self, features):
        return -features[:, FEATURE_NAMES.index("price")].astype(np.float64)


def snapshot_with(ranker, top_n=100):
    index = StaticIndex.build(PRODUCTS, PipelineConfig(retrievers=("lexical",)))
    index.config = replace(index.config, ranker=replace(index.config.ranker, top_n=top_n))
    index.ranker = ranker
    return Snapshot.of(index)


def test_the_stage_reorders_and_records_its_place():
    snapshot = snapshot_with(None)
    inputs = ranker_inputs(snapshot, "usb cable", [p.id for p in PRODUCTS])
    before = [snapshot.id_of(int(r)) for r in inputs.hits.found(0)]
    assert before == ["4", "3", "2", "1", "0"]  # BM25F: the shortest title first
    hits = rank_hits(ByPrice(), snapshot, inputs.query, inputs.prepared, inputs.hits, top_n=3)
    after = [snapshot.id_of(int(r)) for r in hits.found(0)]
    assert after == ["2", "3", "4", "1", "0"]  # the first 3 by price, the rest after them in their order
    assert np.all(np.diff(hits.scores[0, :5]) < 0)
    places = [hits.places(0, i) for i in range(5)]
    assert [p["ranker"]["rank"] for p in places] == [1, 2, 3, None, None]
    assert [p["fusion"]["rank"] for p in places] == [3, 2, 1, 4, 5]
    assert [p["lexical"]["rank"] for p in places] == [3, 2, 1, 4, 5]


def test_search_and_rerank_mode_use_the_ranker():
    snapshot = snapshot_with(ByPrice())
    page = search(snapshot, [Query("usb cable", k=5)])[0]
    assert [r.product_id for r in page.results] == ["0", "1", "2", "3", "4"]
    assert page.results[0].sources["ranker"]["rank"] == 1 and page.results[0].sources["fusion"]["rank"] == 5
    scores = score_candidates(snapshot, "usb cable", ["0", "4", "2"])
    assert np.argsort(-scores).tolist() == [0, 2, 1]
    plain = score_candidates(snapshot_with(None), "usb cable", ["0", "4", "2"])
    assert np.argsort(-plain).tolist() == [1, 2, 0]


def test_ties_are_nudged_apart_as_a_running_minimum():
    from shopmatch.rank.stage import _strictly_decreasing

    rng = np.random.default_rng(3)
    for _ in range(20):
        scores = -np.sort(-rng.choice([0.5, 0.2, 0.2, -1.0, 3.0], size=rng.integers(1, 60)))
        step = 1e-4 * max(1.0, float(np.abs(scores).max()))
        expected = scores.astype(np.float64).copy()
        for i in range(1, len(expected)):  # the definition
            expected[i] = min(expected[i], expected[i - 1] - step)
        out = _strictly_decreasing(scores)
        assert np.allclose(out, expected, rtol=0, atol=1e-12)
        assert np.all(np.diff(out.astype(np.float32)) < 0)
