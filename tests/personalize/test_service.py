"""The service keeps profiles live from captured events: a shopper's clicks re-order their own
/search results (user_id), nobody else's; at restart the profiles are rebuilt from the events directory."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from shopmatch.config import PipelineConfig
from shopmatch.pipeline import SearchPipeline
from shopmatch.service import ServiceSettings, create_app
from tests.personalize.conftest import PRODUCTS

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PLAIN = ["a0", "a1", "a2", "b0", "b1", "b2"]


@pytest.fixture
def index_dir(tmp_path, personalizer_dir):
    config = PipelineConfig(retrievers=("lexical",))
    config = replace(config, personalize=replace(config.personalize, model=str(personalizer_dir)))
    return SearchPipeline.build(PRODUCTS, config).save(tmp_path / "index")


def order(client, **params):
    body = client.get("/search", params={"q": "usb cable", "k": 6, **params}).json()
    return [r["product_id"] for r in body["results"]], body["search_id"]


def test_clicks_personalize_the_shoppers_own_searches(index_dir, tmp_path):
    settings = ServiceSettings(index_dir=index_dir, token=TOKEN, compact_after=0, events_dir=tmp_path / "events")
    with TestClient(create_app(settings)) as client:
        first, search_id = order(client, user_id="fan")
        assert first == PLAIN  # no history yet
        clicks = [
            {"type": "click", "search_id": search_id, "product_id": p, "ts": "2026-12-06T10:00:00Z"}
            for p in ("b0", "b1")
        ]  # no user_id on the clicks: the impression the service logged says whose they are
        assert client.post("/events", json={"events": clicks}, headers=AUTH).status_code == 200
        assert order(client, user_id="fan")[0] == ["b0", "b1", "b2", "a0", "a1", "a2"]
        assert order(client, user_id="someone-else")[0] == PLAIN
        assert order(client)[0] == PLAIN
    with TestClient(create_app(settings)) as client:  # a restart: the profiles come back from the events
        assert order(client, user_id="fan")[0][:3] == ["b0", "b1", "b2"]


def test_without_events_the_user_id_changes_nothing(index_dir):
    with TestClient(create_app(ServiceSettings(index_dir=index_dir))) as client:
        assert order(client, user_id="fan")[0] == PLAIN
