"""The data plane: every call of every service, from the caller's connection to a replica's.

Paths it answers:

- `/services/{service_id}/{path}`: the service's replicas, at `/{path}`.
- `/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`: the OpenAI
  front (`openai.py`), routed by the body's `model` to the service of that name.
- `/metrics` (Prometheus) and `/healthz`.

A call goes through: the routing snapshot (memory only), the service key, the rate limit,
then an `Exchange` (exchange.py): the balancer (weights, policy, overload) and one or more
attempts on replicas, the answer streamed back as it comes.

A call to a service whose replicas were all autoscaled away (`Route.cold`) is held: the plane
asks the controller to wake (`on_hold`; a separate gateway's load report says so within a
second), and the sweep starts its exchange once a replica is ready, or answers 503 after
`cold_start_timeout` seconds. The sweep also samples the calls in flight per deployment for
the autoscaler (`LoadMeter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest

from modelport.domain.errors import (
    ModelportError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from modelport.domain.stats import LoadReport
from modelport.gateway import openai
from modelport.gateway.balancer import Balancer
from modelport.gateway.errors import native_error, status_of
from modelport.gateway.exchange import HOP_BY_HOP, BodyFor, ErrorWriter, Exchange
from modelport.gateway.http import MAX_HEAD, Client, Request
from modelport.gateway.limits import RateLimits
from modelport.gateway.load import LoadMeter
from modelport.gateway.metrics import Collector, Recorder, SharedTotals
from modelport.gateway.routing import Route, RoutingTable
from modelport.gateway.upstream import Pool
from modelport.services.secrets import same, token_hash

log = logging.getLogger(__name__)

# not passed to replicas: the service key is Modelport's, the body is re-framed, Host is theirs
NOT_FORWARDED = HOP_BY_HOP | {b"authorization", b"host", b"content-length", b"expect"}
SERVICES = b"/services/"
SWEEP_EVERY = 0.1  # seconds between checks for late replicas (the timeouts' resolution)


class Routes(Protocol):
    """Where the current routing snapshot comes from (a `Router` or a follower of one)."""

    @property
    def table(self) -> RoutingTable: ...


@dataclass(slots=True)
class _Held:
    """A call waiting for a replica of its sleeping service (`DataPlane.call`)."""

    request: Request
    client: Client
    service_id: str
    target: bytes
    write_error: ErrorWriter
    body_for: BodyFor | None
    wanted: tuple[str, ...]  # the deployments it waits for
    until: float  # loop time it gives up at


class DataPlane:
    def __init__(
        self,
        routes: Routes,
        *,
        max_body: int = 64 * 1024 * 1024,
        max_head: int = MAX_HEAD,
        attempts: int = 3,
        connect_timeout: float = 5.0,
        shared_dir: Path | None = None,
        cold_start_timeout: float = 60.0,
        on_hold: Callable[[], None] | None = None,
    ) -> None:
        self.routes = routes
        self.max_body = max_body
        self.max_head = max_head
        self.attempts = attempts
        self.cold_start_timeout = cold_start_timeout
        self.on_hold = on_hold  # a call is held: the embedded controller wakes
        self.meter = LoadMeter()
        self.held: list[_Held] = []
        self.balancer = Balancer()
        self.pool = Pool(connect_timeout)
        self.limits = RateLimits()
        self.recorder = Recorder()
        self.shared = SharedTotals(shared_dir, self.recorder) if shared_dir else None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(Collector(self.recorder, lambda: self.routes.table, self.shared))
        self.active: set[Exchange] = set()  # calls in flight
        self._drained: asyncio.Event | None = None  # set when closing and none is in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
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
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="gateway timeouts")
        return server

    async def _sweep(self) -> None:
        """Time out calls whose replica is late: one timer for all, not one per call."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            now = loop.time()
            for exchange in list(self.active):
                exchange.check(now)
            if self.held:
                self._release(now)
            if self.routes.table.autoscaled:  # else no one reads the load: skip the count
                self.meter.sample(
                    (e.deployment for e in self.active if e.live),
                    (d for h in self.held for d in h.wanted),
                )

    def load_report(self) -> LoadReport | None:
        """The load since the last report; None while no deployment is autoscaled."""
        report = self.meter.drain()
        return report if self.routes.table.autoscaled else None

    async def close(self, grace: float = 30.0) -> None:
        """Stop accepting, let calls in flight finish (up to `grace` seconds), close the rest."""
        for server in self._servers:
            server.close()
        for held in self.held:
            self._finish_error(
                held.client,
                held.request,
                Unavailable("the gateway is stopping"),
                503,
                held.write_error,
            )
        self.held.clear()
        self._drained = asyncio.Event()
        if self.active:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), timeout=grace)
        for task in {*self._tasks, *([self._sweeper] if self._sweeper else [])}:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in list(self._clients):  # idle kept-alive callers
            client.close()
        for server in self._servers:
            await server.wait_closed()
        self.pool.close()

    def _connection(self) -> Client:
        client = Client(self.handle, self.max_body, self.max_head)
        self._clients.add(client)
        return client

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def finished(self, exchange: Exchange) -> None:
        self.active.discard(exchange)
        if self._drained is not None and not self.active:
            self._drained.set()

    # one call

    def handle(self, request: Request, client: Client) -> None:
        try:
            self._dispatch(request, client)
        except Exception:  # the top of a call: never let one call break the connection loop
            log.exception("gateway call %r failed", request.target[:200])
            if not client.gone:
                client.respond_error(500, "internal", "internal error in the gateway")
                client.done(keep_alive=False)

    def _dispatch(self, request: Request, client: Client) -> None:
        path, _, query = request.target.partition(b"?")
        if path.startswith(SERVICES):
            service_id, _, rest = path[len(SERVICES) :].partition(b"/")
            name = service_id.decode(errors="replace")
            route = self.routes.table.get(name)
            if route is None:
                return self._finish_error(client, request, NotFound("service", name), 404)
            target = b"/" + rest + (b"?" + query if query else b"")
            return self.call(request, client, route, target, native_error)
        if path.startswith(b"/v1/"):
            return self._openai.handle(request, client, path)
        if path == b"/metrics" and request.method == b"GET":
            body = generate_latest(self.registry)
            client.respond(200, body, content_type=b"text/plain; version=0.0.4; charset=utf-8")
            return client.done(request.keep_alive)
        if path == b"/healthz":
            client.respond(200, b'{"status":"ok"}', keep_alive=request.keep_alive)
            return client.done(request.keep_alive)
        where = path.decode(errors="replace")
        self._finish_error(client, request, NotFound("path", where), 404)

    def call(
        self,
        request: Request,
        client: Client,
        route: Route,
        target: bytes,
        write_error: ErrorWriter,
        body_for: BodyFor | None = None,
    ) -> None:
        """Admit the call to `route`, then relay it to a replica at `target` (`Exchange`)."""
        try:
            self.admit(request, route)
        except ModelportError as exc:
            self.recorder.rejected_call(route.service_id, exc.code)
            return self._finish_error(client, request, exc, status_of(exc), write_error)
        if route.asleep:
            for deployment_id in route.asleep:
                self.meter.wanted(deployment_id)
            if route.cold:
                return self._hold(request, client, route, target, write_error, body_for)
        head = self._request_head(request, target)
        Exchange(self, request, client, route, head, write_error, body_for).start()

    def _hold(
        self,
        request: Request,
        client: Client,
        route: Route,
        target: bytes,
        write_error: ErrorWriter,
        body_for: BodyFor | None,
    ) -> None:
        until = asyncio.get_running_loop().time() + self.cold_start_timeout
        self.held.append(
            _Held(
                request,
                client,
                route.service_id,
                target,
                write_error,
                body_for,
                route.asleep,
                until,
            )
        )
        if self.on_hold is not None:
            self.on_hold()

    def _release(self, now: float) -> None:
        """Start the held calls whose service has a replica now; give up on the late ones."""
        table, waiting = self.routes.table, []
        for held in self.held:
            if held.client.gone:
                continue
            route = table.get(held.service_id)
            if route is None:
                error: ModelportError = NotFound("service", held.service_id)
            elif not route.cold:
                head = self._request_head(held.request, held.target)
                exchange = Exchange(
                    self, held.request, held.client, route, head, held.write_error, held.body_for
                )
                exchange.start()
                continue
            elif now >= held.until:
                error = Unavailable(
                    f"no replica of service {held.service_id} was ready within "
                    f"{self.cold_start_timeout:g}s of the call"
                )
                self.recorder.rejected_call(held.service_id, error.code)
            else:
                waiting.append(held)
                continue
            self._finish_error(held.client, held.request, error, status_of(error), held.write_error)
        self.held = waiting

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
