"""The OpenAI-compatible front: `/v1/models`, `/v1/chat/completions`, `/v1/completions` and
`/v1/embeddings` on the gateway, so OpenAI clients reach Modelport services by name.

A call is routed by its body's `model` to the service of that name: among services of that
name, the one whose key the caller presents (`Authorization: Bearer <service key>`, as OpenAI
clients send their API key), else one without auth. The body's `model` is rewritten to the
name the chosen deployment's replicas serve (the registered model's name), so a runtime that
checks it (vLLM does) accepts the call. Answers, streamed ones included, pass through as the
replica sends them. Errors use OpenAI's envelope: `{"error": {"message", "type", "param",
"code"}}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from modelport.domain.errors import Invalid, ModelportError, NotFound, Unauthorized
from modelport.gateway.balancer import Pick
from modelport.gateway.errors import retry_after, status_of
from modelport.gateway.http import Client, Request
from modelport.gateway.routing import Route
from modelport.services.secrets import same, token_hash

if TYPE_CHECKING:
    from modelport.gateway.plane import DataPlane

CALLS = frozenset({b"/v1/chat/completions", b"/v1/completions", b"/v1/embeddings"})


class Front:
    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane

    def handle(self, request: Request, client: Client, path: bytes) -> None:
        if path == b"/v1/models" and request.method == b"GET":
            return self._models(request, client)
        try:
            if path not in CALLS:
                raise NotFound("path", path.decode(errors="replace"))
            if request.method != b"POST":
                raise Invalid("method", f"{path.decode()} takes POST")
            body = request.json()
            if body is None:
                raise Invalid("body", "the body must be a JSON object")
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise Invalid("model", "give the name of a Modelport service as 'model'")
            route = self._route(model, request.bearer())
        except ModelportError as exc:
            openai_error(client, request, exc, status_of(exc))
            return client.done(request.keep_alive)
        self.plane.call(
            request, client, route, request.target, openai_error, _rewrite(route, body, model)
        )

    def _route(self, model: str, token: str) -> Route:
        candidates = self.plane.routes.table.by_name.get(model, ())
        if not candidates:
            raise NotFound("model", model)
        hashed = token_hash(token) if token else ""
        keyed = [r for r in candidates if r.auth and hashed and same(hashed, r.key_hash)]
        if keyed:
            return keyed[0]
        open_ = [r for r in candidates if not r.auth]
        if open_:
            return open_[0]
        raise Unauthorized(f"model {model!r} needs 'Authorization: Bearer <service key>'")

    def _models(self, request: Request, client: Client) -> None:
        token = request.bearer()
        hashed = token_hash(token) if token else ""
        data = [
            {"id": r.name, "object": "model", "created": r.created, "owned_by": r.project_id}
            for r in self.plane.routes.table.routes.values()
            if not r.auth or (hashed and same(hashed, r.key_hash))
        ]
        data.sort(key=lambda m: str(m["id"]))
        client.respond(200, json.dumps({"object": "list", "data": data}).encode())
        client.done(request.keep_alive)


def _rewrite(route: Route, body: dict[str, object], model: str) -> Callable[[Pick], bytes]:
    """The body to send to the picked deployment: `model` named as its replicas serve it."""
    served = {t.deployment_id: t.model_name for t in route.targets}
    encoded: dict[str, bytes] = {}

    def body_for(pick: Pick) -> bytes:
        name = served.get(pick.deployment_id) or model
        if name not in encoded:
            encoded[name] = json.dumps({**body, "model": name}).encode()
        return encoded[name]

    return body_for


_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "invalid_request_error"}
_CODES = {"not_found": "model_not_found", "unauthorized": "invalid_api_key"}


def openai_error(client: Client, request: Request, error: ModelportError, status: int) -> None:
    param = error.details.get("field") if isinstance(error, Invalid) else None
    body = {
        "error": {
            "message": error.message,
            "type": _TYPES.get(status, "server_error" if status >= 500 else "rate_limit_error"),
            "param": param,
            "code": _CODES.get(error.code, error.code),
        }
    }
    client.respond(
        status,
        json.dumps(body).encode(),
        headers=retry_after(error),
        keep_alive=request.keep_alive,
    )
