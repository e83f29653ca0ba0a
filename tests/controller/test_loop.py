"""The real `Controller` on a real store, driven pass by pass with `FakeBackend` + `FakeClock`.

Services are deployed through `ServiceOps` (a `command` runtime deployment: FakeBackend never
runs the command); each `reconcile()` is one level-triggered pass. Recovery (`recover()`) is
tested the same way: a second controller on the same store and backend plays the restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from modelport.backends.base import LaunchSpec
from modelport.backends.fake import FakeBackend
from modelport.controller.clock import FakeClock
from modelport.controller.loop import Controller, ControllerConfig
from modelport.controller.recovery import recover
from modelport.domain.auth import Principal
from modelport.domain.errors import NotFound
from modelport.domain.events import Event, EventType
from modelport.domain.ids import DeploymentId, ReplicaId, ServiceId
from modelport.domain.replicas import ALIVE, Replica, ReplicaState
from modelport.domain.resources import Resources
from modelport.domain.services import Service, Status
from modelport.query.ast import Cond, ListQuery, Op
from modelport.services import services
from modelport.services.secrets import Cipher
from modelport.services.services import DeploymentSpec, ServiceOps, ServiceSpec
from modelport.store import Store

S = ReplicaState
COMMAND = ["{python}", "-m", "http.server", "--bind", "{host}", "$PORT"]
CONFIG = ControllerConfig(start_timeout=60.0, backoff_base=1.0, backoff_max=8.0)


@dataclass
class World:
    store: Store
    backend: FakeBackend
    clock: FakeClock
    controller: Controller
    ops: ServiceOps
    who: Principal

    async def deploy(self, replicas: int = 1, cpu: float = 0.5, name: str = "echo") -> Service:
        spec = ServiceSpec(
            name=name,
            deployments=[
                DeploymentSpec(runtime="command", command=COMMAND, replicas=replicas, cpu=cpu)
            ],
        )
        return await self.ops.create(self.who, spec)

    async def service(self, service_id: str) -> Service:
        return await self.ops.get(self.who, service_id)

    async def replicas(self, service_id: str) -> list[Replica]:
        return list(await self.ops.replicas(self.who, service_id))

    async def events(self, service_id: str, reason: str | None = None) -> list[Event]:
        flt = Cond("service_id", Op.EQ, service_id)
        found, _ = await services.events(self.store, self.who, ListQuery(filter=flt, limit=1000))
        return [e for e in found if reason is None or e.reason == reason]

    async def settle(self) -> None:
        """Let in-flight stops finish, then run a pass that sees them gone."""
        await self.controller.applier.drain()
        await self.controller.reconcile()

    def restarted(self) -> Controller:
        """A fresh controller on the same store and backend: what a server restart gives."""
        return Controller(self.store, self.backend, self.backend.probe, self.clock, CONFIG)


def world(store: Store, principal: Principal, cipher: Cipher, backend: FakeBackend) -> World:
    clock = FakeClock()
    controller = Controller(store, backend, backend.probe, clock, CONFIG)
    ops = ServiceOps(store, cipher, backend, controller.wake)
    return World(store, backend, clock, controller, ops, principal)


@pytest.fixture
async def w(store: Store, principal: Principal, cipher: Cipher) -> AsyncIterator[World]:
    it = world(store, principal, cipher, FakeBackend())
    yield it
    await it.controller.applier.drain()


@pytest.fixture
def writes(store: Store) -> Iterator[list[str]]:
    """Every INSERT/UPDATE/DELETE the store sends from now on (SQLAlchemy's own event hook)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            seen.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(store.engine.sync_engine, "before_cursor_execute", record)


# -- deploy, ready, crash, restart ----------------------------------------------------------


async def test_deploy_starts_replicas(w: World) -> None:
    svc = await w.deploy(replicas=2)
    assert (await w.service(svc.id)).status == Status.DEPLOYING

    await w.controller.reconcile()

    replicas = await w.replicas(svc.id)
    assert [r.state for r in replicas] == [S.STARTING, S.STARTING]
    assert all(r.handle and r.address and r.node == "fake-node" for r in replicas)
    assert sorted(p.spec.replica_id for p in w.backend.alive()) == sorted(r.id for r in replicas)
    launched = w.backend.started[0]
    assert launched.command == COMMAND
    assert launched.service_id == svc.id
    assert launched.resources == Resources(0.5, 256, 0)
    got = await w.service(svc.id)
    assert (got.status, got.status_reason, got.progress) == (
        Status.DEPLOYING,
        "0/2 replicas ready",
        0,
    )


async def test_ready_replicas_make_the_service_running(w: World) -> None:
    svc = await w.deploy(replicas=2)
    await w.controller.reconcile()
    w.backend.make_ready()
    await w.controller.reconcile()

    got = await w.service(svc.id)
    assert (got.status, got.status_reason, got.progress) == (Status.RUNNING, "", 100)
    assert got.transition_at == w.clock.now()
    assert [d.ready_replicas for d in got.deployments] == [2]
    assert all(d.ever_ready and d.status == Status.RUNNING for d in got.deployments)
    replicas = await w.replicas(svc.id)
    assert all(r.state == S.READY and r.ready_at == w.clock.now() for r in replicas)
    (changed,) = await w.events(svc.id, "StatusChanged")
    assert changed.type == EventType.NORMAL
    assert changed.message == "deploying → running"
    assert [e.reason for e in await w.events(svc.id, "Created")] == ["Created"]


async def test_crash_degrades_then_backoff_restarts(w: World) -> None:
    svc = await w.deploy(replicas=2)
    await w.controller.reconcile()
    w.backend.make_ready()
    await w.controller.reconcile()
    victim, other = await w.replicas(svc.id)

    w.backend.crash(victim.id, exit_code=-9)
    await w.controller.reconcile()

    got = await w.service(svc.id)
    assert (got.status, got.status_reason, got.progress) == (
        Status.DEGRADED,
        "1/2 replicas ready",
        50,
    )
    assert got.deployments[0].status == Status.DEGRADED
    crashed = {r.id: r for r in await w.replicas(svc.id)}[victim.id]
    assert crashed.state == S.FAILED
    assert crashed.last_error.startswith("process exited with code -9")
    assert crashed.next_start_at == w.clock.now() + timedelta(seconds=CONFIG.backoff_base)
    (failed,) = await w.events(svc.id, "ReplicaFailed")
    assert failed.type == EventType.WARNING and failed.object_id == victim.id
    (degraded,) = [e for e in await w.events(svc.id, "StatusChanged") if "degraded" in e.message]
    assert degraded.type == EventType.WARNING

    # before the backoff is over nothing happens
    w.clock.advance(0.5)
    await w.controller.reconcile()
    assert {r.id: r for r in await w.replicas(svc.id)}[victim.id].state == S.FAILED

    w.clock.advance(CONFIG.backoff_base)
    await w.controller.reconcile()
    restarted = {r.id: r for r in await w.replicas(svc.id)}[victim.id]
    assert (restarted.state, restarted.restarts) == (S.STARTING, 1)
    assert len(await w.events(svc.id, "ReplicaRestarted")) == 1

    w.backend.make_ready(victim.id)
    await w.controller.reconcile()
    got = await w.service(svc.id)
    assert (got.status, got.progress) == (Status.RUNNING, 100)
    again = {r.id: r for r in await w.replicas(svc.id)}
    assert (again[victim.id].state, again[victim.id].failures) == (S.READY, 0)
    assert again[other.id].restarts == 0


async def test_crash_loop_before_ready_fails_with_the_log_line(w: World) -> None:
    line = "ImportError: No module named 'torch'"
    svc = await w.deploy()
    for attempt in range(2):
        w.backend.fail_next_start(line)
        await w.controller.reconcile()  # starts (or restarts) the replica; it dies at once
        await w.controller.reconcile()  # sees it dead
        (r,) = await w.replicas(svc.id)
        assert (r.state, r.failures, r.restarts) == (S.FAILED, attempt + 1, attempt)
        assert r.last_error.startswith("process exited with code 1: ")
        assert r.last_error.endswith(line)
        w.clock.advance(CONFIG.backoff_max)

    got = await w.service(svc.id)
    assert got.status == Status.FAILED
    assert line in got.status_reason
    assert len(await w.events(svc.id, "ReplicaFailed")) == 2
    (failed,) = [e for e in await w.events(svc.id, "StatusChanged") if "→ failed" in e.message]
    assert failed.type == EventType.WARNING
    assert line in failed.message


async def test_vanished_process_fails_the_replica(w: World) -> None:
    svc = await w.deploy()
    await w.controller.reconcile()
    (r,) = await w.replicas(svc.id)
    w.backend.processes.clear()  # the process vanished without an exit code
    await w.controller.reconcile()
    (r,) = await w.replicas(svc.id)
    assert (r.state, r.last_error) == (S.FAILED, "process exited")


async def test_capacity_too_small_keeps_the_service_pending(
    store: Store, principal: Principal, cipher: Cipher
) -> None:
    w = world(store, principal, cipher, FakeBackend(capacity=Resources(1, 512, 0)))
    svc = await w.deploy(cpu=4)
    await w.controller.reconcile()

    got = await w.service(svc.id)
    assert got.status == Status.PENDING
    assert "cpu" in got.status_reason
    (r,) = await w.replicas(svc.id)
    assert r.state == S.PENDING and "cpu" in r.last_error
    assert w.backend.started == []

    # another pass changes nothing
    await w.controller.reconcile()
    assert len(await w.events(svc.id, "StatusChanged")) == 1


async def test_capacity_is_shared_between_services(
    store: Store, principal: Principal, cipher: Cipher
) -> None:
    w = world(store, principal, cipher, FakeBackend(capacity=Resources(2, 4096, 0)))
    first = await w.deploy(replicas=2, cpu=1, name="first")
    await w.controller.reconcile()
    second = await w.deploy(replicas=1, cpu=1, name="second")
    await w.controller.reconcile()
    assert (await w.service(first.id)).status == Status.DEPLOYING
    assert (await w.service(second.id)).status == Status.PENDING

    await w.ops.scale(w.who, first.id, 1)
    await w.controller.reconcile()
    await w.settle()  # the stopped replica is removed; its share counts from the next pass
    await w.controller.reconcile()
    assert [r.state for r in await w.replicas(second.id)] == [S.STARTING]


# -- scale, stop, start, delete -------------------------------------------------------------


async def running(w: World, replicas: int) -> Service:
    svc = await w.deploy(replicas=replicas)
    await w.controller.reconcile()
    w.backend.make_ready()
    await w.controller.reconcile()
    assert (await w.service(svc.id)).status == Status.RUNNING
    return svc


async def test_scale_down_stops_two(w: World) -> None:
    svc = await running(w, 3)
    await w.ops.scale(w.who, svc.id, 1)
    await w.controller.reconcile()

    states = sorted(r.state for r in await w.replicas(svc.id))
    assert states == sorted([S.READY, S.STOPPING, S.STOPPING])
    assert (await w.service(svc.id)).status == Status.RUNNING

    await w.settle()
    (left,) = await w.replicas(svc.id)
    assert left.state == S.READY
    assert [p.spec.replica_id for p in w.backend.alive()] == [left.id]
    assert len(w.backend.stopped) == 2


async def test_scale_up(w: World) -> None:
    svc = await running(w, 1)
    await w.ops.scale(w.who, svc.id, 3)
    await w.controller.reconcile()
    got = await w.service(svc.id)
    # scaling up is progress, not trouble: `deploying`, never a `degraded` warning
    assert (got.status, got.status_reason, got.progress) == (
        Status.DEPLOYING,
        "1/3 replicas ready",
        33,
    )
    w.backend.make_ready()
    await w.controller.reconcile()
    assert (await w.service(svc.id)).status == Status.RUNNING
    assert len(w.backend.alive()) == 3


async def test_stop_and_start(w: World) -> None:
    svc = await running(w, 2)
    await w.ops.stop(w.who, svc.id)
    await w.controller.reconcile()
    assert (await w.service(svc.id)).status == Status.STOPPING

    await w.settle()
    got = await w.service(svc.id)
    assert (got.status, got.progress) == (Status.STOPPED, 100)
    assert await w.replicas(svc.id) == []
    assert w.backend.alive() == []

    await w.ops.start(w.who, svc.id)
    await w.controller.reconcile()
    assert [r.state for r in await w.replicas(svc.id)] == [S.STARTING, S.STARTING]
    # a fresh start deploys again: no `degraded` false alarm from the run before the stop
    got = await w.service(svc.id)
    assert (got.status, got.status_reason) == (Status.DEPLOYING, "0/2 replicas ready")
    assert not got.deployments[0].ever_ready
    w.backend.make_ready()
    await w.controller.reconcile()
    assert (await w.service(svc.id)).status == Status.RUNNING
    assert len(w.backend.alive()) == 2


async def test_delete_removes_the_service_after_its_replicas(w: World) -> None:
    svc = await running(w, 2)
    deleting = await w.ops.delete(w.who, svc.id)
    assert deleting.status == Status.DELETING

    await w.controller.reconcile()
    got = await w.service(svc.id)
    assert got.status == Status.DELETING
    assert {r.state for r in await w.replicas(svc.id)} == {S.STOPPING}

    await w.settle()
    with pytest.raises(NotFound):
        await w.service(svc.id)
    assert w.backend.alive() == []
    async with w.store.read() as tx:
        assert await tx.replicas.all() == []
    assert [e.reason for e in await w.events(svc.id, "Deleted")] == ["Deleted"]


async def test_delete_of_a_never_started_service(
    store: Store, principal: Principal, cipher: Cipher
) -> None:
    w = world(store, principal, cipher, FakeBackend(capacity=Resources(0, 0, 0)))
    svc = await w.deploy()
    await w.controller.reconcile()  # a pending replica, nothing placed
    assert [r.state for r in await w.replicas(svc.id)] == [S.PENDING]
    await w.ops.delete(w.who, svc.id)
    await w.controller.reconcile()  # nothing to stop: the record and the service go at once
    with pytest.raises(NotFound):
        await w.service(svc.id)
    async with w.store.read() as tx:
        assert await tx.replicas.all() == []


# -- status written only when it changed ----------------------------------------------------


async def test_steady_state_writes_nothing(w: World, writes: list[str]) -> None:
    svc = await running(w, 2)
    changes = len(await w.events(svc.id, "StatusChanged"))
    transition_at = (await w.service(svc.id)).transition_at

    writes.clear()
    for _ in range(3):
        w.clock.advance(10)
        await w.controller.reconcile()

    assert writes == []
    assert len(await w.events(svc.id, "StatusChanged")) == changes
    assert (await w.service(svc.id)).transition_at == transition_at


async def test_waiting_in_backoff_writes_nothing(w: World, writes: list[str]) -> None:
    svc = await running(w, 1)
    (r,) = await w.replicas(svc.id)
    w.backend.crash(r.id)
    await w.controller.reconcile()
    writes.clear()
    await w.controller.reconcile()
    await w.controller.reconcile()
    assert writes == []


# -- recovery after a restart ---------------------------------------------------------------


async def test_recover_adopts_live_replicas(w: World) -> None:
    svc = await running(w, 2)
    before = {r.id: r for r in await w.replicas(svc.id)}
    # the crash window: rows committed, handles not yet saved
    async with w.store.write() as tx:
        for r in before.values():
            await tx.replicas.save(replace(r, handle=None, address=None, node=""))

    result = await recover(w.store, w.backend)
    assert (result.adopted, result.orphans_stopped) == (2, 0)
    after = {r.id: r for r in await w.replicas(svc.id)}
    for rid, r in before.items():
        assert (after[rid].handle, after[rid].address) == (r.handle, r.address)

    controller = w.restarted()
    await controller.reconcile()
    assert len(w.backend.started) == 2  # nothing started twice
    assert (await w.service(svc.id)).status == Status.RUNNING


async def test_recover_stops_unknown_processes(w: World) -> None:
    svc = await running(w, 1)
    orphan = await w.backend.start(
        LaunchSpec(ReplicaId("rep-orphan"), DeploymentId("dep-gone"), ServiceId("svc-gone"), [])
    )
    result = await recover(w.store, w.backend)
    assert (result.adopted, result.orphans_stopped) == (1, 1)
    assert w.backend.stopped == [orphan.handle]
    assert [p.spec.replica_id for p in w.backend.alive()] == [
        r.id for r in await w.replicas(svc.id)
    ]


async def test_after_recovery_never_more_alive_than_desired(w: World) -> None:
    """Down while the user scaled 4 → 1, with a scale-down recorded but not carried out."""
    svc = await running(w, 4)
    *_, last = await w.replicas(svc.id)
    # the old controller had saved `last` as stopping, then died before stopping it
    async with w.store.write() as tx:
        await tx.replicas.save(last.to(S.STOPPING))
    await w.ops.scale(w.who, svc.id, 1)
    await w.backend.start(
        LaunchSpec(ReplicaId("rep-orphan"), DeploymentId("dep-gone"), ServiceId("svc-gone"), [])
    )

    await recover(w.store, w.backend)
    controller = w.restarted()
    for _ in range(3):
        await controller.reconcile()
        replicas = await w.replicas(svc.id)
        assert len([r for r in replicas if r.state in ALIVE - {S.STOPPING}]) <= 1
        await controller.applier.drain()

    (left,) = await w.replicas(svc.id)
    assert left.state == S.READY
    assert [p.spec.replica_id for p in w.backend.alive()] == [left.id]
    assert (await w.service(svc.id)).status == Status.RUNNING


async def test_recover_completes_a_failed_record_whose_process_lives(w: World) -> None:
    svc = await running(w, 1)
    (r,) = await w.replicas(svc.id)
    async with w.store.write() as tx:
        await tx.replicas.save(replace(r, state=S.FAILED, handle=None, failures=1))
    assert (await recover(w.store, w.backend)).adopted == 1
    controller = w.restarted()
    await controller.reconcile()
    (again,) = await w.replicas(svc.id)
    assert again.state == S.READY
    assert len(w.backend.started) == 1
