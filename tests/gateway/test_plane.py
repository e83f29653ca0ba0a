"""The data plane over real sockets: a `DataPlane` listening on a free port, replicas played by
small HTTP servers in the same event loop, a fixed routing table.

Each test shows one behaviour of issue 4: relaying, weights, policies, retries, limits,
timeouts, keys, streaming, the OpenAI front, metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route as HttpRoute
from tests.ports import free_port

from modelport.domain.services import LbPolicy, TrafficPolicy
from modelport.gateway import http
from modelport.gateway.errors import native_error
from modelport.gateway.exchange import Exchange
from modelport.gateway.plane import DataPlane
from modelport.gateway.routing import Route, RoutingTable, Target
from modelport.services.secrets import token_hash

DEADLINE = 10.0


@dataclass
class Replica:
    """A replica stand-in: `/who` says its name and echoes the call; `/hold` answers when
    `release` is set; `/events` streams two server-sent events, the second after `step`."""

    name: str
    address: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    step: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)  # a call waits in `/hold`

    def app(self) -> Starlette:
        async def who(request: Request) -> Response:
            body = await request.body()
            return JSONResponse(
                {
                    "name": self.name,
                    "method": request.method,
                    "path": request.url.path,
                    "query": request.url.query,
                    "body": body.decode(),
                    "headers": dict(request.headers),
                }
            )

        async def hold(request: Request) -> Response:
            self.held.set()
            await self.release.wait()
            return JSONResponse({"name": self.name})

        async def events(request: Request) -> Response:
            async def stream() -> AsyncIterator[bytes]:
                yield b"data: one\n\n"
                await self.step.wait()
                yield b"data: two\n\n"
                yield b"data: [DONE]\n\n"

            return StreamingResponse(stream(), media_type="text/event-stream")

        methods = ["GET", "POST", "PUT", "DELETE", "HEAD"]
        return Starlette(
            routes=[
                HttpRoute("/who", who, methods=methods),
                HttpRoute("/v1/chat/completions", who, methods=["POST"]),
                HttpRoute("/hold", hold),
                HttpRoute("/events", events),
            ]
        )


@dataclass
class Static:
    """A fixed routing table (the plane reads `.table`)."""

    table: RoutingTable


Servers = Callable[..., Awaitable[list[Replica]]]


@pytest.fixture
async def replicas() -> AsyncIterator[Servers]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None], Replica]] = []

    async def start(*names: str) -> list[Replica]:
        out = []
        for name in names:
            replica = Replica(name)
            # bound before uvicorn runs: calls wait in the backlog until it accepts them
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            replica.address = f"127.0.0.1:{sock.getsockname()[1]}"
            config = uvicorn.Config(replica.app(), log_level="warning", lifespan="off")
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve(sockets=[sock]))
            servers.append((server, task, replica))
            out.append(replica)
        return out

    yield start
    for server, _, replica in servers:
        replica.release.set()
        replica.step.set()
        server.should_exit = True
    await asyncio.gather(*(task for _, task, _ in servers))


@dataclass
class Gateway:
    plane: DataPlane
    url: str
    http: httpx.AsyncClient


@contextlib.asynccontextmanager
async def gateway(*routes: Route) -> AsyncIterator[Gateway]:
    plane = DataPlane(Static(RoutingTable.of({r.service_id: r for r in routes})), max_body=1024)
    port = free_port()
    await plane.listen("127.0.0.1", port)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=DEADLINE) as http:
        try:
            yield Gateway(plane, url, http)
        finally:
            await plane.close(grace=1.0)


def route(
    *targets: Target,
    service_id: str = "svc-a",
    name: str = "svc-a-name",
    policy: LbPolicy = LbPolicy.ROUND_ROBIN,
    key: str | None = None,
    traffic: TrafficPolicy | None = None,
) -> Route:
    return Route(
        service_id=service_id,
        project_id="prj-1",
        auth=key is not None,
        key_hash=token_hash(key) if key else "",
        lb_policy=policy,
        targets=targets,
        name=name,
        traffic=traffic or TrafficPolicy(),
    )


def target(deployment: str, *reps: Replica, weight: int = 100, model: str = "") -> Target:
    return Target(deployment, weight, tuple(r.address for r in reps), model)


async def test_relays_method_path_query_headers_and_body(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with gateway(route(target("dep-a", a), key="sk_1")) as gw:
        r = await gw.http.post(
            "/services/svc-a/who?x=1&y=%20z",
            content=b'{"instances": [[1, 2]]}',
            headers={"Authorization": "Bearer sk_1", "X-Custom": "kept"},
        )
    assert r.status_code == 200
    seen = r.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/who", "x=1&y=%20z")
    assert seen["body"] == '{"instances": [[1, 2]]}'
    assert seen["headers"]["x-custom"] == "kept"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert "authorization" not in seen["headers"]  # the service key is Modelport's
    assert r.headers["content-length"] == str(len(r.content))


async def test_the_service_key_is_checked(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with gateway(route(target("dep-a", a), key="sk_right")) as gw:
        missing = await gw.http.get("/services/svc-a/who")
        wrong = await gw.http.get("/services/svc-a/who", headers={"Authorization": "Bearer x"})
        right = await gw.http.get(
            "/services/svc-a/who", headers={"Authorization": "Bearer sk_right"}
        )
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "unauthorized")
    assert (wrong.status_code, wrong.json()["error"]["message"]) == (401, "wrong service key")
    assert right.status_code == 200


async def test_unknown_service_and_no_ready_replica(replicas: Servers) -> None:
    async with gateway(route(target("dep-a"))) as gw:
        unknown = await gw.http.get("/services/svc-nope/x")
        idle = await gw.http.get("/services/svc-a/x")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert (idle.status_code, idle.json()["error"]["code"]) == (503, "unavailable")
    assert idle.headers["retry-after"] == "1"


async def test_weights_split_the_traffic(replicas: Servers) -> None:
    a, b = await replicas("a", "b")
    split = route(target("dep-a", a, weight=90), target("dep-b", b, weight=10))
    async with gateway(split) as gw:
        names = Counter(
            [(await gw.http.get("/services/svc-a/who")).json()["name"] for _ in range(400)]
        )
    # binomial(400, 0.1): mean 40, sd 6; four sd either way
    assert 16 <= names["b"] <= 64
    assert names["a"] + names["b"] == 400


async def test_least_connections_sends_calls_past_a_busy_replica(replicas: Servers) -> None:
    a, b = await replicas("a", "b")
    async with gateway(route(target("dep-a", a, b), policy=LbPolicy.LEAST_CONNECTIONS)) as gw:
        held = asyncio.create_task(gw.http.get("/services/svc-a/hold"))
        waits = [asyncio.create_task(a.held.wait()), asyncio.create_task(b.held.wait())]
        async with asyncio.timeout(DEADLINE):
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        busy = "a" if a.held.is_set() else "b"
        names = {(await gw.http.get("/services/svc-a/who")).json()["name"] for _ in range(10)}
        a.release.set()
        b.release.set()
        assert (await held).json()["name"] == busy
    assert names == {"b" if busy == "a" else "a"}


async def test_source_ip_keeps_each_caller_on_one_replica(replicas: Servers) -> None:
    reps = await replicas("a", "b", "c")
    async with gateway(route(target("dep-a", *reps), policy=LbPolicy.SOURCE_IP)) as gw:
        used = set()
        for i in range(2, 10):
            transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{i}")
            async with httpx.AsyncClient(base_url=gw.url, transport=transport) as caller:
                names = {(await caller.get("/services/svc-a/who")).json()["name"] for _ in range(5)}
            assert len(names) == 1, f"caller 127.0.0.{i} moved between {names}"
            used |= names
    assert len(used) >= 2  # and different callers spread


async def test_a_refused_connection_is_retried_on_another_replica(replicas: Servers) -> None:
    (a,) = await replicas("a")
    dead = Replica("dead", address=f"127.0.0.1:{free_port()}")  # nothing listens there
    async with gateway(route(target("dep-a", dead, a))) as gw:
        answers = [await gw.http.get("/services/svc-a/who") for _ in range(20)]
        retries = gw.plane.recorder.retries["svc-a"]
    assert all(r.status_code == 200 and r.json()["name"] == "a" for r in answers)
    assert retries == 1  # then the dead replica is out of rotation


async def test_a_replica_dying_mid_call_is_retried_when_calls_may_repeat(
    replicas: Servers,
) -> None:
    (a,) = await replicas("a")

    async def die(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # take the call, then crash without answering
        writer.transport.abort()

    crashing = await asyncio.start_server(die, "127.0.0.1", 0)
    port = crashing.sockets[0].getsockname()[1]
    dying = Replica("dying", address=f"127.0.0.1:{port}")
    try:
        both = (target("dep-a", dying, a),)
        async with gateway(route(*both, policy=LbPolicy.LEAST_CONNECTIONS)) as gw:
            answers = [await gw.http.post("/services/svc-a/who", content=b"x") for _ in range(4)]
        no_retry = TrafficPolicy(retry=False)
        async with gateway(route(*both, traffic=no_retry)) as gw:
            posts = [await gw.http.post("/services/svc-a/who", content=b"x") for _ in range(4)]
    finally:
        crashing.close()
    assert [r.status_code for r in answers] == [200] * 4
    assert {r.status_code for r in posts} == {200, 502}  # a POST that may not repeat fails
    failed = next(r for r in posts if r.status_code == 502)
    assert failed.json()["error"]["code"] == "bad_gateway"


async def test_a_kept_alive_connection_the_replica_closed_is_retried_on_it() -> None:
    """The replica answers the first call on a connection, then closes it as the next call
    arrives (as a server whose keep-alive timeout just ran out does): that call was not
    processed, so it goes again to the same replica, the only one, on a new connection."""

    async def one_per_connection(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await r.read(1)  # the next call on this connection: close without answering it
        w.close()

    server = await asyncio.start_server(one_per_connection, "127.0.0.1", 0)
    only = Replica("only", address=f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        async with gateway(route(target("dep-a", only), traffic=TrafficPolicy(retry=False))) as gw:
            codes = [(await gw.http.post("/services/svc-a/x")).status_code for _ in range(3)]
            retries = gw.plane.recorder.retries["svc-a"]
    finally:
        server.close()
    assert codes == [200, 200, 200]
    assert retries == 2


async def test_a_call_opening_a_connection_is_on_time(replicas: Servers) -> None:
    """The timeout counts from the attempt's start, connecting included."""
    (a,) = await replicas("a")
    plane = DataPlane(Static(RoutingTable.of({"svc-a": route(target("dep-a", a))})))
    client = http.Client(plane.handle, max_body=1024)  # not connected: its answer goes nowhere
    request = http.Request(b"GET", b"/who", [], b"", True, "127.0.0.1")
    call = Exchange(plane, request, client, route(target("dep-a", a)), b"GET /who HTTP/1.1\r\n",
                    native_error, None)  # fmt: skip
    call.start()  # no idle connection: a task opens one
    call.check(asyncio.get_running_loop().time())  # a sweep while it connects
    assert call.live and call.error is None
    await plane.close(grace=DEADLINE)  # waits for the call
    assert call.status == 200


