"""Autoscaling, scheduled scaling and auto stop in the real `Controller` on a real store, with
`FakeBackend` + `FakeClock`; the gateways' load is written to the store as a gateway's flush
writes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from tests.controller.test_loop import COMMAND, World

from modelport.backends.fake import FakeBackend
from modelport.controller.autoscale import Autoscaler
from modelport.controller.clock import FakeClock
from modelport.controller.loop import Controller, ControllerConfig
from modelport.domain.auth import Principal
from modelport.domain.ids import DeploymentId, ServiceId
from modelport.domain.replicas import ReplicaState
from modelport.domain.scaling import Autoscaling, ScaleJob
from modelport.domain.services import Deployment, DesiredState, Service, Status
from modelport.domain.stats import DeploymentLoad, LoadReport
from modelport.services.secrets import Cipher
from modelport.services.services import (
    DeploymentPatch,
    DeploymentSpec,
    ServiceOps,
    ServicePatch,
    ServiceSpec,
)
from modelport.store import Store

S = ReplicaState
START = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday
CONFIG = ControllerConfig(start_timeout=60.0, load_window=10.0)
AUTO = Autoscaling(min_replicas=1, max_replicas=4, target=2, scale_up_delay=0, scale_down_delay=30)


@pytest.fixture
async def w(store: Store, principal: Principal, cipher: Cipher) -> AsyncIterator[World]:
    clock = FakeClock(START)
    backend = FakeBackend()
    controller = Controller(store, backend, backend.probe, clock, CONFIG)
    ops = ServiceOps(store, cipher, backend, controller.wake, clock=clock.now)
    yield World(store, backend, clock, controller, ops, principal)
    await controller.applier.drain()


async def deploy(w: World, **spec: object) -> Service:
    dep = DeploymentSpec(runtime="command", command=COMMAND, **spec)  # type: ignore[arg-type]
    return await w.ops.create(w.who, ServiceSpec(name="auto", deployments=[dep]))


async def report(w: World, svc: Service, in_flight: float, held: int = 0) -> None:
    """What one gateway flush writes: `in_flight` requests on average over the last second."""
    dep = svc.deployments[0].id
    async with w.store.write() as tx:
        load = LoadReport(1.0, {dep: (in_flight, held)} if in_flight or held else {})
        await tx.load.record("gw-1", w.clock.now().timestamp(), load)


async def step(w: World, svc: Service, seconds: float, in_flight: float, held: int = 0) -> int:
    """Advance, report the load, run a pass; the deployment's target count after it."""
    w.clock.advance(seconds)
    await report(w, svc, in_flight, held)
    await w.controller.reconcile()
    w.backend.make_ready()
    return (await w.service(svc.id)).deployments[0].wanted


async def test_load_scales_up_at_once_and_down_after_the_delay(w: World) -> None:
    svc = await deploy(w, replicas=1, autoscaling=AUTO)
    assert await step(w, svc, 1, in_flight=0.5) == 1
    assert await step(w, svc, 1, in_flight=5) > 1  # the window's mean is over 2 per replica
    for _ in range(12):  # ten seconds of 8 in flight fill the window: 4 replicas (the max)
        top = await step(w, svc, 1, in_flight=8)
    assert top == 4
    await w.controller.reconcile()
    assert len([r for r in await w.replicas(svc.id) if r.state == S.READY]) == 4
    scaled = [e.message.split(" autoscaled ")[1] for e in await w.events(svc.id, "Autoscaled")]
    assert "from 1 to 2 replicas" in scaled
    assert "from 3 to 4 replicas" in scaled

    # idle: the count holds for the 30 s delay, then drops to the floor
    counts = [await step(w, svc, 1, in_flight=0) for _ in range(45)]
    assert counts[:25] == [4] * 25
    assert counts[-1] == 1


async def test_no_load_report_at_all_changes_nothing(w: World) -> None:
    svc = await deploy(w, replicas=3, autoscaling=AUTO)
    for _ in range(40):  # no gateway reported: no evidence to scale down on
        w.clock.advance(1)
        await w.controller.reconcile()
    assert (await w.service(svc.id)).deployments[0].wanted == 3


async def test_scale_to_zero_and_a_held_call_wakes_it_at_once(w: World) -> None:
    to_zero = replace(AUTO, min_replicas=0, scale_down_delay=5)
    svc = await deploy(w, replicas=1, autoscaling=to_zero)
    assert svc.deployments[0].wakes
    for _ in range(20):
        last = await step(w, svc, 1, in_flight=0)
    assert last == 0
    await w.settle()
    assert await w.replicas(svc.id) == []
    got = await w.service(svc.id)
    assert (got.status, got.desired_replicas) == (Status.RUNNING, 0)

    assert await step(w, svc, 1, in_flight=0, held=1) == 1
    assert [r.state for r in await w.replicas(svc.id)] == [S.STARTING]


