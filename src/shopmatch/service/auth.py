"""Bearer tokens of the service, checked before a request body is read.

Write endpoints need ``Authorization: Bearer <token>`` (``settings.token``; without one, writes
are refused); when ``settings.read_token`` is set, read endpoints need that one. The checks are
FastAPI dependencies (``dependencies=[Depends(auth.require_write)]``), so each route says what
it needs. FastAPI reads and parses a JSON body *before* it solves dependencies, though, so
:class:`AuthBeforeBody` runs the same checks from the headers alone as soon as a request is routed:
an unauthenticated client cannot make the service read or parse its body.

Example:
    >>> auth = TokenAuth(token="s3cret", read_token=None)
    >>> app.add_middleware(AuthBeforeBody, checks=auth.checks)  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection

from fastapi import Request
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from shopmatch.service.errors import ApiError

Check = Callable[[Request], None]


class TokenAuth:
    """The token checks (FastAPI dependencies raising :class:`ApiError` 401/403).

    Args:
        token: the write token; ``None``: writes are disabled (403 ``writes_disabled``).
        read_token: the read token; ``None``: reads are open.
        events: whether the service logs events (``POST /events`` is 404 ``events_disabled`` if not).
        public_clicks: ``POST /events`` without an ``Authorization`` header is let through (the
            endpoint then takes ``click`` events only, see :func:`is_public`); with a header, the
            write token is checked as on any write.
    """

    def __init__(
        self, token: str | None, read_token: str | None, *, events: bool = False, public_clicks: bool = False
    ) -> None:
        self.token, self.read_token = token, read_token
        self.events, self.public_clicks = events, public_clicks

    @property
    def checks(self) -> tuple[Check, ...]:
        return (self.require_read, self.require_write, self.require_events)

    def require_events(self, request: Request) -> None:
        if not self.events:
            raise ApiError(404, "events_disabled", "event capture is off: start the service with --events DIR")
        if self.public_clicks and is_public(request):
            return
        self.require_write(request)

    def require_read(self, request: Request) -> None:
        if self.read_token:
            _check_token(request.headers, self.read_token, "read")

    def require_write(self, request: Request) -> None:
        if not self.token:
            raise ApiError(
                403, "writes_disabled", "writes are disabled: start the service with --token or $SHOPMATCH_TOKEN"
            )
        _check_token(request.headers, self.token, "write")


class AuthBeforeBody:
    """ASGI middleware: run the token checks a route declares before the route reads the body.

    Args:
        app: the ASGI app (inside a FastAPI app, whose routes are looked up in ``scope["app"]``).
        checks: the dependencies to run early (header-only checks such as :attr:`TokenAuth.checks`).
    """

    def __init__(self, app: ASGIApp, checks: Collection[Check]) -> None:
        self.app = app
        self.checks = checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route(scope) if scope["type"] == "http" else None
        if route is not None:
            scope["route"] = route  # the router sets the same; the metrics read it even on a refusal
            try:
                for dependency in getattr(route, "dependencies", ()):
                    if dependency.dependency in self.checks:
                        dependency.dependency(Request(scope))
            except ApiError as error:
                response = error.response()
                if _has_body(scope):  # do not read (or drain) the body: close once answered
                    response.headers["Connection"] = "close"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def is_public(request: Request) -> bool:
    """A request without an ``Authorization`` header (a page's click, when public clicks are on)."""
    return "authorization" not in request.headers


def _route(scope: Scope) -> BaseRoute | None:
    """The route that will handle the request (method and path match), if any."""
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def _has_body(scope: Scope) -> bool:
    headers = Headers(scope=scope)
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in ("", "0")


def _check_token(headers: Headers, expected: str, what: str) -> None:
    header = headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not header:
        raise ApiError(
            401,
            "unauthorized",
            f"{what} endpoints need 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(403, "forbidden", "wrong token")
