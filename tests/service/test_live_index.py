"""LiveIndex: writes visible at once, tombstones, filters, facets, log replay, compaction."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import numpy as np
import pytest

from shopmatch.backends.inprocess.live import LiveIndex, wal_path_for
from shopmatch.errors import DataError
from shopmatch.filters import Filters
from shopmatch.pipeline import SearchPipeline
from shopmatch.query import Query
from shopmatch.query.feedback import FeedbackConfig
from shopmatch.search import search


def ids(page):
    return [r.product_id for r in page.results]


@pytest.fixture
def live(service_index):
    index = LiveIndex(service_index, compact_after=0)
    yield index
    index.close()


def test_upsert_is_searchable_and_gettable_at_once(live):
    assert live.get("n1") is None
    result = live.upsert([{"id": "n1", "title": "Zyxwv hiking backpack 40L", "brand": "Trailmark", "price": 59.0}])
    assert (result.seq, result.upserted) == (1, ["n1"])
    assert live.get("n1")["title"] == "Zyxwv hiking backpack 40L"
    page = live.search(Query("zyxwv backpack", k=5))
    assert ids(page)[0] == "n1"
    assert page.results[0].sources["lexical"]["rank"] == 1


def test_replacing_a_base_product_hides_the_old_version(live):
    before = live.search(Query("galaxy buds", k=5))
    assert "p001" in ids(before)
    live.upsert([{"id": "p001", "title": "Garden hose reel, 30 m"}])
    after = live.search(Query("galaxy buds", k=40)).results
    (new,) = [r for r in after if r.product_id == "p001"]  # once, not the old row and the new one
    assert new.product["title"] == "Garden hose reel, 30 m"
    assert new.sources["lexical"]["rank"] is None  # the old title's words no longer match it
    assert ids(live.search(Query("garden hose reel", k=3)))[0] == "p001"
    assert live.stats()["deleted_in_base"] == 1 and live.stats()["delta_products"] == 1


def test_delete_base_and_delta_products(live):
    live.upsert([{"id": "n1", "title": "Zyxwv lamp"}])
    result = live.delete(["n1", "p001", "missing"])
    assert result.deleted == ["n1", "p001"] and result.not_found == ["missing"]
    assert live.get("n1") is None and live.get("p001") is None
    assert "p001" not in ids(live.search(Query("galaxy buds", k=50)))
    assert live.stats()["products"] == 34
    assert live.delete(["missing"]).seq == result.seq  # nothing deleted, nothing logged


def test_a_delta_product_scores_as_it_did_in_the_base(live):
    """A product deleted and upserted unchanged gets the same BM25F score in the delta as in the
    base: the delta is scored with the base's statistics."""
    query = "galaxy buds wireless earbuds"
    before = {r.product_id: r.sources["lexical"]["score"] for r in live.search(Query(query)).results}
    record = live.get("p001")
    live.delete(["p001"])
    live.upsert([record])
    after = {r.product_id: r.sources["lexical"]["score"] for r in live.search(Query(query)).results}
    assert after["p001"] == pytest.approx(before["p001"], rel=1e-5)
    base = live.state.base
    dense_before = base.retrievers["dense"].vectors_of(np.array([base.products.row_of("p001")]))
    assert np.allclose(live.state.delta.segments["dense"].vectors[0], dense_before[0], atol=1e-3)


def test_invalid_records_reject_the_batch(live):
    with pytest.raises(DataError, match=r"request products\[1\]: field 'title': is required"):
        live.upsert([{"id": "ok", "title": "Fine"}, {"id": "bad"}])
    assert live.get("ok") is None and live.wal.last_seq == 0


def test_filters_and_disjunctive_facets(live):
    everything = live.search(Query("cable", k=50, facets=True))
    brands = {f["value"]: f["count"] for f in everything.facets["brand"]}
    assert brands  # facets over the candidates
    page = live.search(Query("cable", k=50, filters=Filters(brand=(next(iter(brands)).upper(),)), facets=True))
    assert page.total == brands[next(iter(brands))]
    assert {r.product["brand"] for r in page.results} == {next(iter(brands))}
    # the brand facet still counts the other brands (disjunctive), the price facet only this brand
    assert {f["value"]: f["count"] for f in page.facets["brand"]} == brands
    cheap = live.search(Query("cable", k=50, filters=Filters(max_price=15.0, min_rating=4.0)))
    assert cheap.results and all(r.product["price"] <= 15 and r.product["rating"] >= 4 for r in cheap.results)