async def test_a_manual_scale_is_where_autoscaling_starts_from(w: World) -> None:
    svc = await deploy(w, replicas=1, autoscaling=AUTO)
    await step(w, svc, 1, in_flight=8)
    assert (await w.service(svc.id)).deployments[0].target_replicas == 4
    await w.ops.scale(w.who, svc.id, 2)
    got = (await w.service(svc.id)).deployments[0]
    assert (got.target_replicas, got.wanted) == (None, 2)


async def test_scheduled_jobs_set_the_count_from_their_next_firing(w: World) -> None:
    jobs = [ScaleJob("0 13 * * *", replicas=3), ScaleJob("0 18 * * *", replicas=0)]
    svc = await deploy(w, replicas=1, schedules=jobs)
    assert await step(w, svc, 60, in_flight=0) == 1  # 12:01: no job fired since it was set
    assert await step(w, svc, 3600, in_flight=0) == 3  # 13:01
    (event,) = await w.events(svc.id, "Autoscaled")
    assert event.message.endswith("scheduled from 1 to 3 replicas")
    await w.ops.scale(w.who, svc.id, 2)  # by hand: holds until the next job fires
    assert await step(w, svc, 3600, in_flight=0) == 2  # 14:01
    assert await step(w, svc, 4 * 3600, in_flight=0) == 0  # 18:01


async def test_a_job_sets_the_autoscaling_floor(w: World) -> None:
    jobs = [ScaleJob("0 13 * * *", min_replicas=3)]
    svc = await deploy(w, replicas=1, autoscaling=AUTO, schedules=jobs)
    assert await step(w, svc, 60, in_flight=0) == 1
    assert await step(w, svc, 3600, in_flight=0) == 3


async def test_turning_autoscaling_off_goes_back_to_replicas(w: World) -> None:
    svc = await deploy(w, replicas=1, autoscaling=AUTO)
    assert await step(w, svc, 1, in_flight=8) == 4
    patch = DeploymentPatch(no_autoscaling=True)
    got = await w.ops.update_deployment(w.who, svc.id, svc.deployments[0].id, patch)
    assert got.deployments[0].autoscaling is None
    assert await step(w, svc, 1, in_flight=8) == 1


async def test_auto_stop_stops_the_service_once_and_a_start_arms_it_again(w: World) -> None:
    dep = DeploymentSpec(runtime="command", command=COMMAND, replicas=1)
    svc = await w.ops.create(w.who, ServiceSpec(name="brief", deployments=[dep], stop_after=60))
    assert svc.stop_at == START + timedelta(seconds=60)
    await w.controller.reconcile()
    w.backend.make_ready()
    w.clock.advance(59)
    await w.controller.reconcile()
    assert (await w.service(svc.id)).desired_state == DesiredState.RUNNING

    w.clock.advance(2)
    await w.controller.reconcile()
    await w.settle()
    got = await w.service(svc.id)
    assert (got.desired_state, got.status, got.stop_at) == (
        DesiredState.STOPPED,
        Status.STOPPED,
        None,
    )
    assert got.revision == svc.revision + 1  # a spec change: stale writes get 409
    (event,) = await w.events(svc.id, "AutoStopped")
    assert "auto-stop time" in event.message

    started = await w.ops.start(w.who, svc.id)
    assert started.stop_at == w.clock.now() + timedelta(seconds=60)
    off = await w.ops.update(w.who, svc.id, ServicePatch(stop_after=0))
    assert (off.stop_after, off.stop_at) == (None, None)


def _deployment(auto: Autoscaling | None, replicas: int = 1) -> Deployment:
    return Deployment(
        id=DeploymentId("deployment-1"),
        service_id=ServiceId("service-1"),
        model_id=None,
        runtime_id="runtime-1",  # type: ignore[arg-type]
        version="1",
        weight=100,
        replicas=replicas,
        cpu=1,
        memory=1,
        gpu=0,
        autoscaling=auto,
        scale_set_at=START,
    )


def test_a_restarted_autoscaler_does_not_scale_down_before_a_full_delay() -> None:
    scaler, dep = Autoscaler(), _deployment(AUTO)
    idle = DeploymentLoad(0.0)
    at = [START + timedelta(seconds=s) for s in range(0, 40, 5)]
    assert [scaler.replicas(dep, 4, idle, t) for t in at] == [4, 4, 4, 4, 4, 4, 1, 1]


def test_scale_up_waits_for_the_up_delay() -> None:
    scaler, dep = Autoscaler(), _deployment(replace(AUTO, scale_up_delay=10))
    busy = DeploymentLoad(8.0)
    at = [START + timedelta(seconds=s) for s in range(0, 20, 5)]
    assert [scaler.replicas(dep, 1, busy, t) for t in at] == [1, 1, 4, 4]
