"""BodyLimit as a plain ASGI middleware: it stops pulling a streamed body at the limit."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import JSONResponse

from shopmatch.service.limits import BodyLimit

CHUNK = 1024


def _run(app, headers: list[tuple[bytes, bytes]], chunks: int) -> tuple[list[dict], int]:
    """Send a ``chunks``-chunk body to ``app``; return what it sent and how many chunks it pulled."""
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < chunks}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    asyncio.run(app(scope, receive, send))
    return sent, pulled


async def reads_the_whole_body(scope, receive, send):
    """A plain ASGI app that reads its body (outside FastAPI's exception handlers)."""
    body = await Request(scope, receive).body()
    await JSONResponse({"read": len(body)})(scope, receive, send)


def test_a_streamed_body_is_cut_off_at_the_limit():
    sent, pulled = _run(BodyLimit(reads_the_whole_body, max_bytes=10 * CHUNK), [], chunks=100_000)
    assert pulled == 11  # the chunk that passed the limit is the last one read
    start, body = sent
    assert start["status"] == 413 and (b"connection", b"close") in start["headers"]
    assert json.loads(body["body"])["error"]["code"] == "body_too_large"


def test_a_body_within_the_limit_is_passed_on():
    sent, pulled = _run(BodyLimit(reads_the_whole_body, max_bytes=10 * CHUNK), [], chunks=10)
    assert pulled == 10 and sent[0]["status"] == 200 and json.loads(sent[1]["body"]) == {"read": 10 * CHUNK}


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    headers = [(b"content-length", str(11 * CHUNK).encode())]
    sent, pulled = _run(BodyLimit(reads_the_whole_body, max_bytes=10 * CHUNK), headers, chunks=11)
    assert pulled == 0 and sent[0]["status"] == 413
    sent, pulled = _run(BodyLimit(reads_the_whole_body, max_bytes=10 * CHUNK), [(b"content-length", b"1e3")], 1)
    assert pulled == 0 and sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["error"]["code"] == "invalid_content_length"
