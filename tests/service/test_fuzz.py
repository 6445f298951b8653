"""Hostile and malformed input to every endpoint: the service answers 4xx (or 2xx), never 5xx."""

from __future__ import annotations

import shutil
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopmatch.service import ServiceSettings, create_app

TOKEN = "fuzz-token"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(st.characters(codec="utf-8"), max_size=300)
# JSON has no NaN or infinity (the client cannot send them); test_raw_bytes_bodies sends the literals.
json_scalar = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | text
)
json_value = st.recursive(
    json_scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12
)
numberish = st.one_of(text, st.integers(-(2**40), 2**40).map(str), st.sampled_from(["nan", "inf", "-1", "1e309", ""]))
auth = st.sampled_from([None, f"Bearer {TOKEN}", "Bearer wrong", "Basic abc", "Bearer", ""]) | text


@pytest.fixture(scope="module")
def client(service_index_template, tmp_path_factory):
    target = tmp_path_factory.mktemp("fuzz") / "index"
    shutil.copytree(service_index_template, target)
    with TestClient(create_app(ServiceSettings(index_dir=target, token=TOKEN, compact_after=3))) as client:
        yield client


def _headers(authorization):
    if authorization is None:
        return {}
    return {"Authorization": authorization.replace("\n", " ").replace("\r", " ").encode("utf-8")}


def _ok(response):
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.json()["error"]["message"]


@FUZZ
@given(
    q=text,
    k=numberish,
    offset=numberish,
    brand=st.lists(text, max_size=3),
    category=text,
    price=numberish,
    rating=numberish,
    explain=st.sampled_from(["true", "false", "maybe", ""]),
)
def test_get_search(client, q, k, offset, brand, category, price, rating, explain):
    params = [
        ("q", q),
        ("k", k),
        ("offset", offset),
        ("category", category),
        ("min_price", price),
        ("min_rating", rating),
        ("explain", explain),
    ] + [("brand", b) for b in brand]
    _ok(client.get("/search", params=params))


@FUZZ
@given(body=json_value)
def test_post_search_any_json(client, body):
    _ok(client.post("/search", json=body))


@FUZZ
@given(
    q=text,
    k=st.integers(-5, 200),
    filters=st.dictionaries(
        st.sampled_from(["brand", "color", "category", "min_price", "max_price", "min_rating", "other"]),
        json_value,
        max_size=4,
    ),
)
def test_post_search_shaped(client, q, k, filters):
    _ok(client.post("/search", json={"q": q, "k": k, "filters": filters, "explain": False}))


@FUZZ
@given(
    products=st.lists(
        st.dictionaries(
            st.sampled_from(["id", "title", "price", "category", "brand", "rating", "x"]), json_value, max_size=6
        ),
        max_size=4,
    ),
    authorization=auth,
)
def test_upsert_any_products(client, products, authorization):
    _ok(client.post("/products", json={"products": products}, headers=_headers(authorization)))


@FUZZ
@given(body=json_value, authorization=auth)
def test_upsert_any_body(client, body, authorization):
    _ok(client.post("/products", json=body, headers=_headers(authorization)))


@FUZZ
@given(
    raw=st.binary(max_size=200)
    | st.sampled_from(
        [
            b'{"q": "x", "filters": {"min_price": NaN}}',
            b'{"products": [{"id": "n", "title": "t", "price": Infinity}]}',
            b'{"products": [{"id": "n", "title": "t", "rating": -Infinity, "category": [NaN]}]}',
            b'{"q": "x", "k": 1e999}',
            # lone surrogates (valid JSON escapes, but no UTF-8 form)
            rb'{"q": "a\ud800b"}',
            rb'{"products": [{"id": "n", "title": "\udfff"}]}',
            rb'{"products": [{"id": "n\ud800", "title": "t", "x": {"\udc00": [NaN]}}]}',
        ]
    )
)
def test_raw_bytes_bodies(client, raw):
    headers = {"content-type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    _ok(client.post("/products", content=raw, headers=headers))
    _ok(client.post("/search", content=raw, headers=headers))


@FUZZ
@given(
    product_id=text.filter(lambda s: s not in ("", ".", "..")),
    authorization=auth,
)
def test_product_paths(client, product_id, authorization):
    path = "/products/" + quote(product_id, safe="")  # percent-encoded, as a client must send it
    _ok(client.get(path))
    _ok(client.delete(path, headers=_headers(authorization)))


@FUZZ
@given(q=text, product_id=text)
def test_explain(client, q, product_id):
    _ok(client.get("/explain", params={"q": q, "id": product_id}))


def test_still_healthy_after_fuzzing(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/search", params={"q": "cable"}).status_code == 200
