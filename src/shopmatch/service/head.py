"""``HEAD`` answered like ``GET`` without a body (FastAPI routes only list the methods declared).

The request is routed as a ``GET``; its status and headers (``Content-Length`` included) are
sent, the body is not. A path without ``GET`` answers ``HEAD`` with 405, as it answers ``GET``.
Inside the app a ``HEAD`` is a ``GET`` (the metrics count it as one).

Example:
    >>> app.add_middleware(HeadAsGet)  # doctest: +SKIP
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: run ``HEAD`` requests as ``GET`` and drop the response body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
