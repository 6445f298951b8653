"""Header and body read timeouts for the HTTP server that ``shopmatch serve`` runs (uvicorn).

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) but does not limit how long
a client may take to *send* a request: its keep-alive timer stops at the first byte, and a new
connection has none. A client that sends half a request line and stalls, or trickles its headers
or body a byte at a time (slowloris), holds a connection open for as long as it likes.
:class:`TimedH11Protocol` is uvicorn's h11 protocol with two deadlines:

- the request line and headers must be complete within ``header_timeout`` seconds of the
  connection opening (or of the previous response on a kept-alive connection);
- the body must be complete within ``body_timeout`` seconds of the headers.

A deadline bounds the whole phase, not the gap between two bytes, so trickling does not extend
it. When it passes, the client gets a 408 (if it had started a request and no response has
begun) and the connection is closed; the app, if it was reading the body, sees a disconnect.

Example:
    >>> import uvicorn
    >>> uvicorn.run(app, http=timed_h11_protocol(header_timeout=15, body_timeout=60))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from shopmatch.service.errors import error_body

logger = logging.getLogger(__name__)

HEADERS, BODY = "headers", "body"
_PHASE_OF_STATE = {h11.IDLE: HEADERS, h11.SEND_BODY: BODY}  # the client's h11 state → what we wait for


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on receiving the headers and on receiving the body.

    Use :func:`timed_h11_protocol` to get a subclass with other timeouts than the defaults.
    """

    header_timeout: float = 15.0
    body_timeout: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: str | None = None  # HEADERS, BODY, or None (not waiting for the client)
        self._deadline: asyncio.TimerHandle | None = None
        self._started_request = False  # bytes of a request arrived in the current HEADERS phase

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()
        if data and self._phase == HEADERS:
            self._started_request = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Start the deadline of the phase the connection is in, when it enters a new one."""
        phase = None if self.transport.is_closing() else _PHASE_OF_STATE.get(self.conn.their_state)
        if phase == self._phase:
            return  # the same phase goes on: its deadline stays where it was
        self._cancel()
        self._phase, self._started_request = phase, False
        if phase is not None:
            timeout = self.header_timeout if phase == HEADERS else self.body_timeout
            self._deadline = self.loop.call_later(timeout, self._expire, phase, timeout)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, phase: str, timeout: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle if phase == BODY else None
        client = "{}:{}".format(*self.client) if self.client else "a client"
        logger.info("closing the connection of %s: request %s not received within %g s", client, phase, timeout)
        answered = cycle is not None and cycle.response_started
        if (phase == BODY or self._started_request) and not answered:
            self.transport.write(_request_timeout(phase, timeout))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() gets http.disconnect, its send() is dropped
            cycle.message_event.set()
        self.transport.close()


def timed_h11_protocol(header_timeout: float, body_timeout: float) -> type[TimedH11Protocol]:
    """A :class:`TimedH11Protocol` subclass with these timeouts, for ``uvicorn.run(http=...)``."""
    attributes = {"header_timeout": header_timeout, "body_timeout": body_timeout}
    return type("TimedH11Protocol", (TimedH11Protocol,), attributes)


HEADER_TIMEOUT_ENV = "SHOPMATCH_HEADER_TIMEOUT"
BODY_TIMEOUT_ENV = "SHOPMATCH_BODY_TIMEOUT"


class EnvironmentTimedH11Protocol(TimedH11Protocol):
    """The protocol of worker processes (``shopmatch serve --workers N``; uvicorn imports it by
    name): the timeouts from ``$SHOPMATCH_HEADER_TIMEOUT`` and ``$SHOPMATCH_BODY_TIMEOUT``."""

    header_timeout = float(os.environ.get(HEADER_TIMEOUT_ENV, TimedH11Protocol.header_timeout))
    body_timeout = float(os.environ.get(BODY_TIMEOUT_ENV, TimedH11Protocol.body_timeout))


def _request_timeout(phase: str, timeout: float) -> bytes:
    body = json.dumps(error_body(408, "request_timeout", f"request {phase} not received within {timeout:g} s"))
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-content-type-options: nosniff\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body.encode("ascii")
