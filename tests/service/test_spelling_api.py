"""Spelling correction over HTTP: ``corrected_query`` in /search and /explain, ``spelling=false``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shopmatch.service import ServiceSettings, create_app


@pytest.fixture
def client(service_index):
    with TestClient(create_app(ServiceSettings(index_dir=service_index, compact_after=0))) as client:
        yield client


def test_search_says_what_it_corrected_and_can_be_told_not_to(client):
    body = client.get("/search", params={"q": "kitchn skillet", "k": 3}).json()
    assert body["query"] == "kitchn skillet" and body["corrected_query"] == "kitchen skillet"
    assert body["corrections"] == [{"original": "kitchn", "corrected": "kitchen", "distance": 1}]
    posted = client.post("/search", json={"q": "kitchn skillet", "k": 3}).json()
    assert posted["corrected_query"] == "kitchen skillet"
    for off in (
        client.get("/search", params={"q": "kitchn skillet", "k": 3, "spelling": "false"}).json(),
        client.post("/search", json={"q": "kitchn skillet", "k": 3, "spelling": False}).json(),
    ):
        assert off["corrected_query"] is None and off["corrections"] == []
    clean = client.get("/search", params={"q": "galaxy buds", "k": 3}).json()
    assert clean["corrected_query"] is None


def test_explain_shows_the_correction(client):
    top = client.get("/search", params={"q": "kitchn skillet", "k": 1}).json()["results"][0]["product_id"]
    explained = client.get("/explain", params={"q": "kitchn skillet", "id": top}).json()
    assert explained["corrected_query"] == "kitchen skillet" and explained["rank"] == 1
    as_typed = client.get("/explain", params={"q": "kitchn skillet", "id": top, "spelling": "false"}).json()
    assert "corrected_query" not in as_typed
