"""Error answers of the service: ``{"error": {"status", "code", "message", "field"?}}``.

Every error the service sends (from an endpoint, a middleware or an exception handler) is built
here, so they all have that shape. Text in an error can echo client input: lone surrogates are
escaped so the body can always be encoded as UTF-8.

Example:
    >>> error_body(422, "invalid_request", "q: too short", "q")
    {'error': {'status': 422, 'code': 'invalid_request', 'message': 'q: too short', 'field': 'q'}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from shopmatch.catalog import printable


class ApiError(Exception):
    """An error answered as ``{"error": ...}`` with HTTP status ``status``.

    Args:
        status: the HTTP status.
        code: a stable machine-readable code (``invalid_request``, ``not_found``, ...).
        message: what was wrong, for a person.
        field: the request field at fault, if one is.
        headers: extra response headers (e.g. ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.headers = status, code, message, field, headers

    def response(self) -> JSONResponse:
        return json_error(self.status, self.code, self.message, self.field, headers=self.headers)


def error_body(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON body of an error."""
    error: dict[str, Any] = {"status": status, "code": code, "message": printable(message)}
    if field:
        error["field"] = printable(field)
    return {"error": error}


def json_error(
    status: int, code: str, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An error response."""
    return JSONResponse(error_body(status, code, message, field), status_code=status, headers=headers)
