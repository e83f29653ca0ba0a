"""The OpenAI-compatible front: `/v1/models`, `/v1/chat/completions`, `/v1/completions` and
`/v1/embeddings` on the gateway, so OpenAI clients reach Modelport services by name.

A call is routed by its body's `model` to the service of that name. Names are unique within
a project, not across projects, so the caller's key picks among them
(`Authorization: Bearer <service key>`, as OpenAI clients send their API key):

1. the service of that name whose key the caller presents (auth on or off);
2. else one without auth, of the project of the presented key when that key opens any
   service (a caller of project A never lands in project B), else of any project, but only
   when one project has such a service: when several do, the call is refused (400, `model`),
   since picking one would cross projects;
3. else 401 (the services of that name need their key).

`/v1/models` lists what a call could reach by the same rules. The body's `model` is rewritten
to the name the chosen deployment's replicas serve (the registered model's name), so a runtime
that checks it (vLLM does) accepts the call. Answers, streamed ones included, pass through as
the replica sends them. Errors use OpenAI's envelope: `{"error": {"message", "type", "param",
"code"}}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from modelport.domain.errors import Invalid, ModelportError, NotFound, Unauthorized
from modelport.gateway.balancer import Pick
from modelport.gateway.errors import retry_after, status_of
from modelport.gateway.http import Client, Request
from modelport.gateway.routing import Route, RoutingTable
from modelport.services.secrets import same, token_hash

if TYPE_CHECKING:
    from modelport.gateway.plane import DataPlane

CALLS = frozenset({b"/v1/chat/completions", b"/v1/completions", b"/v1/embeddings"})


class Front:
    """Concurrency contract: called on the gateway's event loop only."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self._table: RoutingTable | None = None
        self._projects: dict[str, str] = {}  # key hash → project, of the table above

    def _project_of(self, hashed: str) -> str | None:
        """The project whose service the presented key opens (None: no service's key)."""
        table = self.plane.routes.table
        if table is not self._table:  # rebuilt once per routing snapshot
            self._projects = {r.key_hash: r.project_id for r in table.routes.values() if r.key_hash}
            self._table = table
        return self._projects.get(hashed) if hashed else None

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
        keyed = [r for r in candidates if hashed and same(hashed, r.key_hash)]
        if keyed:
            return keyed[0]
        open_ = self._open(candidates, hashed)
        if len(open_) == 1:
            return open_[0]
        if open_:
            raise Invalid(
                "model",
                f"several projects have a service named {model!r}; send the key of the one "
                "you mean as 'Authorization: Bearer <service key>'",
            )
        raise Unauthorized(f"model {model!r} needs 'Authorization: Bearer <service key>'")

    def _open(self, routes: Iterable[Route], hashed: str) -> list[Route]:
        """The routes without auth that a caller with this key may reach by name: those of
        the key's project, or of any project when the key opens no service."""
        project = self._project_of(hashed)
        return [r for r in routes if not r.auth and project in (None, r.project_id)]

    def _models(self, request: Request, client: Client) -> None:
        token = request.bearer()
        hashed = token_hash(token) if token else ""
        routes = self.plane.routes.table.routes.values()
        reachable = [r for r in routes if hashed and same(hashed, r.key_hash)]
        reachable += self._open(routes, hashed)
        data = [
            {"id": r.name, "object": "model", "created": r.created, "owned_by": r.project_id}
            for r in {r.service_id: r for r in reachable}.values()
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