def test_category_prefix_filter_and_child_facets(live):
    page = live.search(Query("earbuds case", k=50, filters=Filters(category=("electronics",)), facets=True))
    assert page.results and all(r.product["category"][0] == "Electronics" for r in page.results)
    children = [f["path"] for f in page.facets["category"]]
    assert children and all(len(path) == 2 and path[0] == "Electronics" for path in children)


def test_selective_filter_returns_products_beyond_the_unfiltered_candidates(live):
    live.upsert([{"id": f"n{i}", "title": f"cable organizer {i}", "brand": "Tidy"} for i in range(3)])
    page = live.search(Query("usb cable", k=10, filters=Filters(brand=("Tidy",))))
    assert sorted(ids(page)) == ["n0", "n1", "n2"]


def test_paging_is_consistent(live):
    first = ids(live.search(Query("cable", k=3)))
    second = ids(live.search(Query("cable", k=3, offset=3)))
    both = ids(live.search(Query("cable", k=6)))
    assert first + second == both


def test_chinese_query_finds_chinese_products(live):
    assert ids(live.search(Query("蓝牙耳机", k=3)))[0] == "x-zh-1"


def test_the_log_is_replayed_on_start(service_index):
    live = LiveIndex(service_index, compact_after=0)
    live.upsert([{"id": "n1", "title": "Zyxwv lamp"}])
    live.delete(["p001"])
    live.close()
    again = LiveIndex(service_index, compact_after=0)
    assert again.get("n1")["title"] == "Zyxwv lamp" and again.get("p001") is None
    assert again.stats()["last_seq"] == 2
    assert again.upsert([{"id": "n2", "title": "Lamp"}]).seq == 3
    again.close()


def test_a_torn_last_log_line_is_ignored_and_a_damaged_one_is_an_error(service_index):
    live = LiveIndex(service_index, compact_after=0)
    live.upsert([{"id": "n1", "title": "Zyxwv lamp"}])
    live.close()
    log = wal_path_for(service_index)
    with open(log, "ab") as handle:
        handle.write(b'{"seq":2,"op":"delete","ids":["n1"]')  # a crash in the middle of an append
    again = LiveIndex(service_index, compact_after=0)
    assert again.get("n1") is not None  # the unfinished (never acknowledged) delete is not applied
    again.close()
    log.write_bytes(log.read_bytes().replace(b"Zyxwv", b"Zyxwx", 1))
    with pytest.raises(DataError, match=r"index\.wal:1: damaged log entry \(checksum mismatch\)"):
        LiveIndex(service_index, compact_after=0)


def test_compaction_writes_the_catalog_and_empties_the_log(live, service_index):
    live.upsert([{"id": "n1", "title": "Zyxwv hiking backpack"}])
    live.delete(["p002"])
    before = ids(live.search(Query("galaxy buds backpack", k=10)))
    report = live.compact()
    assert report["compacted"] and report["seq"] == 2
    assert ids(live.search(Query("galaxy buds backpack", k=10))) == before
    assert live.stats()["delta_products"] == 0 and live.stats()["base_products"] == 35 - 1 + 1
    assert wal_path_for(service_index).read_bytes() == b""
    on_disk = SearchPipeline.load(service_index)
    assert on_disk.products.row_of("n1") is not None and on_disk.products.row_of("p002") is None
    assert live.upsert([{"id": "n2", "title": "x"}]).seq == 3  # numbering goes on


def test_writes_during_compaction_are_kept(live, monkeypatch):
    live.upsert([{"id": "n1", "title": "Zyxwv lamp"}])
    original = LiveIndex._merged

    def merge_while_a_write_arrives(state):
        live.upsert([{"id": "n2", "title": "Zyxwv chair"}])
        return original(state)

    monkeypatch.setattr(LiveIndex, "_merged", staticmethod(merge_while_a_write_arrives))
    live.compact()
    assert live.get("n1") and live.get("n2")
    assert live.stats()["delta_products"] == 1  # n2 arrived after the snapshot: still in the delta
    assert [e.seq for e in live.wal.read()] == [2]
    live.close()
    reopened = LiveIndex(live.directory, compact_after=0)
    assert reopened.get("n1") and reopened.get("n2")
    reopened.close()


