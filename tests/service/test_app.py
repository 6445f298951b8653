"""The HTTP API through FastAPI's TestClient: search, filters, catalog writes, auth, limits, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shopmatch.service import ServiceSettings, create_app
from tests.service.conftest import HOSTILE_TITLE

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(service_index):
    settings = ServiceSettings(
        index_dir=service_index, token=TOKEN, compact_after=0, cors_origins=["https://shop.test"]
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_search_get_and_post_agree(client):
    got = client.get("/search", params={"q": "galaxy buds", "k": 3})
    assert got.status_code == 200
    body = got.json()
    assert {"p001", "p002"} & {r["product_id"] for r in body["results"]} and len(body["results"]) == 3
    assert body["results"][0]["retrievers"].keys() == {"lexical", "dense"}
    assert body["facets"].keys() == {"brand", "color", "category", "price", "rating"}
    posted = client.post("/search", json={"q": "galaxy buds", "k": 3}).json()
    assert [r["product_id"] for r in posted["results"]] == [r["product_id"] for r in body["results"]]


def test_filters_in_query_string_and_body(client):
    params = [("q", "cable"), ("brand", "Voltra"), ("max_price", "12"), ("k", "20")]
    body = client.get("/search", params=params).json()
    assert body["results"] and all(
        r["product"]["brand"] == "Voltra" and r["product"]["price"] <= 12 for r in body["results"]
    )
    assert body["filters"] == {"brand": ["Voltra"], "max_price": 12.0}
    posted = client.post("/search", json={"q": "cable", "k": 20, "filters": {"brand": ["Voltra"], "max_price": 12}})
    assert posted.json()["results"] == body["results"]
    category = client.get("/search", params={"q": "cable", "category": "Electronics > Cables", "k": 50}).json()
    assert category["results"] and all(
        r["product"]["category"][:2] == ["Electronics", "Cables"] for r in category["results"]
    )


def test_explain_in_search_and_alone(client):
    body = client.get("/search", params={"q": "galaxy buds", "k": 2, "explain": "true"}).json()
    assert "highlight" in body["results"][0]["explanation"]["fields"]["title"]
    top = body["results"][0]["product_id"]
    single = client.get("/explain", params={"q": "galaxy buds", "id": top}).json()
    assert single["rank"] == 1 and single["attribution"]["model"] == "bi-encoder"
    assert client.get("/explain", params={"q": "galaxy buds", "id": "nope"}).status_code == 404


def test_product_crud_with_token(client):
    created = client.post(
        "/products", json={"products": [{"id": "n1", "title": "Zyxwv kettle", "price": 20}]}, headers=AUTH
    )
    assert created.status_code == 200 and created.json() == {"seq": 1, "upserted": ["n1"]}
    assert client.get("/products/n1").json()["title"] == "Zyxwv kettle"
    assert client.get("/search", params={"q": "zyxwv"}).json()["results"][0]["product_id"] == "n1"
    assert client.delete("/products/n1", headers=AUTH).json() == {"seq": 2, "deleted": ["n1"]}
    missing = client.get("/products/n1")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.delete("/products/n1", headers=AUTH).status_code == 404
    assert client.post("/admin/compact", headers=AUTH).status_code == 200


def test_hostile_text_is_stored_and_returned_as_data(client):
    body = client.get("/search", params={"q": "evil mug"}).json()
    assert body["results"][0]["product"]["title"] == HOSTILE_TITLE


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("post", "/products", {"products": [{"id": "n1", "title": "x"}]}),
        ("delete", "/products/p001", None),
        ("post", "/admin/compact", None),
    ],
)
def test_writes_need_the_token(client, method, path, payload):
    kwargs = {"json": payload} if payload else {}
    missing = getattr(client, method)(path, **kwargs)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = getattr(client, method)(path, headers={"Authorization": "Bearer nope"}, **kwargs)
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    basic = getattr(client, method)(path, headers={"Authorization": f"Basic {TOKEN}"}, **kwargs)
    assert basic.status_code == 403
    assert client.get("/products/p001").status_code == 200  # nothing was deleted


def test_without_a_token_writes_are_disabled(service_index, monkeypatch):
    monkeypatch.delenv("SHOPMATCH_TOKEN", raising=False)
    with TestClient(create_app(ServiceSettings(index_dir=service_index))) as client:
        response = client.post("/products", json={"products": [{"id": "n", "title": "x"}]}, headers=AUTH)
        assert response.status_code == 403 and response.json()["error"]["code"] == "writes_disabled"
        assert client.get("/health").json()["writes"] is False


def test_read_token(service_index):
    settings = ServiceSettings(index_dir=service_index, token=TOKEN, read_token="reader")
    with TestClient(create_app(settings)) as client:
        assert client.get("/search", params={"q": "x"}).status_code == 401
        assert client.get("/search", params={"q": "x"}, headers={"Authorization": "Bearer reader"}).status_code == 200
        assert client.get("/health").status_code == 200  # operations stay open


@pytest.mark.parametrize(
    ("request_args", "status", "code", "field"),
    [
        ({"method": "GET", "url": "/search", "params": {"q": "x" * 257}}, 422, "query_too_long", "q"),
        ({"method": "GET", "url": "/search", "params": {"q": "x", "k": 101}}, 422, "k_too_large", "k"),
        ({"method": "GET", "url": "/search", "params": {"q": "x", "k": 0}}, 422, "invalid_request", "k"),
        ({"method": "GET", "url": "/search", "params": {"q": "x", "offset": 5000}}, 422, "offset_too_large", "offset"),
        ({"method": "GET", "url": "/search"}, 422, "invalid_request", "q"),
        (
            {"method": "GET", "url": "/search", "params": {"q": "x", "min_price": "nan"}},
            422,
            "invalid_request",
            "min_price",
        ),
        (
            {"method": "POST", "url": "/search", "json": {"q": "x", "filters": {"size": 3}}},
            422,
            "invalid_request",
            "filters.size",
        ),
        (
            {
                "method": "POST",
                "url": "/search",
                "content": b"{not json",
                "headers": {"content-type": "application/json"},
            },
            422,
            "invalid_request",
            None,
        ),
        (
            {"method": "POST", "url": "/products", "json": {"products": [{"id": "a"}]}, "headers": AUTH},
            422,
            "invalid_product",
            "title",
        ),
        (
            {
                "method": "POST",
                "url": "/products",
                "json": {"products": [{"id": "a", "title": "t"}] * 1001},
                "headers": AUTH,
            },
            413,
            "batch_too_large",
            "products",
        ),
        ({"method": "GET", "url": "/nope"}, 404, "not_found", None),
        ({"method": "PUT", "url": "/search"}, 405, "method_not_allowed", None),
    ],
)
def test_bad_input_gets_a_json_error_that_says_what(client, request_args, status, code, field):
    response = client.request(**request_args)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["status"], error["code"], error.get("field")) == (status, code, field)
    assert "Traceback" not in response.text


def test_body_size_limit(service_index):
    with TestClient(create_app(ServiceSettings(index_dir=service_index, token=TOKEN, max_body_bytes=100))) as client:
        response = client.post("/products", content=b"x" * 200, headers={**AUTH, "content-type": "application/json"})
        assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"


def test_health_metrics_page_and_openapi(client):
    client.get("/search", params={"q": "cable"})
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["products"] == 35 and health["retrievers"] == ["lexical", "dense"]
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'shopmatch_requests_total{method="GET",route="/search",status="200"} 1.0' in metrics.text
    assert 'shopmatch_index_products{segment="all"} 35.0' in metrics.text
    assert "shopmatch_request_seconds_bucket" in metrics.text
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
    assert client.get("/static/app.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/search", "/products", "/products/{product_id}", "/explain", "/health", "/metrics"} <= schema[
        "paths"
    ].keys()


def test_cors(client):
    response = client.get("/search", params={"q": "x"}, headers={"Origin": "https://shop.test"})
    assert response.headers["access-control-allow-origin"] == "https://shop.test"
    other = client.get("/search", params={"q": "x"}, headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in other.headers


def test_internal_errors_have_no_stack_trace(client, monkeypatch):
    from shopmatch.backends.inprocess.live import LiveIndex

    def broken(self, request):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(LiveIndex, "search", broken)
    response = client.get("/search", params={"q": "x"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"status": 500, "code": "internal_error", "message": "internal error; see the server log"}
    }
    assert "secret" not in response.text
