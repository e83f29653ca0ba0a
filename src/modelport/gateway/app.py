"""The gateway ASGI app: `/{service_id}/{path}` (mounted under `/services`).

Checks the service key when the service's auth is on, picks a replica, forwards, counts the
invocation. Errors use the native envelope `{"error": {"code", "message", "details"}}`.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as HttpRoute

from modelport.domain.errors import (
    ModelportError,
    NotFound,
    TemporaryError,
    Unauthorized,
    Unavailable,
)
from modelport.gateway import proxy
from modelport.gateway.balancer import Balancer
from modelport.gateway.counters import Counters
from modelport.gateway.routing import Router
from modelport.services.secrets import same, token_hash

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Gateway:
    def __init__(self, router: Router, client: httpx.AsyncClient) -> None:
        self.router = router
        self.client = client
        self.balancer = Balancer()
        self.counters = Counters()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                HttpRoute("/{service_id}", self.handle, methods=METHODS),
                HttpRoute("/{service_id}/{path:path}", self.handle, methods=METHODS),
            ]
        )

    async def handle(self, request: Request) -> Response:
        service_id = request.path_params["service_id"]
        path = request.path_params.get("path", "")
        route = self.router.table.get(service_id)
        try:
            if route is None:
                raise NotFound("service", service_id)
            if route.auth:
                _check_key(request, route.key_hash)
            client = request.client.host if request.client else ""
            address = self.balancer.pick(route, client)
        except ModelportError as exc:
            return error_response(exc)
        self.balancer.started(address)
        try:
            response = await proxy.forward(self.client, request, address, path)
        except ModelportError as exc:
            self.balancer.finished(address)
            self.counters.record(service_id, failed=True)
            return error_response(exc)
        self.counters.record(service_id, failed=response.status_code >= 500)
        # in flight until the last byte of the answer is sent
        done = response.background
        response.background = BackgroundTask(_after, done, self.balancer.finished, address)
        return response


async def _after(
    first: BackgroundTask | None, finished: Callable[[str], None], address: str
) -> None:
    try:
        if first is not None:
            await first()
    finally:
        finished(address)


def _check_key(request: Request, key_hash: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("this service needs 'Authorization: Bearer <service key>'")
    if not same(token_hash(token.strip()), key_hash):
        raise Unauthorized("wrong service key")


_STATUS = {NotFound: 404, Unauthorized: 401, Unavailable: 503, TemporaryError: 502}


def error_response(exc: ModelportError) -> JSONResponse:
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 500)
    headers = {"Retry-After": "1"} if status in (502, 503) else None
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return JSONResponse(body, status_code=status, headers=headers)
