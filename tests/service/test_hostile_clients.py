"""`shopmatch serve` as a real process against clients that stall, trickle or stream too much,
over raw sockets: header and body read timeouts, and the body limit on chunked bodies."""

from __future__ import annotations

import select
import shutil
import socket
import time

import httpx
import psutil
import pytest

from shopmatch.service.process import ServiceProcess as Server

TOKEN = "hostile"
HEADER_TIMEOUT, BODY_TIMEOUT = 1.0, 3.0
SLACK = 4.0  # a loaded 2-core CI machine
MAX_BODY = 8 * 1024 * 1024  # the default max_body_bytes


@pytest.fixture(scope="module")
def server(service_index_template, tmp_path_factory):
    target = tmp_path_factory.mktemp("hostile") / "index"
    shutil.copytree(service_index_template, target)
    timeouts = ("--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT))
    server = Server(target, *timeouts, token=TOKEN).start()
    yield server
    server.stop()


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _until_closed(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection (which must happen ``within`` s)."""
    deadline = time.monotonic() + within
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    pytest.fail(f"the connection was still open after {within} s (received {data[:200]!r})")


def _trickle(sock: socket.socket, data: bytes, every: float, within: float) -> tuple[bytes, int]:
    """Send ``data`` a byte every ``every`` s until the server closes (``within`` s); return what the
    server sent and how many bytes went out."""
    deadline = time.monotonic() + within
    received, sent = b"", 0
    while time.monotonic() < deadline and sent < len(data):
        try:
            sock.sendall(data[sent : sent + 1])
            sent += 1
        except (BrokenPipeError, ConnectionResetError):
            return received, sent
        if select.select([sock], [], [], every)[0]:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received, sent
            if not chunk:
                return received, sent
            received += chunk
    pytest.fail(f"still open after {within} s and {sent} trickled bytes (received {received[:200]!r})")


def test_a_request_line_that_stalls_is_closed_after_the_header_timeout(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /sea")
        started = time.monotonic()
        answer = _until_closed(sock, HEADER_TIMEOUT + SLACK)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ") and b'"code": "request_timeout"' in answer
    assert waited >= HEADER_TIMEOUT * 0.5


def test_a_connection_that_sends_nothing_is_closed(server):
    with _connect(server) as sock:
        assert _until_closed(sock, HEADER_TIMEOUT + SLACK) == b""  # no request started: nothing to answer


def test_trickled_headers_are_cut_off_at_the_deadline(server):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with _connect(server) as sock:
        answer, sent = _trickle(sock, request, every=0.1, within=HEADER_TIMEOUT + SLACK)
    assert answer.startswith(b"HTTP/1.1 408 ") and sent < len(request)


def test_a_trickled_body_is_cut_off_at_the_deadline(server):
    head = b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    body = b'{"q": "cable", "k": 1}' + b" " * (1000 - 22)
    with _connect(server) as sock:
        sock.sendall(head)
        started = time.monotonic()
        answer, sent = _trickle(sock, body, every=0.1, within=BODY_TIMEOUT + SLACK)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"request body not received" in answer
    assert time.monotonic() - started >= BODY_TIMEOUT * 0.5 and sent < len(body)


def test_a_kept_alive_connection_that_stalls_mid_request_is_closed(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(65536)
        assert response.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /hea")  # the next request starts, and stalls (uvicorn's keep-alive timer stops)
        answer = _until_closed(sock, HEADER_TIMEOUT + SLACK)
    assert b"HTTP/1.1 408 " in answer


def _stream_chunked(sock: socket.socket, head: bytes, total: int, chunk: int = 256 * 1024) -> tuple[int, bytes]:
    """Send ``head`` then a chunked body of up to ``total`` bytes, until the server answers or stops
    reading; return the body bytes sent and what the server answered."""
    sock.sendall(head)
    piece = b"%x\r\n" % chunk + b" " * chunk + b"\r\n"
    sent, answer = 0, b""
    sock.settimeout(5.0)  # a server that stops reading makes sendall block
    try:
        while sent < total and not select.select([sock], [], [], 0)[0]:
            sock.sendall(piece)
            sent += chunk
        if sent < total:
            answer = _until_closed(sock, 10.0)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    return sent, answer


def test_a_chunked_search_body_over_the_limit_is_not_read_whole(server):
    process = psutil.Process(server.process.pid)
    assert httpx.post(server.url + "/search", json={"q": "cable"}).status_code == 200  # warm up
    before = process.memory_info().rss
    head = b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    with _connect(server) as sock:
        sent, answer = _stream_chunked(sock, head, total=200 * 1024 * 1024)
    grown = process.memory_info().rss - before
    assert sent < MAX_BODY + 64 * 1024 * 1024, f"{sent:,} bytes were sent: the server kept reading"
    assert not answer or answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert grown < 100 * 1024 * 1024, f"the server grew by {grown / 2**20:.0f} MiB"
    assert httpx.get(server.url + "/health").status_code == 200


def test_a_chunked_product_over_the_limit_is_refused_and_not_stored(server):
    head = (
        b"POST /products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
    )
    body = b'{"products": [{"id": "huge", "title": "' + b"x" * (20 * 1024 * 1024) + b'"}]}'
    with _connect(server) as sock:
        sock.sendall(head)
        sent, answer = 0, b""
        sock.settimeout(5.0)
        try:
            for start in range(0, len(body), 256 * 1024):
                if select.select([sock], [], [], 0)[0]:
                    break
                piece = body[start : start + 256 * 1024]
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
            answer = _until_closed(sock, 10.0)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
    assert sent < len(body)
    assert not answer or answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert httpx.get(server.url + "/products/huge").status_code == 404


def test_head_and_security_headers_over_http(server):
    get = httpx.get(server.url + "/products/p001")
    head = httpx.head(server.url + "/products/p001")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    for response in (get, head, httpx.get(server.url + "/")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_a_product_id_with_a_slash_over_http(server):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    product = {"id": "shelf/a/b", "title": "Zyxwv slash shelf"}
    assert httpx.post(server.url + "/products", json={"products": [product]}, headers=auth).status_code == 200
    url = server.url + "/products/shelf%2Fa%2Fb"
    assert httpx.get(url).json()["id"] == "shelf/a/b"
    assert httpx.delete(url, headers=auth).json()["deleted"] == ["shelf/a/b"]
    assert httpx.get(url).status_code == 404
