"""/search and /explain show what the query understanding did (predicted categories, expansions)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from shopmatch.service import ServiceSettings, create_app


@pytest.fixture
def client(service_index, tmp_path):
    synonyms = tmp_path / "synonyms.txt"
    synonyms.write_text("earbuds => headphones\n", encoding="utf-8")
    manifest_path = service_index / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["config"]["synonyms"] = {"file": str(synonyms), "weight": 0.5}
    manifest_path.write_text(json.dumps(manifest))
    with TestClient(create_app(ServiceSettings(index_dir=service_index, token="t", compact_after=0))) as client:
        yield client


def test_search_response_has_predicted_categories_and_expansions(client):
    body = client.get("/search", params={"q": "wireless earbuds", "k": 3}).json()
    assert body["predicted_categories"], body
    assert all(len(p["path"]) >= 1 and 0 <= p["probability"] <= 1 for p in body["predicted_categories"])
    assert body["understanding"]["predicted_categories"] == body["predicted_categories"]
    assert body["understanding"]["expansions"] == [
        {"source": "earbud", "synonym": "headphones", "terms": ["headphon"], "weight": 0.5}
    ]
    top = body["results"][0]["product_id"]
    explained = client.get("/explain", params={"q": "wireless earbuds", "id": top}).json()
    assert explained["understanding"]["expansions"] == body["understanding"]["expansions"]
    assert explained["terms"]  # the BM25F terms, the synonym's among them where the product has it