async def test_a_slow_replica_times_out(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with gateway(route(target("dep-a", a), traffic=TrafficPolicy(timeout=0.2))) as gw:
        r = await gw.http.get("/services/svc-a/hold")
    assert (r.status_code, r.json()["error"]["code"]) == (504, "timeout")


async def test_a_call_to_a_hung_replica_is_retried_on_another_when_it_may_repeat(
    replicas: Servers,
) -> None:
    """A replica that accepts the call and never answers (a hung process) costs the call
    its timeout, then the call goes to another replica."""
    (a,) = await replicas("a")

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # until the gateway gives up on it and closes
        writer.close()

    hung = await asyncio.start_server(hang, "127.0.0.1", 0)
    stuck = Replica("stuck", address=f"127.0.0.1:{hung.sockets[0].getsockname()[1]}")
    both = (target("dep-a", stuck, a),)
    try:
        async with gateway(route(*both, traffic=TrafficPolicy(timeout=0.2))) as gw:
            answers = [await gw.http.post("/services/svc-a/who", content=b"x") for _ in range(4)]
            retries = gw.plane.recorder.retries["svc-a"]
        once = TrafficPolicy(timeout=0.2, retry=False)
        async with gateway(route(*both, traffic=once)) as gw:
            posts = [await gw.http.post("/services/svc-a/who", content=b"x") for _ in range(2)]
    finally:
        hung.close()
    assert [(r.status_code, r.json()["name"]) for r in answers] == [(200, "a")] * 4
    assert retries == 1  # then the hung replica is out of rotation for a while
    assert sorted(r.status_code for r in posts) == [200, 504]


async def test_the_rate_limit_answers_429_with_retry_after(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with gateway(route(target("dep-a", a), traffic=TrafficPolicy(rate_limit=2))) as gw:
        codes = [(await gw.http.get("/services/svc-a/who")).status_code for _ in range(3)]
        limited = await gw.http.get("/services/svc-a/who")
        rejected = gw.plane.recorder.rejected[("svc-a", "rate_limited")]
    assert codes[:2] == [200, 200] and codes[2] == 429
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert rejected == 2


async def test_an_overloaded_service_answers_503(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with gateway(route(target("dep-a", a), traffic=TrafficPolicy(max_concurrency=1))) as gw:
        held = asyncio.create_task(gw.http.get("/services/svc-a/hold"))
        async with asyncio.timeout(DEADLINE):
            await a.held.wait()
        over = await gw.http.get("/services/svc-a/who")
        a.release.set()
        assert (await held).status_code == 200
        after = await gw.http.get("/services/svc-a/who")
    assert (over.status_code, over.json()["error"]["code"]) == (503, "overloaded")
    assert over.headers["retry-after"] == "1"
    assert after.status_code == 200


async def test_server_sent_events_pass_through_one_by_one(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with (
        gateway(route(target("dep-a", a))) as gw,
        gw.http.stream("GET", "/services/svc-a/events") as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        chunks = r.aiter_text()
        async with asyncio.timeout(DEADLINE):  # the second event waits for the first to arrive
            first = await anext(chunks)
            a.step.set()
            rest = "".join([c async for c in chunks])
    assert first == "data: one\n\n"
    assert rest == "data: two\n\ndata: [DONE]\n\n"


async def test_a_body_over_the_limit_is_refused(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with gateway(route(target("dep-a", a))) as gw:
        r = await gw.http.post("/services/svc-a/who", content=b"x" * 2048)
    assert r.status_code == 413


async def test_the_openai_front_routes_by_model_name(replicas: Servers) -> None:
    a, b = await replicas("a", "b")
    chat_a = route(target("dep-a", a, model="llama"), service_id="svc-a", name="chat-a")
    chat_b = route(target("dep-b", b, model="qwen"), service_id="svc-b", name="chat-b", key="sk")
    async with gateway(chat_a, chat_b) as gw:
        body = {"model": "chat-b", "messages": [{"role": "user", "content": "hi"}]}
        auth = {"Authorization": "Bearer sk"}
        routed = await gw.http.post("/v1/chat/completions", json=body, headers=auth)
        without_key = await gw.http.post("/v1/chat/completions", json=body)
        unknown = await gw.http.post("/v1/chat/completions", json={**body, "model": "nope"})
        bad = await gw.http.post("/v1/chat/completions", json={"messages": []})
        models = await gw.http.get("/v1/models")
        all_models = await gw.http.get("/v1/models", headers=auth)
    assert routed.status_code == 200
    assert routed.json()["name"] == "b"
    sent = json.loads(routed.json()["body"])
    assert sent == {**body, "model": "qwen"}  # named as the replica serves it
    assert without_key.status_code == 401
    assert without_key.json()["error"]["code"] == "invalid_api_key"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "model")
    assert [m["id"] for m in models.json()["data"]] == ["chat-a"]
    assert [m["id"] for m in all_models.json()["data"]] == ["chat-a", "chat-b"]


async def test_metrics_count_calls_per_service(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with gateway(route(target("dep-a", a))) as gw:
        for _ in range(3):
            await gw.http.get("/services/svc-a/who")
        text = (await gw.http.get("/metrics")).text
    assert (
        'modelport_gateway_requests_total{deployment="dep-a",outcome="ok",service="svc-a"} 3.0'
        in text
    )
    assert (
        'modelport_gateway_request_duration_seconds_count{deployment="dep-a",service="svc-a"} 3.0'
        in text
    )
    assert 'modelport_service_ready_replicas{deployment="dep-a",service="svc-a"} 1.0' in text
    assert 'modelport_gateway_in_flight{service="svc-a"} 0.0' in text


async def test_pipelined_and_head_requests(replicas: Servers) -> None:
    (a,) = await replicas("a")
    async with gateway(route(target("dep-a", a))) as gw:
        head = await gw.http.head("/services/svc-a/who")
        reader, writer = await asyncio.open_connection("127.0.0.1", int(gw.url.rsplit(":", 1)[1]))
        one = b"GET /services/svc-a/who HTTP/1.1\r\nHost: x\r\n\r\n"
        writer.write(one * 3)  # three calls before any answer
        async with asyncio.timeout(DEADLINE):
            answers = 0
            data = b""
            while answers < 3:
                data += await reader.read(65536)
                answers = data.count(b"HTTP/1.1 200 OK")
        writer.close()
    assert head.status_code == 200 and head.content == b""
    assert answers == 3
