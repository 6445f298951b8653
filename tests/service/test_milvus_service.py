"""The service over a Milvus index: the same endpoints, and several stateless worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from shopmatch.backends.milvus.index import MilvusIndex, milvus_config
from shopmatch.backends.milvus.lite_server import LiteServer
from shopmatch.config import PipelineConfig
from shopmatch.service import ServiceSettings, create_app
from shopmatch.service.process import ServiceProcess

pytest.importorskip("milvus_lite")
TOKEN = "s3cret"
NEW = {"id": "NEW-1", "title": "Quasarflux telescope mount", "brand": "Orbita", "price": 99.0}


def test_endpoints_over_a_milvus_index(tmp_path, fixtures, tiny_hybrid_config):
    config = milvus_config(tiny_hybrid_config, uri=str(tmp_path / "svc.db"), collection="svc")
    MilvusIndex.build(fixtures / "catalog" / "products.jsonl", tmp_path / "index", config).close()
    app = create_app(ServiceSettings(index_dir=tmp_path / "index", token=TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert health["backend"] == "milvus" and health["products"] == 32
        assert health["retrievers"] == ["lexical", "dense"]
        # query understanding counted from the loaded catalog: suggestions, pinyin, spelling
        suggestions = client.get("/suggest", params={"q": "gala"}).json()["suggestions"]
        assert suggestions[0] == {"text": "galaxy", "results": 2}
        read = client.get("/search", params={"q": "chongdianqi"}).json()
        assert read["understanding"]["pinyin"]["to"] == "充电器" and read["results"][0]["product_id"] == "p023"
        assert client.get("/search", params={"q": "galxy buds"}).json()["corrected_query"] == "galaxy buds"
        assert client.post("/products", json={"products": [NEW]}, headers=auth).status_code == 200
        page = client.get("/search", params={"q": "quasarflux mount", "brand": "orbita"}).json()
        assert page["results"][0]["product_id"] == "NEW-1"
        assert {"value": "Orbita", "count": 1, "selected": True} in page["facets"]["brand"]
        assert client.get("/products/NEW-1").json()["title"] == NEW["title"]
        explained = client.get("/explain", params={"q": "quasarflux", "id": "NEW-1"}).json()
        assert explained["rank"] == 1 and "quasarflux" in explained["terms"]
        bad = client.post("/products", json={"products": [{"id": "x"}]}, headers=auth)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "title"
        assert client.post("/admin/compact", headers=auth).json()["statistics_version"] == 2
        assert client.get("/health").json()["statistics_drift"] == 0.0
        assert client.delete("/products/NEW-1", headers=auth).status_code == 200
        after = client.get("/search", params={"q": "quasarflux", "k": 100}).json()["results"]
        assert "NEW-1" not in {r["product_id"] for r in after}
        assert client.delete("/products/NEW-1", headers=auth).status_code == 404
        metrics = client.get("/metrics").text
        assert 'shopmatch_index_products{segment="all"} 32.0' in metrics
        assert "shopmatch_statistics_drift 0.0" in metrics


def _get(url: str) -> tuple[str, dict]:
    """The worker that answered and the answer."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.headers["x-shopmatch-worker"], json.loads(response.read())


def _from_both_workers(url: str, rounds: int = 20) -> list[tuple[str, dict]]:
    """Answers to concurrent requests until two workers have answered (which one takes a
    connection is the kernel's choice, so sequential requests may all reach one)."""
    answers: list[tuple[str, dict]] = []
    with ThreadPoolExecutor(max_workers=16) as pool:
        for _ in range(rounds):
            answers += pool.map(_get, [url] * 16)
            if len({worker for worker, _ in answers}) >= 2:
                break
    return answers


def test_two_workers_serve_one_collection(tmp_path, fixtures):
    """Writes through either worker are seen by both: they keep no index state of their own."""
    config = tmp_path / "m.toml"
    config.write_text('[pipeline]\nretrievers = ["lexical"]\n')
    with LiteServer(tmp_path / "data").start() as milvus:
        built = subprocess.run(
            [sys.executable, "-m", "shopmatch", "index", str(fixtures / "catalog" / "products.jsonl"),
             "-o", str(tmp_path / "index"), "-c", str(config), "--milvus-uri", milvus.uri],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr
        server = ServiceProcess(tmp_path / "index", "--workers", "2", token=TOKEN).start()
        try:
            workers = {page["worker"] for _, page in _from_both_workers(f"{server.url}/health")}
            assert len(workers) == 2  # both workers answer
            request = urllib.request.Request(
                f"{server.url}/products",
                data=json.dumps({"products": [NEW]}).encode(),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
            seen = {(worker, page["total"]) for worker, page in _from_both_workers(f"{server.url}/search?q=quasarflux")}
            assert {total for _, total in seen} == {1}  # the write, seen by every answer
            assert len({worker for worker, _ in seen}) == 2  # from both workers
        finally:
            server.stop()


def test_a_service_over_nothing_but_a_milvus_uri(tmp_path, fixtures):
    config = milvus_config(PipelineConfig(retrievers=("lexical",)), uri=str(tmp_path / "u.db"), collection="byuri")
    MilvusIndex.build(fixtures / "catalog" / "products.jsonl", tmp_path / "index", config).close()
    settings = ServiceSettings(milvus_uri=str(tmp_path / "u.db"), milvus_collection="byuri")
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert health["index"] == f"{tmp_path / 'u.db'} (byuri)" and health["products"] == 32
        assert client.get("/search", params={"q": "usb cable"}).json()["total"] > 0
    with pytest.raises(ValueError, match="not both"):
        ServiceSettings(index_dir=tmp_path / "index", milvus_uri="x.db")


def test_workers_need_a_milvus_index(service_index):
    refused = subprocess.run(
        [sys.executable, "-m", "shopmatch", "serve", str(service_index), "--workers", "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0 and "--workers needs an index in Milvus" in refused.stderr
