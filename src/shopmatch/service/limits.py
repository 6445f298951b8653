"""The request-body size limit, enforced while the body streams in.

Checking ``Content-Length`` alone is not enough: a chunked body has none. :class:`BodyLimit`
refuses a declared length over the limit before anything is read, and otherwise counts the bytes
the app receives: as soon as they pass the limit, ``receive`` raises :class:`BodyTooLarge` and the
client gets a 413; the rest of the body is never read, and the connection is closed
(``Connection: close``) instead of being drained. Nothing is buffered here: the app reads the body
as it arrives, so at most the limit (plus one chunk) is ever held.

Example:
    >>> app = BodyLimit(inner_app, max_bytes=8 * 1024 * 1024)  # doctest: +SKIP
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopmatch.service.errors import json_error

CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    """The request body passed the limit.

    A Starlette ``HTTPException`` on purpose: FastAPI's body reader passes those on to the app's
    exception handlers (it turns any other exception from ``receive`` into a 400).
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes:,} bytes", headers=CLOSE)


class BodyLimit:
    """ASGI middleware: answer 413 to a request whose body passes ``max_bytes``, for every route.

    Args:
        app: the ASGI app to guard.
        max_bytes: the most body bytes a request may send.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and not declared.strip().isdigit():
            response = json_error(400, "invalid_content_length", "Content-Length is not a number", headers=CLOSE)
            await response(scope, receive, send)
            return
        if declared is not None and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            if received > self.max_bytes:  # the app asks again after the refusal: read no more
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:  # read outside FastAPI's exception handlers (e.g. by a middleware)
            if started:
                raise
            await _too_large(self.max_bytes)(scope, receive, send)


def _too_large(max_bytes: int):
    return json_error(413, "body_too_large", f"request body over {max_bytes:,} bytes", headers=CLOSE)
