"""Bundled demo data and the index the demo writes (the demo itself runs once, see conftest.demo_run)."""

from __future__ import annotations

import re

import pytest

from shopmatch.demo import DEMO_DATASETS, demo_files, demo_gains
from shopmatch.eval.evaluator import evaluate_rerank, evaluate_retrieval
from shopmatch.judgments import read_judgments
from shopmatch.pipeline import SearchPipeline


def test_datasets_and_files():
    assert sorted(DEMO_DATASETS) == ["esci-us-150", "zh-sample"]
    for name in DEMO_DATASETS:
        files = demo_files(name)
        assert files.keys() == {"products", "judgments", "notice"}
        assert all(path.is_file() for path in files.values()), files
    assert demo_files("zh-sample")["products"].name == "products.jsonl"
    assert demo_files("esci-us-150")["judgments"].name == "judgments.tsv.gz"
    assert "Apache" in demo_files("esci-us-150")["notice"].read_text(encoding="utf-8")


def test_unknown_dataset():
    with pytest.raises(KeyError, match="unknown demo dataset 'nope'; bundled: esci-us-150, zh-sample"):
        demo_files("nope")


def test_gains():
    esci = demo_gains("esci-us-150")
    assert esci.gain("S") == 0.1 and esci.is_relevant("E") and not esci.is_relevant("S")
    zh = demo_gains("zh-sample")
    assert zh.gain("2") == 2.0 and zh.is_relevant("2") and not zh.is_relevant("1")


def test_bundled_judgments_sizes():
    esci = read_judgments(demo_files("esci-us-150")["judgments"], gains=demo_gains("esci-us-150"))
    assert (len(esci), len(esci.queries)) == (6678, 150)
    zh = read_judgments(demo_files("zh-sample")["judgments"], gains=demo_gains("zh-sample"))
    assert (len(zh), len(zh.queries)) == (52, 11)


@pytest.fixture(scope="module")
def demo_indexes(demo_run):
    result, target = demo_run
    assert result.exit_code == 0, result.output
    return result.stdout, {name: SearchPipeline.load(target / name) for name in DEMO_DATASETS}


def test_demo_indexes_hold_every_product(demo_indexes):
    _, pipes = demo_indexes
    assert len(pipes["esci-us-150"]) == 6764
    assert len(pipes["zh-sample"]) == 45
    esci = read_judgments(demo_files("esci-us-150")["judgments"])
    assert all(pipes["esci-us-150"].products.row_of(r.product_id) is not None for r in esci.rows)


def test_demo_queries_find_sensible_products(demo_indexes):
    _, pipes = demo_indexes
    top = pipes["esci-us-150"].search("waterproof kindle", k=3)[0]
    assert any("kindle" in r.product["title"].lower() for r in top)
    zh_top = pipes["zh-sample"].search("65W 充电器", k=1)[0][0]
    assert "65W" in zh_top.product["title"] and "充电器" in zh_top.product["title"]


CELL = r"\s*│\s*"
ROW = re.compile(
    r"^│ ((?:esci-us-150|zh-sample) (?:retrieval|rerank))"
    + CELL
    + r"\d+"
    + CELL
    + CELL.join([r"([\d.–]+)"] * 4)
    + CELL,
    flags=re.M,
)


def _table(stdout):
    return {label: values for label, *values in ROW.findall(stdout)}


@pytest.mark.parametrize("name", sorted(DEMO_DATASETS))
def test_demo_table_matches_library_evaluation(demo_indexes, name):
    stdout, pipes = demo_indexes
    table = _table(stdout)
    gains = demo_gains(name)
    judged = read_judgments(demo_files(name)["judgments"], gains=gains)
    for mode, evaluate in (("retrieval", evaluate_retrieval), ("rerank", evaluate_rerank)):
        result = evaluate(pipes[name], judged, gains)
        expected = [
            f"{result.metrics[k]:.3f}" if k in result.metrics else "–"
            for k in ("ndcg@10", "mrr@10", "recall@100", "map@100")
        ]
        assert table[f"{name} {mode}"] == expected
    # the default hybrid (BM25F + MiniLM, RRF) reaches the target on the bundled ESCI queries
    if name == "esci-us-150":
        assert float(table["esci-us-150 retrieval"][0]) >= 0.60


def test_demo_shop_index_holds_both_catalogs(demo_run):
    """`shopmatch demo` also writes demo-index/shop — the ESCI index with the Chinese sample added
    through live updates and compacted — which it would serve without --no-serve."""
    from shopmatch.backends.inprocess.live import LiveIndex, wal_path_for
    from shopmatch.query import Query

    result, target = demo_run
    assert "Serve it: shopmatch serve" in result.stdout
    shop = target / "shop"
    assert len(SearchPipeline.load(shop)) == 6764 + 45
    assert wal_path_for(shop).read_bytes() == b""  # compacted: nothing left to replay
    live = LiveIndex(shop, compact_after=0)
    try:
        chinese = live.search(Query("蓝牙耳机", k=3)).results
        assert chinese and "耳机" in chinese[0].product["title"]
        assert live.search(Query("waterproof kindle", k=3)).results
    finally:
        live.close()
