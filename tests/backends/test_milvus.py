"""The Milvus backend against the in-process one: the same catalog, the same results.

Milvus Lite runs embedded (a ``.db`` path) and as a server process on 127.0.0.1. With
``SHOPMATCH_MILVUS_URI`` set (a real cluster), the embedded tests run against it instead.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from shopmatch.backends.milvus.index import MilvusIndex, milvus_config
from shopmatch.backends.milvus.lite_server import LiteServer
from shopmatch.backends.milvus.store import MilvusError, MilvusStore
from shopmatch.catalog import Product, read_catalog
from shopmatch.config import PipelineConfig
from shopmatch.errors import ConfigError, IndexFormatError
from shopmatch.filters import Filters
from shopmatch.pipeline import SearchPipeline
from shopmatch.query.query import Query

pytest.importorskip("milvus_lite")

REPO = Path(__file__).resolve().parents[2]
ESCI = REPO / "src" / "shopmatch" / "demo_data" / "esci-us-150" / "products.jsonl.gz"
CLUSTER = os.environ.get("SHOPMATCH_MILVUS_URI")
ENGLISH = [
    "usb c cable",
    "wireless headphones",
    "coffee mug",
    "running shoes for men",
    "phone case without glitter",
    "led light bulb 60w",
    "dog food",
    "kitchen knife set",
    "water bottle",
    "zzzunknownzzz",
]


def _uri(tmp: Path, name: str) -> str:
    return CLUSTER or str(tmp / f"{name}.db")


def _esci_catalog(tmp: Path, n: int) -> Path:
    path = tmp / f"esci-{n}.jsonl"
    with gzip.open(ESCI, "rt", encoding="utf-8") as source:
        path.write_text("".join(itertools.islice(source, n)), encoding="utf-8")
    return path


def _same_ranking(expected: list[tuple[str, float]], found: list[tuple[str, float]], *, rtol: float = 1e-5) -> None:
    """Equal scores position by position, equal ids up to the order of tied scores."""
    assert len(expected) == len(found)
    np.testing.assert_allclose([s for _, s in found], [s for _, s in expected], rtol=rtol, atol=1e-6)
    groups: dict[float, set[str]] = {}
    for (pid, score), (other, _) in zip(expected, found, strict=True):
        key = round(score, 4)
        groups.setdefault(key, set()).add(pid)
        groups.setdefault(-key - 1e9, set()).add(other)  # the found ids of the same tie group
    for key, ids in groups.items():
        if key > -1e8:
            assert ids == groups[-key - 1e9], f"score {key}: in-process {ids}, Milvus {groups[-key - 1e9]}"


def _ranking(page) -> list[tuple[str, float]]:
    return [(r.product_id, r.score) for r in page.results]


def _without_edge_ties(expected, found, k):
    """Both lists cut before the last tie group at position k (which of a tie is kept may differ)."""
    if len(expected) < k:
        return expected, found
    last = round(expected[-1][1], 4)
    cut = next((i for i, (_, s) in enumerate(expected) if round(s, 4) == last), len(expected))
    return expected[:cut], found[:cut]


# ---- lexical: BM25F scores travel exactly ------------------------------------------------------------


@pytest.fixture(scope="module")
def lexical_pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("milvus-lexical")
    catalog = _esci_catalog(tmp, 400)
    config = PipelineConfig(retrievers=("lexical",))
    index = MilvusIndex.build(catalog, tmp / "index", milvus_config(config, uri=_uri(tmp, "lexical"), collection="lex"))
    in_process = SearchPipeline.build(read_catalog(catalog).products, config)
    yield in_process, index, catalog
    index.close()


def test_bm25f_scores_and_ids_match_the_in_process_index(lexical_pair):
    in_process, index, _ = lexical_pair
    for text in ENGLISH:
        expected = _ranking(in_process.search_pages([Query(text, k=20)])[0])
        found = _ranking(index.search(Query(text, k=20)))
        _same_ranking(*_without_edge_ties(expected, found, 20))
    assert index.search(Query("zzzunknownzzz")).total == 0


def test_misspelled_queries_are_corrected_as_in_process(lexical_pair, tmp_path):
    in_process, index, _ = lexical_pair
    assert (index.directory / "spelling" / "manifest.json").is_file()
    for text in ("cofee mug", "water botle", "usb cabel"):
        expected, found = in_process.search_pages([Query(text, k=10)])[0], index.search(Query(text, k=10))
        assert found.query.corrected and found.query.corrected == expected.query.corrected
        _same_ranking(*_without_edge_ties(_ranking(expected), _ranking(found), 10))
    off = index.with_config(replace(index.config, spelling=replace(index.config.spelling, enabled=False)))
    assert not off.search(Query("cofee mug")).query.corrected
    by_uri = MilvusIndex.connect(index.backend.uri, index.backend.collection)
    assert by_uri.speller is None  # no directory, no model: searched as typed


def test_filters_facets_and_paging_match(lexical_pair):
    in_process, index, _ = lexical_pair
    first = in_process.search_pages([Query("cable", k=50)])[0]
    brand = next(r.product["brand"] for r in first.results if r.product.get("brand"))
    for filters in (Filters(brand=(brand.upper(),)), Filters(max_price=20.0), Filters(min_rating=4.0, min_price=5.0)):
        query = Query("cable", k=5, offset=3, filters=filters, facets=True)
        expected, found = in_process.search_pages([query])[0], index.search(query)
        assert found.total == expected.total
        assert found.facets == expected.facets
        _same_ranking(_ranking(expected), _ranking(found))


def test_rerank_mode_scores_match(lexical_pair):
    in_process, index, _ = lexical_pair
    ids = [r.product_id for r in in_process.search_pages([Query("water bottle", k=30)])[0].results] + ["nope"]
    expected = in_process.score_candidates("water bottle", ids)
    found = SearchPipeline.of(index).score_candidates("water bottle", ids)
    np.testing.assert_allclose(found, expected, rtol=1e-5)
    assert found[-1] == -np.inf


def test_explanations_name_the_same_terms(lexical_pair):
    in_process, index, _ = lexical_pair
    product_id = in_process.search_pages([Query("coffee mug", k=1)])[0].results[0].product_id
    expected = in_process.explain("coffee mug", product_id)
    found = index.explain("coffee mug", product_id)
    assert found["rank"] == expected["rank"] == 1
    assert found["terms"] == pytest.approx(expected["terms"], rel=1e-4)
    assert found["fields"] == expected["fields"]


# ---- hybrid: the searcher's later stages are the same code -------------------------------------------


@pytest.fixture(scope="module")
def hybrid_pair(tmp_path_factory, tiny_hybrid_config, fixtures):
    tmp = tmp_path_factory.mktemp("milvus-hybrid")
    catalog = fixtures / "catalog" / "products.jsonl"
    config = milvus_config(tiny_hybrid_config, uri=_uri(tmp, "hybrid"), collection="hybrid", batch_size=7)
    index = MilvusIndex.build(catalog, tmp / "index", config)
    in_process = SearchPipeline.build(read_catalog(catalog).products, tiny_hybrid_config)
    yield in_process, index
    index.close()


def test_hybrid_results_match_with_exact_dense_search(hybrid_pair):
    in_process, index = hybrid_pair
    for text in ["usb cable", "wireless mouse", "手机壳", "cable without usb", "tea"]:
        expected = in_process.search_pages([Query(text, k=10)])[0]
        found = index.search(Query(text, k=10))
        assert found.total == expected.total
        _same_ranking(*_without_edge_ties(_ranking(expected), _ranking(found), 10), rtol=1e-4)
        for mine, theirs in zip(found.results, expected.results, strict=False):
            if mine.product_id == theirs.product_id:
                assert mine.sources.keys() == theirs.sources.keys()


def test_category_intent_matches_the_in_process_index(hybrid_pair):
    in_process, index = hybrid_pair
    assert (index.directory / "intent").is_dir() and MilvusIndex.open(index.directory).intent is not None
    boosted = {"intent": replace(index.config.intent, weight=0.05)}
    for text in ["usb cable", "wireless earbuds", "phone case", "tea"]:
        expected = in_process.search_pages([Query(text, k=10)])[0].to_dict()
        found = index.search(Query(text, k=10)).to_dict()
        paths = [[c["path"] for c in page["predicted_categories"]] for page in (expected, found)]
        assert paths[0] and paths[0] == paths[1]
        for mine, theirs in zip(found["predicted_categories"], expected["predicted_categories"], strict=True):
            assert mine["probability"] == pytest.approx(theirs["probability"], abs=1e-4)
        with_boost = in_process.with_config(**boosted).search_pages([Query(text, k=10)])[0]
        milvus_boost = index.with_config(replace(index.config, **boosted)).search(Query(text, k=10))
        _same_ranking(*_without_edge_ties(_ranking(with_boost), _ranking(milvus_boost), 10), rtol=1e-4)
    assert MilvusIndex.connect(index.backend.uri, index.backend.collection).intent is None  # no directory


def test_a_reopened_directory_serves_the_same(hybrid_pair, tmp_path):
    _, index = hybrid_pair
    again = MilvusIndex.open(index.directory)
    assert _ranking(again.search(Query("usb cable"))) == _ranking(index.search(Query("usb cable")))
    assert len(again) == len(index) == 32


def test_a_worker_needs_nothing_but_the_uri_and_collection(hybrid_pair):
    _, index = hybrid_pair
    connected = MilvusIndex.connect(index.backend.uri, index.backend.collection)
    assert connected.directory is None
    assert _ranking(connected.search(Query("usb cable"))) == _ranking(index.search(Query("usb cable")))


def test_a_worker_with_another_encoder_is_refused(hybrid_pair):
    _, index = hybrid_pair
    stored = index.store.get_meta("encoder")
    index.store.put_meta("encoder", {**stored, "probe": [-x for x in stored["probe"]]})
    try:
        with pytest.raises(IndexFormatError, match="encoder gives other vectors"):
            MilvusIndex.connect(index.backend.uri, index.backend.collection)
    finally:
        index.store.put_meta("encoder", stored)


# ---- writes ------------------------------------------------------------------------------------------


def test_upserts_and_deletes_are_visible_at_once(tmp_path, fixtures):
    config = milvus_config(PipelineConfig(retrievers=("lexical",)), uri=_uri(tmp_path, "writes"), collection="w")
    index = MilvusIndex.build(fixtures / "catalog" / "products.jsonl", tmp_path / "index", config)
    new = Product("NEW-1", "Quasarflux telescope mount", brand="Orbita", price=99.0).to_dict()
    index.upsert([new])
    page = index.search(Query("quasarflux mount", filters=Filters(brand=("orbita",)), facets=True))
    assert [r.product_id for r in page.results] == ["NEW-1"]
    assert not page.query.corrected  # the words of a product written through this worker are known
    assert index.get("NEW-1")["title"] == "Quasarflux telescope mount"
    index.upsert([{**new, "title": "Quasarflux tripod"}])
    assert index.search(Query("quasarflux")).results[0].product["title"] == "Quasarflux tripod"
    assert index.search(Query("quasarflux")).total == 1
    result = index.delete(["NEW-1", "never-was"])
    assert result.deleted == ["NEW-1"] and result.not_found == ["never-was"]
    assert index.search(Query("quasarflux")).total == 0
    assert index.get("NEW-1") is None
    index.close()


def test_queries_that_found_clicks_join_the_spelling_words(tmp_path, fixtures):
    config = milvus_config(PipelineConfig(retrievers=("lexical",)), uri=_uri(tmp_path, "spell"), collection="s")
    catalog = fixtures / "catalog" / "products.jsonl"
    index = MilvusIndex.build(catalog, tmp_path / "index", config, spelling_queries=["galaxi buds"])
    assert index.search(Query("galaxi buds")).query.corrected == ""  # a word shoppers use is kept
    assert index.search(Query("galxy buds")).query.corrected == "galaxy buds"
    index.close()


def test_two_workers_adding_the_same_new_term_at_once_score_exactly(tmp_path, fixtures, monkeypatch):
    """Two workers that both find a new term unregistered give it a dimension each; a query weights
    both, so the products of either match it with the same score."""
    config = milvus_config(PipelineConfig(retrievers=("lexical",)), uri=_uri(tmp_path, "terms"), collection="t")
    first = MilvusIndex.build(fixtures / "catalog" / "products.jsonl", tmp_path / "index", config)
    second = MilvusIndex.open(tmp_path / "index")
    first.upsert([Product("A", "zorblax kettle").to_dict()])
    monkeypatch.setattr(second.store, "terms_named", lambda terms: [])  # it looked before the first wrote
    second.upsert([Product("B", "zorblax teapot").to_dict()])
    monkeypatch.undo()
    assert first.vocabulary.dims("zorblax") != second.vocabulary.dims("zorblax")  # one each
    third = MilvusIndex.open(tmp_path / "index")  # a worker that starts now reads both
    assert len(third.vocabulary.dims("zorblax")) == 2
    first.vocabulary.sync(force=True)  # the others read rows added since every few seconds
    second.vocabulary.sync(force=True)
    for worker in (first, second, third):
        found = worker.search(Query("zorblax"))
        assert sorted(r.product_id for r in found.results) == ["A", "B"]
        scores = [r.score for r in found.results]
        assert scores[0] == pytest.approx(scores[1], rel=1e-6)  # the same idf on either dimension
    sequential = MilvusIndex.open(tmp_path / "index")
    sequential.upsert([Product("C", "zorblax mug").to_dict()])
    assert len(sequential.vocabulary.dims("zorblax")) == 2  # a later writer reuses what it finds
    for worker in (first, second, third, sequential):
        worker.close()


def test_reweight_gives_the_scores_of_an_index_built_from_the_final_catalog(tmp_path, fixtures):
    catalog = read_catalog(fixtures / "catalog" / "products.jsonl").products
    config = PipelineConfig(retrievers=("lexical",))
    index = MilvusIndex.build(
        fixtures / "catalog" / "products.jsonl",
        tmp_path / "index",
        milvus_config(config, uri=_uri(tmp_path, "reweight"), collection="r"),
    )
    added = [Product(f"X{i}", f"cable organizer clip {i}", brand="Tidy") for i in range(12)]
    index.upsert([p.to_dict() for p in added])
    index.delete([catalog[0].id])
    stats = index.stats()
    assert stats["written_since_statistics"] == 12 and stats["statistics_drift"] > 0.2
    final = [p for p in catalog[1:]] + added
    rebuilt = SearchPipeline.build(final, config)
    before = _ranking(index.search(Query("usb cable clip", k=15)))
    expected = _ranking(rebuilt.search_pages([Query("usb cable clip", k=15)])[0])
    assert not np.allclose([s for _, s in before], [s for _, s in expected], rtol=1e-5)  # stale statistics
    report = index.reweight()
    assert report["statistics_version"] == 2 and report["products"] == len(final)
    assert index.stats()["statistics_drift"] == 0.0
    _same_ranking(*_without_edge_ties(expected, _ranking(index.search(Query("usb cable clip", k=15))), 15))
    index.close()


# ---- errors ------------------------------------------------------------------------------------------


def test_clear_errors(tmp_path, fixtures):
    with pytest.raises(ConfigError, match="word_vectors"):
        MilvusIndex.build(
            fixtures / "catalog" / "products.jsonl",
            tmp_path / "i",
            milvus_config(PipelineConfig(retrievers=("lexical", "word_vectors")), uri=str(tmp_path / "x.db")),
        )
    with pytest.raises(ConfigError, match="backend.uri"):
        PipelineConfig.from_dict({"backend": {"kind": "milvus"}})
    with pytest.raises(ConfigError, match="backend.collection"):
        PipelineConfig.from_dict({"backend": {"collection": "has-dash"}})
    with pytest.raises(MilvusError, match="no-such-dir"):
        MilvusStore(milvus_config(PipelineConfig(), uri=str(tmp_path / "no-such-dir" / "x.db")).backend)
    config = milvus_config(PipelineConfig(retrievers=("lexical",)), uri=str(tmp_path / "e.db"), collection="e")
    MilvusIndex.build(fixtures / "catalog" / "products.jsonl", tmp_path / "index", config).close()
    with pytest.raises(IndexFormatError, match="'other' is not in Milvus"):
        MilvusIndex.open(tmp_path / "index", collection="other")


# ---- a server process: restarts and a crash in the middle of a load ----------------------------------


def _load(index_dir: Path, catalog: Path, uri: str, config: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "shopmatch", "index", str(catalog), "-o", str(index_dir), "-c", str(config)]
    command += ["--milvus-uri", uri, "--collection", "crash"]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_a_server_killed_during_a_load_loses_and_duplicates_nothing(tmp_path):
    catalog = _esci_catalog(tmp_path, 600)
    config = tmp_path / "milvus.toml"
    config.write_text('[pipeline]\nretrievers = ["lexical"]\n[backend]\nkind = "milvus"\nuri = "x"\nbatch_size = 25\n')
    server = LiteServer(tmp_path / "data").start()
    loader = subprocess.Popen(
        [sys.executable, "-m", "shopmatch", "index", str(catalog), "-o", str(tmp_path / "index"), "-c", str(config),
         "--milvus-uri", server.uri, "--collection", "crash"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    store = _wait_for_progress(server.uri, loader)
    server.kill()  # SIGKILL in the middle of the load
    _, stderr = loader.communicate(timeout=120)
    assert loader.returncode != 0
    assert "Milvus" in stderr and "Traceback" not in stderr
    store.close()

    server = LiteServer(tmp_path / "data", port=server.port).start()
    try:
        resumed = _load(tmp_path / "index", catalog, server.uri, config)
        assert resumed.returncode == 0, resumed.stderr
        index = MilvusIndex.open(tmp_path / "index")
        ids = [row["id"] for row in index.store.scan(index.store.products, ["id"])]
        expected = [p.id for p in read_catalog(catalog).products]
        assert len(ids) == len(set(ids)) == len(expected)  # nothing duplicated
        assert set(ids) == set(expected)  # nothing lost
        in_process = SearchPipeline.build(read_catalog(catalog).products, PipelineConfig(retrievers=("lexical",)))
        for text in ENGLISH[:5]:
            expected_page = _ranking(in_process.search_pages([Query(text, k=10)])[0])
            _same_ranking(*_without_edge_ties(expected_page, _ranking(index.search(Query(text, k=10))), 10))
        index.upsert([Product("LATE", "Quasarflux lamp").to_dict()])
        index.close()
    finally:
        server.stop()
    server = LiteServer(tmp_path / "data", port=server.port).start()  # a clean restart keeps the writes too
    try:
        index = MilvusIndex.open(tmp_path / "index")
        assert [r.product_id for r in index.search(Query("quasarflux")).results] == ["LATE"]
        assert len(index) == len(expected) + 1
        index.close()
    finally:
        server.stop()


def _wait_for_progress(uri: str, loader: subprocess.Popen) -> MilvusStore:
    store = MilvusStore(replace(PipelineConfig().backend, kind="milvus", uri=uri, collection="crash"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert loader.poll() is None, loader.communicate()[1]
        try:
            load = store.get_meta("load") if store.client.has_collection(store.meta) else None
        except MilvusError:
            load = None
        if load and load.get("status") == "products" and load.get("done", 0) >= 3:
            return store
        time.sleep(0.05)
    raise AssertionError("the load made no progress")


def test_cli_index_search_and_reweight(tmp_path, fixtures):
    uri = str(tmp_path / "cli.db")
    config = tmp_path / "c.toml"
    config.write_text('[pipeline]\nretrievers = ["lexical"]\n')
    run = [sys.executable, "-m", "shopmatch"]
    built = subprocess.run(
        [*run, "index", str(fixtures / "catalog" / "products.jsonl"), "-o", str(tmp_path / "index"), "-c", str(config),
         "--backend", "milvus", "--milvus-uri", uri, "--collection", "cli"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert "loaded 32 products into Milvus collection 'cli'" in built.stderr
    found = subprocess.run(
        [*run, "search", str(tmp_path / "index"), "usb cable", "--json", "-k", "3"], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    page = json.loads(found.stdout)
    assert page["total"] > 0 and page["results"][0]["retrievers"]["lexical"]["rank"] == 1
    skipped = subprocess.run([*run, "reweight", str(tmp_path / "index")], capture_output=True, text=True)
    assert skipped.returncode == 0 and "nothing to do" in skipped.stdout
    forced = subprocess.run([*run, "reweight", str(tmp_path / "index"), "--force"], capture_output=True, text=True)
    assert forced.returncode == 0 and "statistics version 2" in forced.stdout
    not_milvus = subprocess.run([*run, "reweight", str(fixtures)], capture_output=True, text=True)
    assert not_milvus.returncode != 0 and "not a Milvus index" in not_milvus.stderr
