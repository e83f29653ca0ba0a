"""Domain errors → HTTP status and the one error envelope. The only place that picks codes.

{"error": {"code": "invalid", "message": "replicas: must be …", "details": {"field": …}}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
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
    "unavailable": 503,
    "temporary": 503,
    "permanent": 500,
    "internal": 500,
}


def envelope(status: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers=headers,
    )


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


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid")
    return envelope(exc.status_code, code, str(exc.detail), {})


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return envelope(500, "internal", "internal error", {})


def install(app: FastAPI) -> None:
    app.add_exception_handler(ModelportError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