def _slow_merges(monkeypatch, started: threading.Event) -> list[int]:
    """Make compaction's rebuild slow and record the log sequence of each rebuild."""
    original = LiveIndex._merged
    merges: list[int] = []

    def slow_merge(state):
        merges.append(state.seq)
        started.set()
        time.sleep(0.3)
        return original(state)

    monkeypatch.setattr(LiveIndex, "_merged", staticmethod(slow_merge))
    return merges


def test_a_compaction_requested_while_one_runs_joins_it(live, monkeypatch):
    live.upsert([{"id": "n1", "title": "Zyxwv lamp"}])
    started = threading.Event()
    merges = _slow_merges(monkeypatch, started)
    reports: dict[str, dict] = {}
    first = threading.Thread(target=lambda: reports.setdefault("first", live.compact()))
    first.start()
    assert started.wait(60)
    second = live.compact()  # arrives while the first rebuild runs
    first.join()
    assert merges == [1]  # one rebuild, not two
    assert reports["first"]["compacted"] and second == {**reports["first"], "joined": True}
    assert live.compact() == {"compacted": False, "seq": 1}  # later, with nothing new: no rebuild
    live.upsert([{"id": "n2", "title": "Zyxwv chair"}])
    assert live.compact()["compacted"] and merges == [1, 2]  # a new write: a new rebuild


def test_a_compaction_requested_after_new_writes_does_not_join(live, monkeypatch):
    live.upsert([{"id": "n1", "title": "Zyxwv lamp"}])
    started = threading.Event()
    merges = _slow_merges(monkeypatch, started)
    first = threading.Thread(target=live.compact)
    first.start()
    assert started.wait(60)
    live.upsert([{"id": "n2", "title": "Zyxwv chair"}])  # batch 2: not in the running compaction
    second = live.compact()
    first.join()
    assert merges == [1, 2] and second["compacted"] and second["seq"] == 2 and "joined" not in second
    assert live.stats()["delta_products"] == 0


def test_the_log_is_strict_json(live):
    with pytest.raises(ValueError, match="JSON compliant"):
        live.wal.append("upsert", {"products": [{"id": "n", "title": "t", "x": float("nan")}]})
    live.upsert([{"id": "n1", "title": "t", "specs": {"weight": 1.5}}])
    (line,) = live.wal.path.read_bytes().decode("utf-8").splitlines()
    text = line.rsplit("\t", 1)[0]
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the log"))


def test_background_compaction_after_threshold(service_index):
    live = LiveIndex(service_index, compact_after=2)
    live.upsert([{"id": "n1", "title": "a"}, {"id": "n2", "title": "b"}])
    live.close()  # waits for the compaction thread
    assert live.compactions == 1 and live.last_compaction_error is None
    assert live.stats()["delta_products"] == 0 and live.get("n2") is not None


def test_explanations(live):
    page = live.search(Query("galaxy buds", k=2, explain=True))
    explanation = page.results[0].explanation
    assert explanation["retrievers"].keys() == {"lexical", "dense"}
    title = explanation["fields"]["title"]
    assert (
        "galaxi" in title["matched"] or "galaxy" in "".join(s["text"] for s in title["highlight"] if s["match"]).lower()
    )
    assert "".join(s["text"] for s in title["highlight"]) == page.results[0].product["title"]
    attribution = explanation["attribution"]
    assert attribution["model"] == "bi-encoder"
    assert [t["token"] for t in attribution["query"]] == ["galaxy", "buds"]
    single = live.explain("galaxy buds", page.results[0].product_id)
    assert single["rank"] == 1 and single["terms"]
    feedback = single["feedback"]  # the products the bi-encoder's query vector moved towards
    assert feedback["weight"] == live.state.base.config.feedback.weight
    docs = live.state.base.config.feedback.docs
    without_feedback = SearchPipeline.of(live.state.base).with_config(feedback=FeedbackConfig(enabled=False))
    assert feedback["products"] == [r.product_id for r in without_feedback.search("galaxy buds", k=docs)[0]]
    assert live.explain("galaxy buds", "missing") is None


