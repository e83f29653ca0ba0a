"""Carry out a deployment's `Plan`: database writes, process starts and stops.

Order matters for crash safety: new replica rows are committed *before* their process starts
(so a process never exists without a row that names it), and the process handle is saved
right after. If that second write fails (the store went away), the processes just started
are stopped: a process whose handle no record holds would otherwise run beside its
replica's next start. Stops run as background tasks (SIGTERM, grace period, SIGKILL); the
next pass sees the process gone and removes the row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from modelport.backends.base import Backend, LaunchSpec
from modelport.controller.plan import Create, Note, Plan, Remove, Save, Start, Stop, failed
from modelport.domain.errors import ModelportError
from modelport.domain.events import Event, EventType
from modelport.domain.ids import EventId, ProjectId, new_id
from modelport.domain.replicas import Replica, ReplicaState
from modelport.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Context:
    project_id: ProjectId
    service_id: str
    grace_period: float
    backoff_base: float
    backoff_max: float
    launch: Callable[[Replica], LaunchSpec]


class Applier:
    """Applies plans. Called only from the controller's pass (one at a time)."""

    def __init__(self, store: Store, backend: Backend, drain_delay: float = 0.0) -> None:
        self.store = store
        self.backend = backend
        self.drain_delay = drain_delay
        self.stopping: dict[str, asyncio.Task[None]] = {}

    async def apply(self, plan: Plan, ctx: Context, now: datetime) -> list[Replica]:
        """Apply `plan`; return the replicas as they are afterwards."""
        if plan.actions:  # a deployment at rest writes nothing
            async with self.store.write() as tx:
                for action in plan.actions:
                    match action:
                        case Create(replica=r):
                            await tx.replicas.add(r)
                        case Save(replica=r) | Start(replica=r):
                            await tx.replicas.save(r)
                        case Remove(replica_id=rid):
                            await tx.replicas.delete(rid)
                        case Note():
                            await tx.events.add(event(ctx.project_id, ctx.service_id, action, now))
                        case Stop():  # its replica is saved by the Save that goes with it
                            pass
        for action in plan.actions:
            if isinstance(action, Stop) and action.replica.handle:
                self.stop(action.replica, ctx.grace_period)
        started = [a.replica for a in plan.actions if isinstance(a, Start)]
        results = await asyncio.gather(*(self._start(r, ctx, now) for r in started))
        if started:
            try:
                async with self.store.write() as tx:
                    for r in results:
                        await tx.replicas.save(r)
                        if r.state == ReplicaState.FAILED:
                            note = Note(
                                "replica", r.id, EventType.WARNING, "ReplicaFailed", r.last_error
                            )
                            await tx.events.add(event(ctx.project_id, ctx.service_id, note, now))
            except ModelportError:
                # the store went away: no record names these processes' handles, and the
                # next pass would start the replicas again beside them. Stop them; that
                # pass then sees them gone and restarts them after the backoff.
                for r in results:
                    self.stop(r, ctx.grace_period)
                raise
        by_id = {r.id: r for r in results}
        return [by_id.get(r.id, r) for r in plan.replicas]

    async def _start(self, r: Replica, ctx: Context, now: datetime) -> Replica:
        try:
            placed = await self.backend.start(ctx.launch(r))
        except ModelportError as exc:
            return failed(r, exc.message, now, ctx.backoff_base, ctx.backoff_max)[0]
        return replace(r, handle=placed.handle, address=placed.address, node=placed.node)

    def stop(self, r: Replica, grace_period: float) -> None:
        """Stop `r`'s process in the background (SIGTERM, grace period, kill).

        A replica that has served calls first waits `drain_delay`: it is out of the routing
        snapshot from this pass on, and gateways that follow the store take that long to
        stop sending it calls; the calls it has then finish within the grace period.
        """
        if r.id in self.stopping or r.handle is None:
            return
        delay = self.drain_delay if r.ready_at is not None else 0.0
        task = asyncio.create_task(self._stop(r.handle, delay, grace_period))
        self.stopping[r.id] = task
        task.add_done_callback(self._stopped)

    async def _stop(self, handle: str, delay: float, grace_period: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        await self.backend.stop(handle, grace_period)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        for rid, t in list(self.stopping.items()):
            if t is task:
                del self.stopping[rid]

    async def drain(self) -> None:
        """Wait for every stop in flight."""
        if self.stopping:
            await asyncio.gather(*self.stopping.values(), return_exceptions=True)


def event(project_id: ProjectId, service_id: str, note: Note, now: datetime) -> Event:
    return Event(
        id=EventId(new_id("event")),
        project_id=project_id,
        object_kind=note.object_kind,
        object_id=note.object_id,
        service_id=service_id,
        type=note.type,
        reason=note.reason,
        message=note.message,
        at=now,
    )
