"""Domain errors → HTTP status and the one error envelope. The only place that picks codes.

{"error": {"code": "invalid", "message": "replicas: must be …", "details": {"field": …}}}

`responses(...)` declares, for a route's OpenAPI entry, the error answers it can give (with
the envelope's schema); every authenticated route may also answer 401, 413, 500 and 503.
`too_large(limit)` is the native door's answer to a body over the limit (`api.limits`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from modelport.domain.errors import (
    Conflict,
    Forbidden,
    Invalid,
    ModelportError,
    NotFound,
    PermanentError,
    TemporaryError,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger(__name__)

STATUS: dict[type[ModelportError], int] = {
    Invalid: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
    TemporaryError: 503,
    PermanentError: 500,
}

# every code the API answers with, for the docs test
CODES = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "too_large": 413,
    "unavailable": 503,
    "temporary": 503,
    "permanent": 500,
    "internal": 500,
}


# every route that takes an API key may answer these
ALWAYS = ("unauthorized", "too_large", "internal", "temporary")
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {
        "Retry-After": {
            "description": "Seconds to wait before a retry",
            "schema": {"type": "string"},
        }
    },
}


class ErrorBody(BaseModel):
    code: str = Field(description="For programs: `invalid`, `not_found`, … (docs/api.md).")
    message: str = Field(description="For people.")
    details: dict[str, Any] = Field(
        description="`field` (and `errors`) for `invalid`; `kind`, `id` for `not_found`."
    )


class ErrorEnvelope(BaseModel):
    """The one error shape of the native API and of the gateway."""

    error: ErrorBody


def responses(*codes: str, auth: bool = True) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that can fail with `codes` (keys of `CODES`)."""
    by_status: dict[int, list[str]] = {}
    for code in (*codes, *(ALWAYS if auth else ())):
        by_status.setdefault(CODES[code], []).append(code)
    out: dict[int | str, dict[str, Any]] = {}
    for status, names in sorted(by_status.items()):
        out[status] = {
            "model": ErrorEnvelope,
            "description": "Error: " + ", ".join(f"`{n}`" for n in names),
        }
        if status in HEADERS:
            out[status]["headers"] = HEADERS[status]
    return out


def envelope(status: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers=headers,
    )


def too_large(limit: int) -> JSONResponse:
    status = CODES["too_large"]
    return envelope(status, "too_large", f"request body over {limit} bytes", {"limit": limit})


def status_of(exc: ModelportError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModelportError)
    status = status_of(exc)
    if status >= 500:
        log.error("request failed: %s", exc.message)
    response = envelope(status, exc.code, exc.message, exc.details)
    if isinstance(exc, TemporaryError):
        response.headers["Retry-After"] = str(max(1, round(exc.delay)))
    return response


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    field = _field(first.get("loc", ()))
    problems = [{"field": _field(e.get("loc", ())), "message": e["msg"]} for e in errors]
    return envelope(
        400, "invalid", f"{field}: {first['msg']}", {"field": field, "errors": problems}
    )


def _field(loc: Any) -> str:
    """`("body", "deployments", 0, "replicas")` → `deployments[0].replicas`, as services name it."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and not out:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid")
    return envelope(exc.status_code, code, str(exc.detail), {})


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return envelope(500, "internal", "internal error", {})


def install(app: FastAPI) -> None:
    app.add_exception_handler(ModelportError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, _unexpected)
