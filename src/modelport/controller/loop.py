"""`Controller`: level-triggered reconcile passes over every deployment.

Each pass runs `before_pass` (the server flushes its gateway's counts and load there), reads
the whole desired state, every replica record and the gateways' load, stops the services whose
auto-stop time came, sets each autoscaled or scheduled deployment's count (`autoscale.py`),
observes each replica (backend: process alive?; probe: ready?), plans per deployment
(`plan.py`), applies (`apply.py`), runs `on_pass` (the server refreshes the gateway's routing
snapshot there, so a service never shows `running` before the gateway can route to it), and
then writes deployment and service status, only when it changed. Events only wake the loop
early (`wake()`); a periodic resync catches anything they miss.

Concurrency contract: passes never overlap (one lock); `wake()` may be called from any task
on the same event loop. Failures of one pass are logged with their traceback and counted;
the loop goes on. A pass that fails because the store is away (`TemporaryError`) logs one
line and is retried at the next interval; nothing it did before the failure is lost, since
every pass starts again from what the store holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from modelport.backends.base import Backend, LaunchSpec, latest_attempt
from modelport.controller.apply import Applier, Context, event
from modelport.controller.autoscale import Autoscaler
from modelport.controller.clock import Clock
from modelport.controller.plan import Desired, Note, Seen, plan
from modelport.controller.probe import Probe
from modelport.domain import status as derive
from modelport.domain.errors import TemporaryError
from modelport.domain.events import EventType
from modelport.domain.models import Model
from modelport.domain.replicas import ALIVE, Replica, ReplicaState
from modelport.domain.resources import Resources
from modelport.domain.runtimes import Runtime
from modelport.domain.services import (
    Deployment,
    DesiredState,
    Rollout,
    Service,
    Status,
    spec_fields,
)
from modelport.domain.stats import DeploymentLoad
from modelport.store import Store

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    resync_interval: float = 2.0
    probe_interval: float = 0.25
    start_timeout: float = 300.0
    unhealthy_timeout: float = 30.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    drain_delay: float = 0.0  # see Applier.stop
    load_window: float = 10.0  # seconds of gateway load the autoscaler averages


@dataclass(frozen=True, slots=True)
class _Outcome:
    deployment: Deployment
    status: derive.DerivedStatus
    ever_ready: bool
    free: Resources
    rollout: Rollout
    updated: int  # replicas running the current spec
    target: int | None  # the count autoscaling or a schedule set (None: neither is on)


@dataclass(frozen=True, slots=True)
class _World:
    services: Sequence[Service]
    replicas: dict[str, list[Replica]]
    runtimes: dict[str, Runtime]
    models: dict[str, Model]
    load: Mapping[str, DeploymentLoad] | None  # None: no gateway reported in the window


class Controller:
    def __init__(
        self,
        store: Store,
        backend: Backend,
        probe: Probe,
        clock: Clock,
        config: ControllerConfig = ControllerConfig(),
        on_pass: Callable[[], Awaitable[None]] | None = None,
        before_pass: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.probe = probe
        self.clock = clock
        self.config = config
        self.on_pass = on_pass
        self.before_pass = before_pass
        self.autoscaler = Autoscaler()
        self.applier = Applier(store, backend, config.drain_delay)
        self.passes = 0
        self.failed_passes = 0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._busy = False  # some replica is starting or stopping: poll faster
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def request_stop(self) -> None:
        """Ask `run_forever` to return after the pass in progress (no pass is cut short)."""
        self._stopping = True
        self._wake.set()

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            begun = loop.time()
            try:
                await self.reconcile()
            except TemporaryError as exc:  # the store is away: the next pass retries
                self.failed_passes += 1
                log.warning("reconcile pass failed, retrying: %s", exc.message)
            except Exception:  # the top of the loop: isolate, log, count, go on
                self.failed_passes += 1
                log.exception("reconcile pass failed")
            interval = self.config.probe_interval if self._busy else self.config.resync_interval
            if self._stopping:
                break
            took = loop.time() - begun
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
                # woken early: rest as long as the pass took, so that back-to-back passes (a
                # burst of API writes) keep at most half of the event loop the API shares
                rest = min(begun + 2 * took - loop.time(), interval)
                if rest > 0 and not self._stopping:
                    await asyncio.sleep(rest)
            self._wake.clear()

    async def reconcile(self) -> None:
        """One pass over every deployment."""
        async with self._lock:
            await self._pass()
            self.passes += 1

    async def _pass(self) -> None:
        if self.before_pass is not None:
            await self.before_pass()
        now = self.clock.now()
        world = await self._load(now)
        world = replace(world, services=await self._auto_stop(world.services, now))
        self.autoscaler.forget({d.id for s in world.services for d in s.deployments if d.scaled})
        seen = await self._observe(world)
        free = self.backend.capacity() - self._reserved(world)
        outcomes: dict[str, list[_Outcome]] = {}
        for svc in world.services:
            outcomes[svc.id] = []
            for dep in svc.deployments:
                out = await self._reconcile_deployment(
                    svc, dep, world, seen.get(dep.id, []), now, free
                )
                free = out.free
                outcomes[svc.id].append(out)
        await self._reap_orphans(world, seen)
        # the gateway learns of new ready replicas before any status says `running`
        if self.on_pass is not None:
            await self.on_pass()
        for svc in world.services:
            for out in outcomes[svc.id]:
                await self._record_deployment(svc, out, now)
            await self._record_service(svc, [o.status for o in outcomes[svc.id]], world, now)
        busy = (ReplicaState.STARTING, ReplicaState.STOPPING, ReplicaState.FAILED)
        self._busy = bool(self.applier.stopping) or any(
            r.state in busy for rs in world.replicas.values() for r in rs
        )

    async def _load(self, now: datetime) -> _World:
        async with self.store.read() as tx:
            services = await tx.services.all(settled_too=False)
            replicas: dict[str, list[Replica]] = defaultdict(list)
            for r in await tx.replicas.all():
                replicas[r.deployment_id].append(r)
            runtimes: dict[str, Runtime] = {}
            models: dict[str, Model] = {}
            for svc in services:
                for d in svc.deployments:
                    if d.runtime_id not in runtimes:
                        runtimes[d.runtime_id] = await tx.runtimes.get(svc.project_id, d.runtime_id)
                    if d.model_id and d.model_id not in models:
                        models[d.model_id] = await tx.models.get(svc.project_id, d.model_id)
            scaled = any(d.autoscaling for s in services for d in s.deployments)
            window = now.timestamp() - self.config.load_window
            load = await tx.load.since(window) if scaled else None
        return _World(services, replicas, runtimes, models, load)

    async def _auto_stop(self, services: Sequence[Service], now: datetime) -> list[Service]:
        """Stop the running services whose `stop_at` came (ModelArts' `schedule`)."""
        out = []
        for svc in services:
            due = svc.stop_at
            if svc.desired_state == DesiredState.RUNNING and due is not None and due <= now:
                async with self.store.write() as tx:
                    if await tx.services.auto_stop(svc.id, due):
                        message = f"stopped at its auto-stop time {due.isoformat()}"
                        note = Note("service", svc.id, EventType.NORMAL, "AutoStopped", message)
                        await tx.events.add(event(svc.project_id, svc.id, note, now))
                        svc = replace(svc, desired_state=DesiredState.STOPPED, stop_at=None)
            out.append(svc)
        return out

    def _target(self, svc: Service, dep: Deployment, world: _World, now: datetime) -> int | None:
        """The count autoscaling or a schedule sets now; None when neither is on."""
        if svc.desired_state != DesiredState.RUNNING or not dep.scaled:
            return None
        load = None if world.load is None else world.load.get(dep.id, DeploymentLoad())
        return self.autoscaler.replicas(dep, dep.wanted, load, now)

    def _reserved(self, world: _World) -> Resources:
        total = Resources()
        deps: dict[str, Deployment] = {d.id: d for s in world.services for d in s.deployments}
        for dep_id, replicas in world.replicas.items():
            d = deps.get(dep_id)
            if d is None:
                continue
            held = [r for r in replicas if r.state in ALIVE or r.state == ReplicaState.FAILED]
            total = total + d.resources * len(held)
        return total

    async def _observe(self, world: _World) -> dict[str, list[Seen]]:
        paths: dict[str, str] = {
            d.id: d.health_path or world.runtimes[d.runtime_id].health_path
            for s in world.services
            for d in s.deployments
        }
        jobs = [
            self._see(r, paths.get(dep_id, "/"))
            for dep_id, replicas in world.replicas.items()
            for r in replicas
        ]
        out: dict[str, list[Seen]] = defaultdict(list)
        for s in await asyncio.gather(*jobs):
            out[s.replica.deployment_id].append(s)
        return out

    async def _see(self, r: Replica, health_path: str) -> Seen:
        if r.state not in ALIVE:
            return Seen(r)
        if r.handle is None:
            alive, code = r.id in self.applier.stopping, None
        else:
            obs = await self.backend.observe(r.handle)
            alive, code = obs.alive, obs.exit_code
        if not alive:
            if r.state == ReplicaState.STOPPING:  # gone as asked: no failure to explain
                return Seen(r, alive=False, exit_code=code)
            tail = latest_attempt(await self.backend.logs(r.id, LOG_TAIL_LINES))
            return Seen(r, alive=False, exit_code=code, log_tail=tail)
        healthy = None
        if r.state != ReplicaState.STOPPING and r.address:
            healthy = await self.probe(r.address, health_path)
        return Seen(r, alive=True, healthy=healthy)

    async def _reconcile_deployment(
        self,
        svc: Service,
        dep: Deployment,
        world: _World,
        seen: Sequence[Seen],
        now: datetime,
        free: Resources,
    ) -> _Outcome:
        target = self._target(svc, dep, world, now)
        running = svc.desired_state == DesiredState.RUNNING
        desired = Desired(
            deployment_id=dep.id,
            replicas=(dep.replicas if target is None else target) if running else 0,
            resources=dep.resources,
            backend=self.backend.name,
            start_timeout=self.config.start_timeout,
            unhealthy_timeout=self.config.unhealthy_timeout,
            backoff_base=self.config.backoff_base,
            backoff_max=self.config.backoff_max,
            template=dep.template,
            max_surge=dep.max_surge,
            max_unavailable=dep.max_unavailable,
        )
        p = plan(desired, list(seen), now, free)
        ctx = Context(
            project_id=svc.project_id,
            service_id=svc.id,
            grace_period=dep.grace_period,
            backoff_base=self.config.backoff_base,
            backoff_max=self.config.backoff_max,
            launch=lambda r: self._launch_spec(svc, dep, world, r),
        )
        replicas = await self.applier.apply(p, ctx, now)
        # one run's memory: forgotten once the deployment is stopped, so a restart deploys
        ever_ready = desired.replicas > 0 and (
            dep.ever_ready or any(r.state == ReplicaState.READY for r in replicas)
        )
        got = derive.deployment_status(
            desired=desired.replicas,
            replicas=replicas,
            ever_ready=ever_ready,
            deleting=svc.desired_state == DesiredState.DELETED,
            unschedulable=p.unschedulable,
            asleep=running and dep.wakes and target == 0,
        )
        world.replicas[dep.id] = replicas
        rollout = await self._rollout(svc, dep, desired, replicas, p.outdated, now)
        return _Outcome(dep, got, ever_ready, p.free, rollout, p.updated, target)

    async def _rollout(
        self,
        svc: Service,
        dep: Deployment,
        desired: Desired,
        replicas: Sequence[Replica],
        outdated: int,
        now: datetime,
    ) -> Rollout:
        """Where the deployment's last spec change stands; completes it once every replica
        runs the new spec and enough are ready, or rolls back past `rollout_timeout`."""
        started = dep.rollout_started_at
        if started is None:  # no change under way, or a return to the spec before one
            if dep.rollout == Rollout.ROLLED_BACK:
                return dep.rollout  # until the next change
            if outdated:
                return Rollout.PROGRESSING
            return Rollout.COMPLETE if dep.rollout == Rollout.PROGRESSING else dep.rollout
        ready = sum(
            1 for r in replicas if r.state == ReplicaState.READY and r.template == desired.template
        )
        if not outdated and ready >= desired.replicas:
            async with self.store.write() as tx:
                if not await tx.services.finish_rollout(dep.id, started):
                    return Rollout.PROGRESSING  # a newer change began: the next pass plans it
                took = (now - started).total_seconds()
                note = Note(
                    "deployment",
                    dep.id,
                    EventType.NORMAL,
                    "RolloutComplete",
                    f"deployment {dep.id}: every replica runs the new spec ({took:.1f}s)",
                )
                await tx.events.add(event(svc.project_id, svc.id, note, now))
            return Rollout.COMPLETE
        late = now - started > timedelta(seconds=dep.rollout_timeout)
        if dep.previous is not None and late and await self._roll_back(svc, dep, now):
            return Rollout.ROLLED_BACK
        return Rollout.PROGRESSING

    async def _roll_back(self, svc: Service, dep: Deployment, now: datetime) -> bool:
        """Put the spec before the change back; the next pass replaces the new replicas.
        False when the deployment changed meanwhile (the next pass plans the newer spec)."""
        reason = f"new replicas not ready within {dep.rollout_timeout:g}s; rolled back"
        async with self.store.write() as tx:
            current = await tx.services.get(None, svc.id)
            d = next((x for x in current.deployments if x.id == dep.id), None)
            if d is None or d.previous is None or d.rollout_started_at != dep.rollout_started_at:
                return False
            back = replace(d, **spec_fields(d.previous), previous=None, rollout_started_at=None)
            deployments = tuple(back if x.id == d.id else x for x in current.deployments)
            await tx.services.update_spec(replace(current, deployments=deployments))
            note = Note(
                "deployment",
                dep.id,
                EventType.WARNING,
                "RolledBack",
                f"deployment {dep.id}: {reason}",
            )
            await tx.events.add(event(svc.project_id, svc.id, note, now))
        log.warning("deployment %s: %s", dep.id, reason)
        return True

    async def _record_deployment(self, svc: Service, out: _Outcome, now: datetime) -> None:
        dep, got = out.deployment, out.status
        target = dep.target_replicas if out.target is None and dep.scaled else out.target
        before = (
            dep.status,
            dep.status_reason,
            dep.ready_replicas,
            dep.ever_ready,
            dep.rollout,
            dep.updated_replicas,
            dep.target_replicas,
        )
        after = (
            got.status,
            got.reason,
            got.ready,
            out.ever_ready,
            out.rollout,
            out.updated,
            target,
        )
        if after == before:
            return
        async with self.store.write() as tx:
            if out.target is not None and out.target != dep.wanted:
                how = "autoscaled" if dep.autoscaling else "scheduled"
                message = f"deployment {dep.id} {how} from {dep.wanted} to {out.target} replicas"
                note = Note("deployment", dep.id, EventType.NORMAL, "Autoscaled", message)
                await tx.events.add(event(svc.project_id, svc.id, note, now))
            await tx.services.set_deployment_status(
                dep.id,
                status=got.status.value,
                status_reason=got.reason,
                ready_replicas=got.ready,
                ever_ready=out.ever_ready,
                rollout=out.rollout.value,
                updated_replicas=out.updated,
                target_replicas=target,
            )

    async def _reap_orphans(self, world: _World, seen: dict[str, list[Seen]]) -> None:
        """Stop the replicas whose deployment was removed; drop their rows once stopped."""
        known = {d.id for s in world.services for d in s.deployments}
        for dep_id in [d for d in world.replicas if d not in known]:
            gone = []
            for s in seen.get(dep_id, []):
                r = s.replica
                if s.alive and r.handle and r.id not in self.applier.stopping:
                    self.applier.stop(r, grace_period=10.0)
                elif not s.alive and r.id not in self.applier.stopping:
                    gone.append(r.id)
            if gone:
                async with self.store.write() as tx:
                    for rid in gone:
                        await tx.replicas.delete(rid)
            world.replicas[dep_id] = [r for r in world.replicas[dep_id] if r.id not in gone]

    def _launch_spec(self, svc: Service, dep: Deployment, world: _World, r: Replica) -> LaunchSpec:
        runtime = world.runtimes[dep.runtime_id]
        model = world.models.get(dep.model_id) if dep.model_id else None
        return LaunchSpec(
            replica_id=r.id,
            deployment_id=dep.id,
            service_id=svc.id,
            command=dep.command or runtime.command,
            env={**runtime.env, **dep.env},
            resources=dep.resources,
            model_uri=(model.uri or "") if model else "",
            model_name=model.name if model else svc.name,
        )

    async def _record_service(
        self, svc: Service, parts: list[derive.DerivedStatus], world: _World, now: datetime
    ) -> None:
        if svc.desired_state == DesiredState.DELETED:
            left = [r for d in svc.deployments for r in world.replicas.get(d.id, [])]
            if not left:
                async with self.store.write() as tx:
                    await tx.services.delete(svc.id)
                    note = Note("service", svc.id, EventType.NORMAL, "Deleted", "service deleted")
                    await tx.events.add(event(svc.project_id, svc.id, note, now))
                return
        got = derive.service_status(parts)
        progress = derive.progress(svc.desired_replicas, got.ready)
        if (got.status, got.reason, progress) == (svc.status, svc.status_reason, svc.progress):
            return
        async with self.store.write() as tx:
            values: dict[str, object] = {
                "status": got.status.value,
                "status_reason": got.reason,
                "progress": progress,
            }
            if got.status != svc.status:
                values["transition_at"] = now
                kind = EventType.WARNING if got.status in _BAD else EventType.NORMAL
                msg = f"{svc.status} → {got.status}" + (f": {got.reason}" if got.reason else "")
                note = Note("service", svc.id, kind, "StatusChanged", msg)
                await tx.events.add(event(svc.project_id, svc.id, note, now))
            await tx.services.set_status(svc.id, **values)

    async def shutdown(self) -> None:
        """Stop every replica (graceful server stop) and forget them. With the store away,
        the backend names what runs: all of it is stopped, and the records stay, for the next
        start's first pass to find the processes gone and start them again."""
        async with self._lock:
            try:
                async with self.store.read() as tx:
                    replicas = await tx.replicas.all()
                    grace = {
                        d.id: d.grace_period for s in await tx.services.all() for d in s.deployments
                    }
            except TemporaryError as exc:
                log.warning("stopping every replica the backend finds: %s", exc.message)
                found = await self.backend.discover()
                await asyncio.gather(
                    *(self.backend.stop(d.handle, 10.0) for d in found), self.applier.drain()
                )
                return
            await asyncio.gather(
                *(
                    self.backend.stop(r.handle, grace.get(r.deployment_id, 10.0))
                    for r in replicas
                    if r.handle is not None
                ),
                self.applier.drain(),
            )
            async with self.store.write() as tx:
                for r in replicas:
                    await tx.replicas.delete(r.id)


_BAD = frozenset({Status.FAILED, Status.DEGRADED, Status.PENDING})
