"""Security headers on every response of the service.

- ``Content-Security-Policy``: scripts, styles and API calls from the service itself only (no
  inline script or style), product images from anywhere, no plugins, no ``<base>``, forms post
  to the service, and ``frame-ancestors 'none'``: no other site may frame the page;
- ``X-Frame-Options: DENY``: the same for browsers without CSP level 2;
- ``X-Content-Type-Options: nosniff``: a response is only ever read as its declared type;
- ``Referrer-Policy: no-referrer``: the page's address holds the query, and product images load
  from other hosts: they must not learn what was searched.

Example:
    >>> app.add_middleware(SecurityHeaders)  # doctest: +SKIP
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src * data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware: add :data:`SECURITY_HEADERS` to each HTTP response (unless it set its own)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS if headers is None else headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
