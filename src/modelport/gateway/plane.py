"""The data plane: every call of every service, from the caller's connection to a replica's.

Paths it answers:

- `/services/{service_id}/{path}`: the service's replicas, at `/{path}`.
- `/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`: the OpenAI
  front (`openai.py`), routed by the body's `model` to the service of that name.
- `/metrics` (Prometheus) and `/healthz`.

A call goes through: the routing snapshot (memory only), the service key, the rate limit, the
balancer (weights, policy, overload), then one or more attempts: a call whose replica
refused the connection, or failed before answering when the call may be repeated, is tried
again on another replica, at most `attempts` times. The answer streams back as it comes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest

from modelport.domain.errors import (
    ModelportError,
    NotFound,
    Overloaded,
    RateLimited,
    Unauthorized,
    Unavailable,
    UpstreamTimeout,
)
from modelport.gateway import openai
from modelport.gateway.balancer import Balancer, Pick
from modelport.gateway.errors import BadGateway, native_error, status_of
from modelport.gateway.http import Client, Request, status_line
from modelport.gateway.limits import RateLimits
from modelport.gateway.metrics import Collector, Recorder, SharedTotals
from modelport.gateway.routing import Route, RoutingTable
from modelport.gateway.upstream import Connection, Pool, UpstreamError
from modelport.services.secrets import same, token_hash

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# not passed to replicas: the service key is Modelport's, the body is re-framed, Host is theirs
NOT_FORWARDED = HOP_BY_HOP | {b"authorization", b"host", b"content-length", b"expect"}
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE"})
SERVICES = b"/services/"


class Routes(Protocol):
    """Where the current routing snapshot comes from (a `Router` or a follower of one)."""

    @property
    def table(self) -> RoutingTable: ...


ErrorWriter = Callable[[Client, Request, ModelportError, int], None]
BodyFor = Callable[[Pick], bytes]


class DataPlane:
    def __init__(
        self,
        routes: Routes,
        *,
        max_body: int = 64 * 1024 * 1024,
        attempts: int = 3,
        connect_timeout: float = 5.0,
        shared_dir: Path | None = None,
    ) -> None:
        self.routes = routes
        self.max_body = max_body
        self.attempts = attempts
        self.balancer = Balancer()
        self.pool = Pool(connect_timeout)
        self.limits = RateLimits()
        self.recorder = Recorder()
        self.shared = SharedTotals(shared_dir, self.recorder) if shared_dir else None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(Collector(self.recorder, lambda: self.routes.table, self.shared))
        self._tasks: set[asyncio.Task[None]] = set()
        self._servers: list[asyncio.Server] = []
        self._clients: weakref.WeakSet[Client] = weakref.WeakSet()
        self._openai = openai.Front(self)

    # serving

    async def listen(self, host: str, port: int, *, reuse_port: bool = False) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            self._connection,
            host,
            port,
            reuse_port=reuse_port or None,
            backlog=1024,
        )
        self._servers.append(server)
        return server

    async def close(self, grace: float = 30.0) -> None:
        """Stop accepting, let calls in flight finish (up to `grace` seconds), close the rest."""
        for server in self._servers:
            server.close()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in set(self._tasks):
            task.cancel()
        for client in list(self._clients):  # idle kept-alive callers
            client.close()
        for server in self._servers:
            await server.wait_closed()
        self.pool.close()

    def _connection(self) -> Client:
        client = Client(self.handle, self._spawn, self.max_body)
        self._clients.add(client)
        return client

    def _spawn(self, call: Awaitable[None]) -> None:
        task = asyncio.ensure_future(call)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # one call

    async def handle(self, request: Request, client: Client) -> None:
        try:
            await self._dispatch(request, client)
        except Exception:  # the top of a call: never let one call break the connection loop
            log.exception("gateway call %r failed", request.target[:200])
            if not client.gone:
                client.respond_error(500, "internal", "internal error in the gateway")
                client.done(keep_alive=False)

    async def _dispatch(self, request: Request, client: Client) -> None:
        path, _, query = request.target.partition(b"?")
        if path.startswith(SERVICES):
            service_id, _, rest = path[len(SERVICES) :].partition(b"/")
            name = service_id.decode(errors="replace")
            route = self.routes.table.get(name)
            if route is None:
                return self._finish_error(client, request, NotFound("service", name), 404)
            target = b"/" + rest + (b"?" + query if query else b"")
            return await self.call(request, client, route, target, native_error)
        if path.startswith(b"/v1/"):
            return await self._openai.handle(request, client, path)
        if path == b"/metrics" and request.method == b"GET":
            body = generate_latest(self.registry)
            client.respond(200, body, content_type=b"text/plain; version=0.0.4; charset=utf-8")
            return client.done(request.keep_alive)
        if path == b"/healthz":
            client.respond(200, b'{"status":"ok"}', keep_alive=request.keep_alive)
            return client.done(request.keep_alive)
        where = path.decode(errors="replace")
        self._finish_error(client, request, NotFound("path", where), 404)

    async def call(
        self,
        request: Request,
        client: Client,
        route: Route,
        target: bytes,
        write_error: ErrorWriter,
        body_for: BodyFor | None = None,
    ) -> None:
        """Admit the call to `route`, relay it to a replica at `target`, count it."""
        try:
            self.admit(request, route)
        except ModelportError as exc:
            self.recorder.rejected_call(route.service_id, exc.code)
            return self._finish_error(client, request, exc, status_of(exc), write_error)
        head = self._request_head(request, target)
        self.recorder.started(route.service_id)
        begun = time.perf_counter()
        tried: list[str] = []
        deployment = ""
        relay: Relay | None = None
        error: ModelportError | None = None
        for _ in range(self.attempts):
            try:
                pick = self.balancer.pick(route, request.client, tried)
            except Unavailable as exc:
                if error is None or isinstance(exc, Overloaded):
                    error = exc
                break
            deployment = pick.deployment_id
            body = body_for(pick) if body_for is not None else request.body
            relay = Relay(client, request)
            self.balancer.started(pick.address)
            try:
                await relay.run(self.pool, pick.address, head, body, route.traffic.timeout)
            except UpstreamError as exc:
                tried.append(pick.address)
                if exc.refused:
                    self.balancer.mark_down(pick.address)
                error = Unavailable(exc.reason) if not exc.sent else BadGateway(exc)
                may_repeat = route.traffic.retry or request.method in IDEMPOTENT
                if exc.answered or (exc.sent and not may_repeat) or client.gone:
                    break
                self.recorder.retried(route.service_id)
                continue
            except UpstreamTimeout as exc:
                error = exc
                break
            finally:
                self.balancer.finished(pick.address)
            failed = relay.status >= 500
            self.recorder.finished(route.service_id, deployment, failed, _since(begun))
            return client.done(request.keep_alive and not relay.closes)
        assert error is not None
        self.recorder.finished(route.service_id, deployment, True, _since(begun))
        if relay is not None and relay.answered:  # part of an answer went out: cut it short
            client.close()
            return client.done(keep_alive=False)
        self._finish_error(client, request, error, status_of(error), write_error)

    def admit(self, request: Request, route: Route) -> None:
        if route.auth:
            check_key(request, route.key_hash)
        rate = route.traffic.rate_limit
        if rate is not None:
            wait = self.limits.admit(route.service_id, rate)
            if wait > 0:
                raise RateLimited(
                    f"service {route.service_id} is limited to {rate:g} requests per second",
                    retry_after=wait,
                )

    def _request_head(self, request: Request, target: bytes) -> bytes:
        lines = [request.method, b" ", target, b" HTTP/1.1\r\n"]
        for name, value in request.headers:
            if name not in NOT_FORWARDED:
                lines += [name, b": ", value, b"\r\n"]
        lines.append(b"x-forwarded-for: %s\r\n" % request.client.encode())
        return b"".join(lines)

    def _finish_error(
        self,
        client: Client,
        request: Request,
        error: ModelportError,
        status: int,
        write_error: ErrorWriter | None = None,
    ) -> None:
        (write_error or native_error)(client, request, error, status)
        client.done(request.keep_alive)


def check_key(request: Request, key_hash: str) -> None:
    token = request.bearer()
    if not token:
        raise Unauthorized("this service needs 'Authorization: Bearer <service key>'")
    if not same(token_hash(token), key_hash):
        raise Unauthorized("wrong service key")


def _since(begun: float) -> float:
    return time.perf_counter() - begun


class Relay:
    """One attempt: sends the request on a pooled connection and relays the answer to the
    caller, re-framed for it (the replica's `Content-Length` kept, otherwise chunked)."""

    __slots__ = (
        "_client",
        "_conn",
        "_future",
        "_head_request",
        "_keep_alive",
        "_out",
        "_timer",
        "answered",
        "chunked",
        "closes",
        "status",
    )

    def __init__(self, client: Client, request: Request) -> None:
        self._client = client
        self._keep_alive = request.keep_alive
        self._head_request = request.method == b"HEAD"
        self._future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._out: list[bytes] = []
        self._conn: Connection | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.answered = False
        self.chunked = False
        self.closes = False
        self.status = 0

    async def run(self, pool: Pool, address: str, head: bytes, body: bytes, wait: float) -> None:
        conn = self._conn = await pool.acquire(address)
        length = b"content-length: %d\r\n\r\n" % len(body)
        conn.send(head + length + body, self, head_only=self._head_request)
        self._client.feeding = conn
        self._timer = asyncio.get_running_loop().call_later(wait, self._time_out, wait)
        try:
            await self._future
        finally:
            self._timer.cancel()

    def _time_out(self, timeout: float) -> None:
        if self.answered or self._future.done():
            return
        if self._conn is not None:
            self._conn.abort()
        self._future.set_exception(UpstreamTimeout(f"no answer from the replica in {timeout:g}s"))

    # Sink

    def head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.answered = True
        self.status = status
        lines = [status_line(status)]
        sized = False
        for name, value in headers:
            low = name.lower()
            if low in HOP_BY_HOP:
                if low == b"connection" and b"close" in value.lower():
                    self.closes = True
                continue
            sized = sized or low == b"content-length"
            lines += [name, b": ", value, b"\r\n"]
        bodyless = self._head_request or status in (204, 304)
        if not sized and not bodyless:
            self.chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
        if not self._keep_alive or self.closes:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        self._out.append(b"".join(lines))
        if self.chunked:  # a stream: its head goes out now, not with the first event
            self.flush()

    def body(self, data: bytes) -> None:
        if self.chunked:
            self._out += [b"%x\r\n" % len(data), data, b"\r\n"]
        else:
            self._out.append(data)

    def end(self) -> None:
        if self.chunked:
            self._out.append(b"0\r\n\r\n")
        self.flush()
        if not self._future.done():
            self._future.set_result(None)

    def fail(self, error: UpstreamError) -> None:
        self.flush()
        if not self._future.done():
            self._future.set_exception(error)

    def flush(self) -> None:
        if not self._out:
            return
        if self._client.gone:  # the caller left: stop reading the replica's answer
            self._out.clear()
            if self._conn is not None:
                self._conn.abort()
            if not self._future.done():
                self._future.set_exception(
                    UpstreamError("the caller closed the connection", sent=True, answered=True)
                )
            return
        self._client.write(b"".join(self._out))
        self._out.clear()
