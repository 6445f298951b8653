"""Event capture through FastAPI's TestClient: search ids and impressions, POST /events validation,
idempotency, orphans, auth of page clicks, rotation of the log."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shopmatch.events import read_events
from shopmatch.service import ServiceSettings, create_app
from shopmatch.service.events_log import EventsLog

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TS = "2026-12-06T10:00:04Z"


def click(search_id="s-x", product_id="p001", **more) -> dict:
    return {"type": "click", "search_id": search_id, "product_id": product_id, "ts": TS, **more}


def logged(directory) -> list[dict]:
    """Every event in the log's files, oldest first (torn lines would fail the read)."""
    events = []
    for path in EventsLog(directory).files():
        events += [e.to_dict() for e in read_events(path).events()]
    return events


@pytest.fixture
def events_dir(tmp_path):
    return tmp_path / "events"


def make_client(service_index, events_dir, **settings):
    options = {"index_dir": service_index, "token": TOKEN, "compact_after": 0, "events_dir": events_dir}
    return TestClient(create_app(ServiceSettings(**{**options, **settings})))


@pytest.fixture
def client(service_index, events_dir):
    with make_client(service_index, events_dir) as client:
        yield client


def test_search_ids_are_unique_and_impressions_logged_with_positions(client, events_dir):
    first = client.get("/search", params={"q": "usb cable", "k": 3, "user_id": "u1", "session_id": "x9"}).json()
    second = client.post(
        "/search", json={"q": "usb cable", "k": 3, "offset": 3, "filters": {"max_price": 50}, "user_id": "u2"}
    ).json()
    assert first["search_id"] != second["search_id"] and len(first["search_id"]) == 32
    log = [read_events(path) for path in EventsLog(events_dir).files()][0]
    assert [i.search_id for i in log.impressions] == [first["search_id"], second["search_id"]]
    one, two = log.impressions
    assert list(one.results) == [r["product_id"] for r in first["results"]]
    assert (one.user_id, one.session_id, one.query, one.page) == ("u1", "x9", "usb cable", 1)
    # page 2 of 3 starts at position 4
    assert [two.position_of(r["product_id"]) for r in second["results"]] == [4, 5, 6]
    assert two.page == 2 and two.filters == {"max_price": 50.0} and two.user_id == "u2"


def test_offset_that_is_not_a_multiple_of_k_keeps_positions(client, events_dir):
    body = client.get("/search", params={"q": "cable", "k": 4, "offset": 6}).json()
    (impression,) = read_events(EventsLog(events_dir).current).impressions
    assert impression.position_of(body["results"][0]["product_id"]) == 7


def test_search_without_events_still_has_a_search_id_and_post_events_is_404(service_index):
    with TestClient(create_app(ServiceSettings(index_dir=service_index, token=TOKEN))) as client:
        assert len(client.get("/search", params={"q": "cable"}).json()["search_id"]) == 32
        refused = client.post("/events", json={"events": [click()]}, headers=AUTH)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "events_disabled"
        assert client.get("/health").json()["events"] is False


def test_bad_user_id_on_search_is_422(client):
    response = client.get("/search", params={"q": "cable", "user_id": "a\tb"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "user_id"
    response = client.post("/search", json={"q": "cable", "session_id": 7})
    assert response.status_code == 422 and response.json()["error"]["field"] == "session_id"


def test_clicks_carts_purchases_are_logged_and_join_their_impression(client, events_dir):
    search = client.get("/search", params={"q": "usb cable", "k": 5}).json()
    sid, shown = search["search_id"], search["results"][1]["product_id"]
    batch = [
        click(sid, shown, position=2, event_id="e1", user_id="u1"),
        {"type": "add_to_cart", "event_id": "e2", "search_id": sid, "product_id": shown, "ts": TS},
        {"type": "purchase", "event_id": "e3", "search_id": sid, "product_id": shown, "ts": TS, "order": "o-1"},
    ]
    answer = client.post("/events", json={"events": batch}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 3, "written": 3, "duplicates": 0, "orphans": 0}
    log = read_events(EventsLog(events_dir).current)
    assert [(i.type, i.position) for i in log.interactions] == [("click", 2), ("add_to_cart", 2), ("purchase", 2)]
    assert log.interactions[2].extra == {"order": "o-1"} and not log.orphans


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        (click(position="2"), "events[1].position", "whole number"),
        (click(position=0), "events[1].position", "≥ 1"),
        ({"type": "click", "search_id": "s", "ts": TS}, "events[1].product_id", "required"),
        ({"type": "click", "search_id": "s", "product_id": "p"}, "events[1].ts", "required"),
        (click(ts="yesterday"), "events[1].ts", "ISO 8601"),
        (click(search_id=["s"]), "events[1].search_id", "must be a string"),
        ({"type": "view", "search_id": "s", "product_id": "p", "ts": TS}, "events[1].type", "unknown event type"),
        ("click", "events[1]", "expected a JSON object"),
        ({"type": "impression", "search_id": "s", "query": "q", "ts": TS}, "events[1].results", "required"),
    ],
)
def test_a_bad_event_is_422_naming_the_event_and_field(client, events_dir, event, field, words):
    response = client.post("/events", json={"events": [click(), event]}, headers=AUTH)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_event" and error["field"] == field
    assert error["message"].startswith(field + ":") and words in error["message"]
    assert logged(events_dir) == []  # nothing of a refused batch is written


