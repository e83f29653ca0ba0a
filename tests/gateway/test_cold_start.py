"""Scale from zero at the gateway, and the load it reports for the autoscaler: a call to a
service whose replicas were all autoscaled away waits for one (bounded), a deployment at zero
in a traffic split is asked to wake, and calls in flight are sampled per deployment."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
from tests.gateway.test_plane import (  # noqa: F401 - `replicas`: a fixture
    DEADLINE,
    Servers,
    Static,
    replicas,
    route,
    target,
)
from tests.ports import free_port

from modelport.gateway.plane import DataPlane
from modelport.gateway.routing import Route, RoutingTable, Target, asleep


def sleepy(t: Target) -> Target:
    return replace(t, autoscaled=True, wakes=True)


def routed(*targets: Target) -> Route:
    r = route(*targets)
    ids, cold = asleep(r.targets)
    return replace(r, asleep=ids, cold=cold)


@contextlib.asynccontextmanager
async def plane_for(
    r: Route, hold_for: float = DEADLINE
) -> AsyncIterator[tuple[DataPlane, Static, httpx.AsyncClient, list[int]]]:
    routes = Static(RoutingTable.of({r.service_id: r}))
    woken: list[int] = []
    plane = DataPlane(routes, cold_start_timeout=hold_for, on_hold=lambda: woken.append(1))
    port = free_port()
    await plane.listen("127.0.0.1", port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as http:
        try:
            yield plane, routes, http, woken
        finally:
            await plane.close(grace=1.0)


async def poll(check: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)  # a poll interval, not a wait for a condition


async def test_a_call_waits_for_the_first_replica_then_goes_through(
    replicas: Servers,  # noqa: F811
) -> None:
    (a,) = await replicas("a")
    cold = routed(sleepy(target("dep-a")))
    assert cold.cold and cold.asleep == ("dep-a",)
    async with plane_for(cold) as (plane, routes, http, woken):
        call = asyncio.create_task(http.post("/services/svc-a/who", content=b"hello"))
        await poll(lambda: plane.held, "the call to be held")
        assert woken == [1]
        await poll(lambda: plane.meter._held, "a sample of the held call")
        assert plane.load_report() is not None  # autoscaled: the gateway reports its load

        warm = routed(sleepy(target("dep-a", a)))  # the controller started a replica
        routes.table = RoutingTable.of({warm.service_id: warm})
        answer = await call
    assert answer.status_code == 200
    assert answer.json()["body"] == "hello"


async def test_a_held_call_gets_503_when_no_replica_is_ready_in_time() -> None:
    async with plane_for(routed(sleepy(target("dep-a"))), hold_for=0.3) as (_, _, http, _):
        answer = await http.get("/services/svc-a/who")
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "unavailable"
    assert "no replica of service svc-a was ready within 0.3s" in error["message"]


async def test_a_sleeping_deployment_in_a_split_is_woken_while_the_other_serves(
    replicas: Servers,  # noqa: F811
) -> None:
    (a,) = await replicas("a")
    split = routed(target("dep-a", a, weight=50), sleepy(target("dep-b", weight=50)))
    assert (split.asleep, split.cold) == (("dep-b",), False)
    async with plane_for(split) as (plane, _, http, woken):
        answer = await http.get("/services/svc-a/who")
        report = plane.meter.drain()
    assert answer.json()["name"] == "a"
    assert woken == []  # nothing was held
    assert report.deployments["dep-b"] == (0.0, 1)


async def test_calls_in_flight_are_sampled_per_deployment(
    replicas: Servers,  # noqa: F811
) -> None:
    (a,) = await replicas("a")
    async with plane_for(routed(sleepy(target("dep-a", a)))) as (plane, _, http, _):
        plane.meter.drain()
        call = asyncio.create_task(http.get("/services/svc-a/hold"))
        await a.held.wait()
        await poll(lambda: plane.meter._samples >= 3, "three samples")
        report = plane.meter.drain()
        a.release.set()
        assert (await call).status_code == 200
    in_flight, held = report.deployments["dep-a"]
    assert in_flight > 0.5 and held == 0
    assert report.span > 0


async def test_no_load_report_while_nothing_is_autoscaled(
    replicas: Servers,  # noqa: F811
) -> None:
    (a,) = await replicas("a")
    async with plane_for(routed(target("dep-a", a))) as (plane, _, _, _):
        assert plane.load_report() is None
