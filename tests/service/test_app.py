"""The HTTP API through FastAPI's TestClient: search, filters, catalog writes, auth, limits, errors."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from shopmatch.service import ServiceSettings, create_app
from tests.service.conftest import HOSTILE_TITLE

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"content-type": "application/json"}


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
        # GET /search has the limits of POST /search, answered the same way, naming the parameter
        ({"method": "GET", "url": "/search", "params": {"q": ""}}, 422, "invalid_request", "q"),
        (
            {"method": "GET", "url": "/search", "params": {"q": "x", "category": " > ".join("abcdefghi")}},
            422,
            "invalid_request",
            "category",
        ),
        (
            {"method": "GET", "url": "/search", "params": [("q", "x")] + [("brand", f"b{i}") for i in range(51)]},
            422,
            "invalid_request",
            "brand",
        ),
        (
            {"method": "GET", "url": "/search", "params": [("q", "x")] + [("color", f"c{i}") for i in range(51)]},
            422,
            "invalid_request",
            "color",
        ),
        (
            {"method": "GET", "url": "/search", "params": {"q": "x", "brand": "b" * 201}},
            422,
            "invalid_request",
            "brand.0",
        ),
        ({"method": "POST", "url": "/search", "json": {"q": ""}}, 422, "invalid_request", "q"),
        (
            {"method": "POST", "url": "/search", "json": {"q": "x", "filters": {"brand": ["b" * 201]}}},
            422,
            "invalid_request",
            "filters.brand.0",
        ),
        # lone surrogates: refused with the field named, never a 500
        (
            {"method": "POST", "url": "/search", "content": rb'{"q": "a\ud800b"}', "headers": JSON},
            422,
            "invalid_request",
            "q",
        ),
        (
            {"method": "POST", "url": "/search", "content": rb'{"q": "x", "filters": {"\ud800": 1}}', "headers": JSON},
            422,
            "invalid_request",
            "filters",
        ),
        (
            {
                "method": "POST",
                "url": "/products",
                "content": rb'{"products": [{"id": "s1", "title": "t", "\ud800": 1}]}',
                "headers": JSON,
            },
            422,
            "invalid_product",
            "\\ud800",  # escaped: an error body is always valid UTF-8
        ),
        (
            {
                "method": "POST",
                "url": "/products",
                "content": rb'{"products": [{"id": "s1", "title": "a\ud800b"}]}',
                "headers": {**AUTH, **JSON},
            },
            422,
            "invalid_product",
            "title",
        ),
        (
            {
                "method": "POST",
                "url": "/products",
                "content": rb'{"products": [{"id": "s\udc00", "title": "t"}]}',
                "headers": {**AUTH, **JSON},
            },
            422,
            "invalid_product",
            "id",
        ),
        (
            {
                "method": "POST",
                "url": "/products",
                "content": rb'{"products": [{"id": "s1", "title": "t", "specs": {"names": ["\ud800"]}}]}',
                "headers": {**AUTH, **JSON},
            },
            422,
            "invalid_product",
            "specs",
        ),
        # numbers JSON cannot hold, and values outside what the filters assume
        (
            {
                "method": "POST",
                "url": "/products",
                "content": b'{"products": [{"id": "n1", "title": "t", "weight": NaN}]}',
                "headers": {**AUTH, **JSON},
            },
            422,
            "invalid_product",
            "weight",
        ),
        (
            {
                "method": "POST",
                "url": "/products",
                "content": b'{"products": [{"id": "n1", "title": "t", "specs": {"mass": [1e400]}}]}',
                "headers": {**AUTH, **JSON},
            },
            422,
            "invalid_product",
            "specs",
        ),
        (
            {"method": "POST", "url": "/products", "json": {"products": [{"id": "n1", "title": "t", "price": -1}]}},
            422,
            "invalid_product",
            "price",
        ),
        (
            {"method": "POST", "url": "/products", "json": {"products": [{"id": "n1", "title": "t", "rating": 5.1}]}},
            422,
            "invalid_product",
            "rating",
        ),
        (
            {
                "method": "POST",
                "url": "/products",
                "json": {"products": [{"id": "n", "title": "t", "rating_count": -2}]},
            },
            422,
            "invalid_product",
            "rating_count",
        ),
    ],
)
def test_bad_input_gets_a_json_error_that_says_what(client, request_args, status, code, field):
    if request_args["method"] == "POST" and request_args["url"] == "/products":
        request_args = {**request_args, "headers": {**AUTH, **request_args.get("headers", {})}}
    response = client.request(**request_args)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["status"], error["code"], error.get("field")) == (status, code, field)
    assert "Traceback" not in response.text


def test_refused_products_are_not_stored(client):
    for raw in (
        b'{"products": [{"id": "n1", "title": "t", "x": NaN}]}',
        b'{"products": [{"id": "n1", "title": "t", "x": Infinity}]}',
        rb'{"products": [{"id": "n1", "title": "\ud800"}]}',
    ):
        assert client.post("/products", content=raw, headers={**AUTH, **JSON}).status_code == 422
    assert client.post("/products", json={"products": [{"id": "n1", "title": "t", "price": -3}]}, headers=AUTH)
    assert client.get("/products/n1").status_code == 404


def test_query_strings_and_paths_that_are_not_utf8_never_fail(client):
    for url in (
        "/search?q=a%ED%A0%80b",  # the UTF-8 form of a lone surrogate (not valid UTF-8)
        "/search?q=%ff%fe&brand=%ED%B0%80",
        "/explain?q=a%ED%A0%80&id=p001",
        "/products/a%ED%A0%80b",
    ):
        response = client.get(url)
        assert response.status_code < 500, (url, response.text)
        response.json()  # valid JSON (and so valid UTF-8)


def _body(size: int, chunk: int = 64 * 1024):
    """A JSON upsert of one product whose title makes the body ``size`` bytes, as a chunked stream."""
    head, tail = b'{"products": [{"id": "big", "title": "', b'"}]}'
    data = head + b"x" * (size - len(head) - len(tail)) + tail
    return (data[i : i + chunk] for i in range(0, len(data), chunk))


@pytest.mark.parametrize("chunked", [False, True])
def test_body_size_limit(service_index, chunked):
    settings = ServiceSettings(index_dir=service_index, token=TOKEN, max_body_bytes=1_000)
    with TestClient(create_app(settings)) as client:
        assert client.post("/products", content=b"".join(_body(1_000)), headers={**AUTH, **JSON}).status_code == 200
        too_big = _body(1_001) if chunked else b"".join(_body(1_001))  # a generator is sent chunked
        response = client.post("/products", content=too_big, headers={**AUTH, **JSON})
        assert response.status_code == 413, response.text
        assert response.json()["error"] == {
            "status": 413,
            "code": "body_too_large",
            "message": "request body over 1,000 bytes",
        }
        assert response.headers["connection"] == "close"
        search = client.post("/search", content=(b'{"q": "x", "k": 1}' + b" " * 100 for _ in range(20)), headers=JSON)
        assert search.status_code == 413  # every route, no token needed to be refused
        assert client.get("/products/big").json()["title"] == "x" * (1_000 - 42)  # the 1,000-byte one


def test_internal_errors_have_no_stack_trace(client, monkeypatch):
    from shopmatch.backends.inprocess.live import LiveIndex

    def broken(self):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(LiveIndex, "snapshot", broken)  # what a search reads first
    response = client.get("/search", params={"q": "x"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"status": 500, "code": "internal_error", "message": "internal error; see the server log"}
    }
    assert "secret" not in response.text


def test_tokens_are_checked_before_the_body_is_read(service_index):
    settings = ServiceSettings(index_dir=service_index, token=TOKEN, read_token="reader")
    pulled = []

    def body():
        for _ in range(100):
            pulled.append(1)
            yield b" " * 1024

    with TestClient(create_app(settings)) as client:
        for url, headers, status in [
            ("/products", {}, 401),
            ("/products", {"Authorization": "Bearer nope"}, 403),
            ("/admin/compact", {"Authorization": "Bearer reader"}, 403),
            ("/search", {}, 401),
        ]:
            response = client.post(url, content=body(), headers={**headers, **JSON})
            assert response.status_code == status, (url, response.text)
            assert response.headers["connection"] == "close"  # the unread body is not drained
        assert pulled == []  # not a byte of any body was read
        metrics = client.get("/metrics", headers={"Authorization": "Bearer reader"}).text
        assert 'shopmatch_requests_total{method="POST",route="/products",status="401"} 1.0' in metrics


@pytest.mark.parametrize("product_id", ["a/b", "dir/sub/x", "trailing/", "100%/b?c#d"])
def test_product_ids_with_a_slash_can_be_read_and_deleted(client, product_id):
    from urllib.parse import quote

    path = "/products/" + quote(product_id, safe="")
    created = client.post("/products", json={"products": [{"id": product_id, "title": "Zyxwv slash"}]}, headers=AUTH)
    assert created.status_code == 200
    assert client.get("/search", params={"q": "zyxwv"}).json()["results"][0]["product_id"] == product_id
    assert client.get(path).json()["id"] == product_id
    assert client.delete(path, headers=AUTH).json()["deleted"] == [product_id]
    assert client.get(path).status_code == 404
    assert client.delete(path, headers=AUTH).status_code == 404


@pytest.mark.parametrize("url", ["/", "/health", "/search?q=cable&k=2", "/products/p001", "/docs", "/static/app.js"])
def test_head_is_answered_like_get_without_a_body(client, url):
    got = client.get(url)
    head = client.head(url)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    if url in ("/", "/products/p001", "/static/app.js"):  # the others hold timings
        assert head.headers["content-length"] == str(len(got.content))
    assert client.head("/admin/compact").status_code == 405  # no GET there: no HEAD either


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def test_security_headers_on_every_response(service_index):
    settings = ServiceSettings(index_dir=service_index, token=TOKEN, max_body_bytes=100)
    with TestClient(create_app(settings)) as client:
        responses = [
            client.get("/"),
            client.get("/docs"),
            client.get("/static/app.js"),
            client.get("/search", params={"q": "cable"}),
            client.head("/health"),
            client.get("/metrics"),
            client.get("/openapi.json"),
            client.get("/nope"),
            client.get("/search"),  # 422
            client.post("/products", json={"products": []}),  # 401
            client.post("/products", content=b"x" * 200, headers=AUTH),  # 413
            client.request("BREW", "/"),  # 405
        ]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.url, response.status_code, name)
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "'unsafe-inline'" not in policy


def test_pages_have_no_inline_script_and_load_nothing_from_elsewhere(client):
    for url in ("/", "/docs"):
        page = client.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), url  # inline scripts are refused by the CSP
        assert not re.search(r"\son\w+=", page), url
        assert not re.search(r"(src|href)=\"(https?:)?//", page), url  # no CDN: it works offline
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
            assert client.get(asset).status_code == 200, asset
    assert client.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not served
    assert client.get("/openapi.json").json()["info"]["title"] == "shopmatch"


def test_invented_methods_do_not_grow_the_metrics(client):
    def series() -> set[str]:
        return {line.rsplit(" ", 1)[0] for line in client.get("/metrics").text.splitlines()}

    def invent(numbers):
        for i in numbers:
            client.request(f"X{i}", "/search")  # a route: 405
            client.request(f"X{i}", f"/no/such/{i}")  # no route: 404

    invent(range(2))
    series()  # the scrape's own series
    before = series()
    invent(range(2, 300))
    after = series()
    assert after == before  # only the counts changed
    assert not any(re.search(r'method="X\d+"', line) for line in after)
    metrics = client.get("/metrics").text
    assert 'shopmatch_requests_total{method="other",route="/search",status="405"} 300.0' in metrics
    assert 'shopmatch_requests_total{method="other",route="unmatched",status="404"} 300.0' in metrics