def test_nan_in_an_extra_key_is_422_not_500(client):
    body = '{"events": [{"type": "click", "search_id": "s", "product_id": "p", "ts": "2026-12-06T10:00Z", "w": NaN}]}'
    response = client.post("/events", content=body, headers={**AUTH, "content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "events[0]"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ('{"events": {"type": "click"}}', 422, "events"),
        ('{"events": []}', 422, "events"),
        ('{"clicks": []}', 422, "events"),
        ('{"events": [', 422, None),
        ("[1, 2]", 422, None),
    ],
)
def test_wrong_shapes_and_bad_json_are_422(client, body, status, field):
    response = client.post("/events", content=body, headers={**AUTH, "content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    if field:
        assert response.json()["error"]["field"] == field


def test_an_oversized_batch_is_413(service_index, events_dir):
    with make_client(service_index, events_dir, events_max_batch=3) as client:
        response = client.post("/events", json={"events": [click(event_id=f"e{i}") for i in range(4)]}, headers=AUTH)
        assert response.status_code == 413
        assert response.json()["error"] == {
            "status": 413,
            "code": "batch_too_large",
            "message": "4 events; at most 3 a batch",
            "field": "events",
        }
        assert client.post("/events", json={"events": [click()] * 3}, headers=AUTH).status_code == 200


def test_event_id_makes_a_write_idempotent(client, events_dir):
    first = client.post("/events", json={"events": [click(event_id="e1"), click(event_id="e2")]}, headers=AUTH)
    again = client.post("/events", json={"events": [click(event_id="e2"), click(event_id="e3")]}, headers=AUTH)
    twice = client.post("/events", json={"events": [click(event_id="e4"), click(event_id="e4")]}, headers=AUTH)
    assert first.json()["written"] == 2
    assert again.json() == {"accepted": 2, "written": 1, "duplicates": 1, "orphans": 1}
    assert twice.json()["written"] == 1 and twice.json()["duplicates"] == 1
    assert [e["event_id"] for e in logged(events_dir)] == ["e1", "e2", "e3", "e4"]
    assert client.get("/health").json()["events_duplicates"] == 2


def test_orphan_clicks_are_kept_and_counted(client, events_dir):
    served = client.get("/search", params={"q": "usb cable"}).json()
    known = click(served["search_id"], served["results"][0]["product_id"])
    answer = client.post("/events", json={"events": [known, click("never-served"), click("elsewhere")]}, headers=AUTH)
    assert answer.json()["orphans"] == 2
    # an impression imported in the same batch is no orphan's
    imported = {"type": "impression", "search_id": "imp-1", "query": "mug", "results": ["p001"], "ts": TS}
    answer = client.post("/events", json={"events": [imported, click("imp-1")]}, headers=AUTH)
    assert answer.json()["orphans"] == 0
    assert client.get("/health").json()["orphan_events"] == 2
    assert 'shopmatch_events{kind="orphans"} 2.0' in client.get("/metrics").text
    assert 'shopmatch_events{kind="written"} 6.0' in client.get("/metrics").text  # 2 impressions, 4 clicks
    assert len(read_events(EventsLog(events_dir).current).orphans) == 2


def test_events_need_the_write_token_by_default(client):
    assert client.post("/events", json={"events": [click()]}).status_code == 401
    assert client.post("/events", json={"events": [click()]}, headers={"Authorization": "Bearer no"}).status_code == 403


def test_public_clicks_let_clicks_through_without_a_token_and_nothing_else(service_index, events_dir):
    with make_client(service_index, events_dir, events_public_clicks=True) as client:
        assert client.post("/events", json={"events": [click()]}).status_code == 200
        cart = {"type": "add_to_cart", "search_id": "s", "product_id": "p", "ts": TS}
        refused = client.post("/events", json={"events": [click(), cart]})
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "events[1].type"
        assert client.post("/events", json={"events": [cart]}, headers=AUTH).status_code == 200
        assert (
            client.post("/events", json={"events": [cart]}, headers={"Authorization": "Bearer no"}).status_code == 403
        )
    assert [e["type"] for e in logged(events_dir)] == ["click", "add_to_cart"]


def test_the_log_rotates_by_size(service_index, events_dir):
    with make_client(service_index, events_dir, events_max_file_bytes=400) as client:
        for n in range(10):
            batch = [click(event_id=f"e{n}-{j}") for j in range(2)]
            assert client.post("/events", json={"events": batch}, headers=AUTH).status_code == 200
    files = EventsLog(events_dir).files()
    assert [p.name for p in files[:2]] == ["events-000001.jsonl", "events-000002.jsonl"] and len(files) >= 5
    assert all(p.stat().st_size <= 400 for p in files)
    assert [e["event_id"] for e in logged(events_dir)] == [f"e{n}-{j}" for n in range(10) for j in range(2)]


def test_an_interaction_that_disagrees_with_a_served_search_is_422(client, events_dir):
    """The readers refuse a log where a click disagrees with its impression: the service refuses it first."""
    served = client.get("/search", params={"q": "usb cable", "k": 3}).json()
    sid, second = served["search_id"], served["results"][1]["product_id"]
    wrong_place = client.post("/events", json={"events": [click(sid, second, position=3)]}, headers=AUTH)
    assert wrong_place.status_code == 422 and wrong_place.json()["error"]["field"] == "events[0].position"
    not_shown = client.post("/events", json={"events": [click(sid, "x-zh-2")]}, headers=AUTH)
    assert not_shown.status_code == 422 and not_shown.json()["error"]["field"] == "events[0].product_id"
    imported = {"type": "impression", "search_id": "imp-1", "query": "mug", "results": ["p001"], "ts": TS}
    in_batch = client.post("/events", json={"events": [imported, click("imp-1", "p001", position=2)]}, headers=AUTH)
    assert in_batch.status_code == 422 and in_batch.json()["error"]["field"] == "events[1].position"
    right = client.post("/events", json={"events": [click(sid, second)]}, headers=AUTH)
    assert right.status_code == 200
    assert [i.position for p in EventsLog(events_dir).files() for i in read_events(p).interactions] == [2]
