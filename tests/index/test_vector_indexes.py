"""Vector indexes: HNSW against exact search on a seeded synthetic set, ids, deletes, storage."""

from __future__ import annotations

import numpy as np
import pytest

from shopmatch.errors import ConfigError
from shopmatch.index import ExactIndex, HNSWIndex, VectorIndexConfig, build_vector_index, load_vector_index
from shopmatch.index.factory import save_vector_index


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def clustered():
    """4,000 vectors in 40 clusters (like product embeddings) and 100 queries near them."""
    rng = np.random.default_rng(42)
    centers = rng.standard_normal((40, 48))
    vectors = unit(centers[rng.integers(0, 40, 4000)] + 0.6 * rng.standard_normal((4000, 48)))
    queries = unit(centers[rng.integers(0, 40, 100)] + 0.6 * rng.standard_normal((100, 48)))
    return vectors, queries


def recall(approx, exact) -> float:
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx.rows, exact.rows, strict=True)]))


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_hnsw_recall_against_exact(clustered, dtype):
    vectors, queries = clustered
    ids = np.arange(len(vectors)) * 3 + 7
    exact = ExactIndex(48)
    exact.add(ids, vectors)
    hnsw = HNSWIndex(48, dtype=dtype, m=16, ef_construction=80, ef_search=64)
    hnsw.add(ids, vectors)
    assert recall(hnsw.search(queries, 100), exact.search(queries, 100)) >= 0.95
    assert recall(hnsw.search(queries, 10), exact.search(queries, 10)) >= 0.95
    # low ef_search trades recall for speed: the setting is honoured
    hnsw.ef_search = 1
    assert recall(hnsw.search(queries, 1), exact.search(queries, 1)) < 1.0


def test_exact_is_exact(clustered):
    vectors, queries = clustered
    index = ExactIndex(48)
    index.add(np.arange(len(vectors)), vectors)
    hits = index.search(queries[:5], 7)
    brute = queries[:5] @ vectors.T
    for q in range(5):
        assert hits.rows[q].tolist() == np.argsort(-brute[q], kind="stable")[:7].tolist()
        assert hits.scores[q] == pytest.approx(np.sort(brute[q])[::-1][:7], abs=1e-5)


def test_float16_storage_close_to_float32(clustered):
    vectors, queries = clustered
    a, b = ExactIndex(48), ExactIndex(48, dtype="float16")
    a.add(np.arange(4000), vectors)
    b.add(np.arange(4000), vectors)
    assert b.vectors.dtype == np.float16 and b.vectors.nbytes * 2 == a.vectors.nbytes
    assert recall(b.search(queries, 50), a.search(queries, 50)) >= 0.98


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_add_delete_upsert_by_id(kind):
    index = build_vector_index(np.array([5, 6, 7]), np.eye(3), VectorIndexConfig(kind=kind, hnsw_m=4))
    assert len(index) == 3
    assert index.search(np.eye(3)[[1]], 1).rows.tolist() == [[6]]
    assert index.delete(np.array([6, 99])) == 1 and len(index) == 2
    assert 6 not in index.search(np.eye(3)[[1]], 3).rows[0]
    assert index.search(np.eye(3)[[1]], 3).rows[0].tolist()[-1] == -1  # only two left: padded
    index.add(np.array([7]), np.eye(3)[[1]])  # upsert: id 7 now points along axis 1
    assert len(index) == 2
    assert index.search(np.eye(3)[[1]], 1).rows.tolist() == [[7]]
    assert index.vectors_of(np.array([7])) == pytest.approx(np.eye(3)[[1]], abs=1e-3)
    with pytest.raises(KeyError, match="id 6 is not in the index"):
        index.vectors_of(np.array([6]))


@pytest.mark.parametrize(
    "kind,dtype", [("exact", "float32"), ("exact", "float16"), ("hnsw", "float32"), ("hnsw", "float16")]
)
def test_save_load_round_trip_memory_mapped(clustered, tmp_path, kind, dtype):
    vectors, queries = clustered
    index = build_vector_index(np.arange(4000), vectors, VectorIndexConfig(kind=kind, dtype=dtype, hnsw_m=16))
    index.delete(np.arange(0, 4000, 10))
    before = index.search(queries, 20)
    save_vector_index(index, tmp_path / "v")
    assert not any(p.read_bytes()[:1] == b"\x80" for p in (tmp_path / "v").iterdir())  # no pickle
    loaded = load_vector_index(tmp_path / "v")
    assert loaded.kind == kind and len(loaded) == len(index)
    after = loaded.search(queries, 20)
    assert after.rows.tolist() == before.rows.tolist()
    if kind == "exact":
        assert isinstance(loaded.vectors, np.memmap)
    # a memory-mapped index can still grow (it is copied into memory first)
    loaded.add(np.array([10_000]), queries[:1])
    assert loaded.search(queries[:1], 1).rows.tolist() == [[10_000]]
    assert load_vector_index(tmp_path / "v").search(queries, 20).rows.tolist() == before.rows.tolist()


def test_auto_kind_by_size():
    config = VectorIndexConfig(hnsw_from=10)
    assert config.resolved_kind(9) == "exact" and config.resolved_kind(10) == "hnsw"
    assert build_vector_index(np.arange(12), unit(np.random.default_rng(0).random((12, 4))), config).kind == "hnsw"


def test_bad_inputs():
    index = ExactIndex(3)
    with pytest.raises(ValueError, match="have 2 dimensions, the index has 3"):
        index.add(np.arange(2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="ids must be unique"):
        index.add(np.array([1, 1]), np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        index.add(np.array([1]), np.array([[np.nan, 0, 0]]))
    with pytest.raises(ValueError, match="2 ids for 3 vectors"):
        index.add(np.arange(2), np.ones((3, 3)))
    assert index.search(np.ones((1, 3)), 4).rows.tolist() == [[-1, -1, -1, -1]]


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match="unreadable vector_index.json"):
        load_vector_index(tmp_path)
    (tmp_path / "vector_index.json").write_text('{"kind": "ivf"}')
    with pytest.raises(ValueError, match="unknown vector index kind 'ivf'"):
        load_vector_index(tmp_path)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "ivf"}, "kind must be one of auto, exact, hnsw"),
        ({"dtype": "int8"}, "dtype must be one of float32, float16"),
        ({"ef_search": 0}, "ef_search must be a positive integer"),
        ({"m": 4}, r"unknown dense.index setting\(s\) \['m'\]"),
    ],
)
def test_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        VectorIndexConfig.from_dict(data)