def test_concurrent_searches_and_writes(live):
    """A server's thread pool searches while writes arrive (the tokenizer is shared: it must not
    fail with "Already borrowed")."""
    from concurrent.futures import ThreadPoolExecutor

    queries = ["usb cable", "galaxy buds", "蓝牙耳机", "cast iron skillet", "running shoes"] * 8

    def one(i: int) -> int:
        if i % 10 == 0:
            live.upsert([{"id": f"c{i}", "title": f"concurrent widget {i}"}])
        return len(live.search(Query(queries[i], k=5, explain=i % 7 == 0)).results)

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(one, range(len(queries))))
    assert all(c > 0 for c in counts)
    assert live.get("c30") is not None


def test_word_vector_retriever_takes_live_updates(catalog, tmp_path):
    """The delta embeds new products for every vector retriever, word vectors included."""
    from shopmatch.catalog import Product
    from shopmatch.config import PipelineConfig

    config = PipelineConfig(retrievers=("lexical", "word_vectors"))
    SearchPipeline.build(catalog.products, config).save(tmp_path / "wv")
    live = LiveIndex(tmp_path / "wv", compact_after=0)
    record = live.get("p006")
    live.delete(["p006"])
    live.upsert([Product.from_dict(record).to_dict()])
    (slot_vector,) = live.state.delta.segments["word_vectors"].vectors
    base = live.state.base.retrievers["word_vectors"]
    stored = base.index.vectors_of(np.array([live.state.base.products.row_of("p006")]))[0]
    assert np.allclose(slot_vector, stored, atol=1e-5)
    page = live.search(Query("usb cable", k=5))
    assert "p006" in ids(page) and page.results[0].sources.keys() == {"lexical", "word_vectors"}
    live.compact()
    assert "p006" in ids(live.search(Query("usb cable", k=5)))
    live.close()


def test_live_search_puts_what_the_query_excludes_last(live):
    live.upsert(
        [
            {"id": "t1", "title": "Qwzx cat treats with chicken"},
            {"id": "t2", "title": "Qwzx cat treats, salmon"},
            {"id": "t3", "title": "Qwzx chicken cat treats, chicken"},
        ]
    )
    page = live.search(Query("qwzx cat treats without chicken", k=100))  # every candidate
    found = ids(page)
    demoted = [r.sources["excluded"]["rank"] is not None for r in page.results]
    assert {"t1", "t2", "t3"} <= set(found)
    assert demoted[found.index("t1")] and demoted[found.index("t3")] and not demoted[found.index("t2")]
    assert demoted == sorted(demoted)  # every demoted product after every other one


FEEDBACK_QUERIES = ["cast iron skillet", "wireless earbuds", "usb c charger 65w", "sofa"]


def _unit(v):
    return v / np.linalg.norm(v)


def test_live_search_matches_the_pipeline_and_reads_delta_vectors(service_index):
    pipeline = SearchPipeline.load(service_index)
    assert pipeline.config.feedback.active  # the default
    live = LiveIndex(service_index, compact_after=0)
    try:
        for query in FEEDBACK_QUERIES:
            page = live.search(Query(query, k=10))
            assert [r.product_id for r in page.results] == [r.product_id for r in pipeline.search(query, k=10)[0]]
        live.upsert([{"id": "n1", "title": "Zyxwv hiking backpack 40L"}, {"id": "n2", "title": "Zyxwv tent"}])
        state = live.state
        query = "zyxwv backpack"
        page = live.search(Query(query, k=10))
        docs = pipeline.config.feedback.docs
        plain = state.with_config(dataclasses.replace(state.config, feedback=FeedbackConfig(enabled=False)))
        off = search(plain, [Query(query, k=docs)])
        assert page.feedback == [r.product_id for r in off[0].results]
        top = np.array([state.row_of(pid) for pid in page.feedback])
        n = state.base_size
        base, delta = pipeline.retrievers["dense"].vectors_of, state.delta.segments["dense"].vectors
        found = np.stack([delta[r - n] if r >= n else base(np.array([r]))[0] for r in top])
        assert (top >= n).any()  # the new products are among the feedback
        (vector,) = pipeline.retrievers["dense"].prepare([query])
        expected = _unit(vector + pipeline.config.feedback.weight * found.mean(axis=0))
        ranked = state.search("dense", [expected], 100, None)
        rank_of = {int(row): i + 1 for i, row in enumerate(ranked.found(0))}
        for result, row in zip(page.results, page.rows, strict=True):
            assert result.sources["dense"]["rank"] == rank_of.get(row)
    finally:
        live.close()
