"""One search path: the CLI, the Python API and the HTTP service return the same products in the
same order with the same scores and the same places per stage — for every esci-us-150 query, plus
Chinese, negated and filtered queries, on an index without a re-ranker (the demo shop: the default
MiniLM hybrid over both bundled catalogs) and on one with a re-ranker (tiny random models)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopmatch.catalog import read_catalog
from shopmatch.cli import app
from shopmatch.config import PipelineConfig
from shopmatch.demo import demo_files
from shopmatch.filters import Filters, category_path
from shopmatch.judgments import read_judgments
from shopmatch.pipeline import SearchPipeline
from shopmatch.query import Query
from shopmatch.rerank import RerankConfig
from shopmatch.service import ServiceSettings, create_app

K = 10
ESCI_QUERIES = sorted(set(read_judgments(demo_files("esci-us-150")["judgments"]).queries.values()))
CHINESE = ["蓝牙耳机 降噪", "65W 充电器", "无线 鼠标", "保温杯 不锈钢"]
NEGATED = ["cat treats without chicken", "phone case without magnet", "蓝牙耳机 without noise cancelling"]
FILTERED = [  # (query, CLI/HTTP filter options)
    ("headphones", {"brand": ["Sony", "JBL"]}),
    ("dog food", {"max_price": 30.0}),
    ("pillow", {"min_rating": 4.0, "min_price": 10.0}),
    ("bluetooth speaker", {"category": "Electronics"}),
    ("coffee maker without pods", {"color": ["Black"]}),
]


def test_the_query_list_covers_what_it_should():
    assert len(ESCI_QUERIES) == 150
    assert sum("without" in q for q in ESCI_QUERIES) >= 10  # the bundled set has negated queries of its own


def _filters(options: dict) -> Filters:
    return Filters(
        tuple(options.get("brand", ())),
        tuple(options.get("color", ())),
        category_path(options.get("category")),
        options.get("min_price"),
        options.get("max_price"),
        options.get("min_rating"),
    )


def _cli_options(options: dict) -> list[str]:
    args = []
    for name, value in options.items():
        for one in value if isinstance(value, list) else [value]:
            args += [f"--{name.replace('_', '-')}", str(one)]
    return args


def _ranked(results: list[dict]) -> list[tuple]:
    return [(r["product_id"], r["rank"], round(r["score"], 6), r["retrievers"]) for r in results]


def _api(index_dir, cases) -> list[list[tuple]]:
    pipeline = SearchPipeline.load(index_dir)
    pages = pipeline.search_pages([Query(text, k=K, filters=_filters(options)) for text, options in cases])
    return [_ranked([r.to_dict() for r in page.results]) for page in pages]


def _cli(index_dir, cases, tmp_path) -> list[list[tuple]]:
    runner = CliRunner()
    out: dict[int, list[tuple]] = {}
    groups: dict[str, list[int]] = {}
    for i, (_, options) in enumerate(cases):
        groups.setdefault(json.dumps(options, sort_keys=True), []).append(i)
    for key, members in groups.items():  # one command per set of filters, with a file of queries
        queries = tmp_path / "queries.txt"
        queries.write_text("".join(cases[i][0] + "\n" for i in members), encoding="utf-8")
        args = [
            "search",
            str(index_dir),
            "--queries",
            str(queries),
            "-k",
            str(K),
            "--json",
            *_cli_options(json.loads(key)),
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        pages = [json.loads(line) for line in result.stdout.splitlines()]
        assert [p["query"] for p in pages] == [cases[i][0] for i in members]
        out.update({i: _ranked(page["results"]) for i, page in zip(members, pages, strict=True)})
    return [out[i] for i in range(len(cases))]


def _service(index_dir, cases, tmp_path) -> list[list[tuple]]:
    settings = ServiceSettings(index_dir=index_dir, wal_path=tmp_path / "search-path.wal")
    out = []
    with TestClient(create_app(settings)) as client:
        for text, options in cases:
            response = client.get("/search", params={"q": text, "k": K, **options})
            assert response.status_code == 200, response.text
            out.append(_ranked(response.json()["results"]))
    return out


def _assert_one_path(index_dir, cases, tmp_path):
    api = _api(index_dir, cases)
    cli = _cli(index_dir, cases, tmp_path)
    service = _service(index_dir, cases, tmp_path)
    for (text, options), a, c, s in zip(cases, api, cli, service, strict=True):
        assert a == c, f"CLI differs from the Python API for {text!r} {options}"
        assert a == s, f"the service differs from the Python API for {text!r} {options}"
    return api


def test_cli_api_and_service_agree_without_a_reranker(demo_run, tmp_path):
    result, target = demo_run
    assert result.exit_code == 0, result.output
    cases = [(q, {}) for q in ESCI_QUERIES + CHINESE + NEGATED] + FILTERED
    found = _assert_one_path(target / "shop", cases, tmp_path)
    by_text = dict(zip([text for text, _ in cases], found, strict=False))
    assert all(found), "every query finds products"
    assert any("excluded" in r[3] for r in by_text["cat treats without chicken"])  # the exclusion stage ran
    assert all(r[3]["dense"]["rank"] is None for q in CHINESE for r in by_text[q])  # MiniLM cannot read them


@pytest.fixture(scope="module")
def reranked_esci_index(tiny_model, tiny_hybrid_config, tmp_path_factory):
    from shopmatch.train.cross_encoder import CrossEncoderTrainConfig, train_cross_encoder
    from shopmatch.train.data import LabeledPair

    pairs = [LabeledPair("usb c cable", "USB-C cable 2 m", 1.0), LabeledPair("usb c cable", "Garden hose", 0.0)] * 4
    model = tmp_path_factory.mktemp("rr") / "reranker"
    train_cross_encoder(pairs, model, CrossEncoderTrainConfig(model=str(tiny_model), epochs=1, batch_size=4))
    config = PipelineConfig(
        dense=tiny_hybrid_config.dense, rerank=RerankConfig(backend="torch", top_n=20).with_model(model)
    )
    products = read_catalog(demo_files("esci-us-150")["products"]).products
    products += read_catalog(demo_files("zh-sample")["products"]).products
    return SearchPipeline.build(products, config).save(tmp_path_factory.mktemp("rr-esci") / "index")


def test_cli_api_and_service_agree_with_a_reranker(reranked_esci_index, tmp_path):
    # every third esci query (the test above takes all 150): the re-ranker triples the cost of each
    cases = [(q, {}) for q in ESCI_QUERIES[::3] + CHINESE + NEGATED] + FILTERED
    found = _assert_one_path(reranked_esci_index, cases, tmp_path)
    reranked = [results for results in found if results and "rerank" in results[0][3]]
    assert len(reranked) == sum(1 for results in found if results)  # every query with results was re-ranked
