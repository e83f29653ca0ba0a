"""What the OpenAI-compatible runtimes (`embeddings_server`, `textgen_server`) share.

- `InvalidRequest`: a body the API cannot take; answered 400 with the field named in `param`.
- `error()`: OpenAI's error shape, `{"error": {"message", "type", "param", "code": null}}`.
- `json_body()`: the request body as a JSON object, or `InvalidRequest`.
- `app()`: a runtime's own routes plus `GET /v1/models`, `GET /health` (the catalog's health
  path) and the error handlers: 400 for `InvalidRequest`, the status for an HTTP error (404 for
  an unknown path), 500 naming the exception's type for anything else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class InvalidRequest(ValueError):
    """A request body the API rejects (answered 400); `param` names the field."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.param = param


def error(status: int, message: str, *, kind: str, param: str | None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return JSONResponse(body, status_code=status)


async def json_body(request: Request) -> Any:
    """The decoded JSON body (any JSON value: callers check its shape)."""
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}", None) from exc


def app(routes: Sequence[Route], *, model_name: str) -> Starlette:
    """`routes` served beside `/v1/models` and `/health`, with OpenAI-shaped errors."""

    async def models(request: Request) -> Response:
        card = {"id": model_name, "object": "model", "created": 0, "owned_by": "modelport"}
        return JSONResponse({"object": "list", "data": [card]})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidRequest)
        return error(400, str(exc), kind="invalid_request_error", param=exc.param)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, exc.detail, kind="invalid_request_error", param=None)

    async def on_crash(request: Request, exc: Exception) -> Response:
        # Starlette re-raises after this answer, so the server logs the traceback.
        return error(500, f"internal error: {type(exc).__name__}", kind="server_error", param=None)

    return Starlette(
        routes=[
            *routes,
            Route("/v1/models", models, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={
            InvalidRequest: on_invalid,
            HTTPException: on_http_error,
            Exception: on_crash,
        },
    )
