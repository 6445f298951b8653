"""GET /suggest through FastAPI's TestClient: English, Chinese and pinyin prefixes, typos, clicked
queries from the events log, and errors for bad parameters."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from shopmatch.service import ServiceSettings, create_app

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_client(service_index, **settings):
    return TestClient(create_app(ServiceSettings(index_dir=service_index, compact_after=0, **settings)))


@pytest.fixture
def client(service_index):
    with make_client(service_index) as client:
        yield client


def suggested(client, q, **params):
    response = client.get("/suggest", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == q
    return body["suggestions"]


def test_english_prefix(client):
    found = suggested(client, "usb", limit=5)
    assert 1 <= len(found) <= 5 and all(s["text"].startswith("usb") for s in found)
    assert all(isinstance(s["results"], int) and s["results"] >= 1 for s in found)
    assert [s["results"] for s in found] == sorted((s["results"] for s in found), reverse=True)


def test_chinese_traditional_and_pinyin_prefixes(client):
    assert "蓝牙耳机" in [s["text"] for s in suggested(client, "蓝牙")]
    assert "蓝牙耳机" in [s["text"] for s in suggested(client, "藍牙")]  # traditional folded
    assert "蓝牙耳机" in [s["text"] for s in suggested(client, "lanya")]
    assert "蓝牙耳机" in [s["text"] for s in suggested(client, "lye")]


def test_one_typo(client):
    found = suggested(client, "cabel", limit=3)
    assert found and found[0]["text"].startswith("cable") and found[0].get("typo") is True


def test_bad_parameters(client):
    for params, field in (({}, "q"), ({"q": ""}, "q"), ({"q": "x" * 101}, "q"), ({"q": "usb", "limit": 0}, "limit")):
        response = client.get("/suggest", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["field"] == field
    response = client.get("/suggest", params={"q": "usb", "limit": "many"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "limit"


def test_an_index_without_suggestions_answers_404(service_index):
    shutil.rmtree(service_index / "suggest")
    with make_client(service_index) as client:
        response = client.get("/suggest", params={"q": "usb"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_suggestions"


def test_queries_that_found_clicks_are_suggested_after_a_restart(service_index, tmp_path):
    events = tmp_path / "events"
    with make_client(service_index, token=TOKEN, events_dir=events) as client:
        page = client.get("/search", params={"q": "usb charging cable", "k": 3}).json()
        click = {
            "type": "click",
            "search_id": page["search_id"],
            "product_id": page["results"][0]["product_id"],
            "ts": "2026-12-06T10:00:04Z",
        }
        assert client.post("/events", json={"events": [click]}, headers=AUTH).status_code == 200
        assert "usb charging cable" not in [s["text"] for s in suggested(client, "usb ch")]
    with make_client(service_index, token=TOKEN, events_dir=events) as client:
        found = suggested(client, "usb ch", limit=3)
    assert found[0]["text"] == "usb charging cable" and found[0]["clicks"] == 1
    assert isinstance(found[0]["results"], int)  # products holding every word (none need)
