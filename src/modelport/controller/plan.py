"""Decide what to do for one deployment: `plan(desired, seen, now, free) -> Plan`. Pure.

Input is what the deployment should be (`Desired`) and what this pass observed of each of its
replicas (`Seen`: process alive?, probe healthy?, log tail when it died). Output is a list of
actions for `apply.py` and the resources left for the deployments planned after this one.

Rules, in order:
1. Move each replica along its lifecycle from what was observed (died → `failed` with the
   reason from its log; probe ok → `ready`; a start that outlives `start_timeout` → `failed`;
   a `stopping` replica that is gone → removed).
2. Restart `failed` replicas the deployment still wants once their backoff is over
   (exponential, capped), counting `restarts`.
3. Scale: too few active replicas → new `pending` ones, started when their resources fit
   (else they wait, and the plan says which resource is short); too many → stop the least
   useful first (failed, pending, starting, unhealthy, then the newest ready).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from modelport.domain.events import EventType
from modelport.domain.ids import DeploymentId, ReplicaId, new_id
from modelport.domain.replicas import Replica, ReplicaState
from modelport.domain.resources import Resources

S = ReplicaState


@dataclass(frozen=True, slots=True)
class Desired:
    deployment_id: DeploymentId
    replicas: int
    resources: Resources
    backend: str
    start_timeout: float = 300.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0


@dataclass(frozen=True, slots=True)
class Seen:
    replica: Replica
    alive: bool | None = None  # None: not asked (no process yet)
    exit_code: int | None = None
    healthy: bool | None = None  # None: not probed
    log_tail: str = ""


# -- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Create:
    """Record a new replica (state `pending`)."""

    replica: Replica


@dataclass(frozen=True, slots=True)
class Start:
    """Start the replica's process; `replica` is already in `starting` with `started_at`."""

    replica: Replica


@dataclass(frozen=True, slots=True)
class Save:
    """Persist a replica's new state."""

    replica: Replica


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop the replica's process (it is saved as `stopping` first)."""

    replica: Replica


@dataclass(frozen=True, slots=True)
class Remove:
    replica_id: ReplicaId


@dataclass(frozen=True, slots=True)
class Note:
    """An event about the deployment or one of its replicas."""

    object_kind: str
    object_id: str
    type: EventType
    reason: str
    message: str


Action = Create | Start | Save | Stop | Remove | Note


@dataclass(slots=True)
class Plan:
    actions: list[Action] = field(default_factory=list)
    free: Resources = field(default_factory=Resources)
    unschedulable: str | None = None
    replicas: list[Replica] = field(default_factory=list)  # the replicas after this plan


def backoff(failures: int, base: float, cap: float) -> float:
    """Restart delay after `failures` consecutive failures: base, 2·base, 4·base, … ≤ cap."""
    return float(min(cap, base * 2 ** max(failures - 1, 0)))


_STOP_ORDER = {S.FAILED: 0, S.PENDING: 1, S.STARTING: 2, S.UNHEALTHY: 3, S.READY: 4}


def plan(desired: Desired, seen: list[Seen], now: datetime, free: Resources) -> Plan:
    out = Plan(free=free)
    current: list[Replica] = []
    for s in seen:
        r = _observe(desired, s, now, out)
        if r is not None:
            current.append(r)

    active = [r for r in current if r.state not in (S.STOPPING, S.STOPPED)]
    surplus = len(active) - desired.replicas
    if surplus > 0:
        victims = sorted(
            active,
            key=lambda r: (_STOP_ORDER.get(r.state, 0), -(r.created_at or now).timestamp()),
        )[:surplus]
        for v in victims:
            current[current.index(v)] = _stop(v, out)
        active = [r for r in active if r not in victims]
        current = [r for r in current if r.state != S.STOPPED]  # removed by `_stop`
    for _ in range(desired.replicas - len(active)):
        r = Replica(
            id=ReplicaId(new_id("replica")),
            deployment_id=desired.deployment_id,
            backend=desired.backend,
            state=S.PENDING,
            created_at=now,
        )
        out.actions.append(Create(r))
        current.append(r)

    for i, r in enumerate(current):
        if r.state == S.PENDING or (
            r.state == S.FAILED and r.next_start_at is not None and r.next_start_at <= now
        ):
            current[i] = _start(desired, r, now, out)
    out.replicas = current
    return out


def _observe(desired: Desired, s: Seen, now: datetime, out: Plan) -> Replica | None:
    r = s.replica
    if r.state == S.STOPPING:
        if s.alive is False:
            out.actions.append(Remove(r.id))
            return None
        return r
    if r.state == S.STOPPED:
        out.actions.append(Remove(r.id))
        return None
    if r.state in (S.STARTING, S.READY, S.UNHEALTHY) and s.alive is False:
        return _fail(desired, r, now, out, _exit_reason(s), process_gone=True)
    if r.state == S.STARTING:
        if s.healthy:
            ready = r.to(S.READY, ready_at=now, failures=0, last_error="")
            out.actions.append(Save(ready))
            return ready
        started = r.started_at or now
        if now - started > timedelta(seconds=desired.start_timeout):
            reason = f"not ready after {desired.start_timeout:g}s"
            return _fail(desired, r, now, out, reason, process_gone=False)
        return r
    if r.state == S.READY and s.healthy is False:
        sick = r.to(S.UNHEALTHY)
        out.actions.append(Save(sick))
        out.actions.append(Note("replica", r.id, EventType.WARNING, "Unhealthy", "probe failed"))
        return sick
    if r.state == S.UNHEALTHY and s.healthy:
        well = r.to(S.READY)
        out.actions.append(Save(well))
        return well
    return r


def _exit_reason(s: Seen) -> str:
    head = "process exited" if s.exit_code is None else f"process exited with code {s.exit_code}"
    tail = s.log_tail.strip()
    return f"{head}: {tail}" if tail else head


def failed(
    r: Replica, reason: str, now: datetime, base: float, cap: float
) -> tuple[Replica, float]:
    """`r` failed for `reason`: one more consecutive failure, restarted after the backoff.
    Returns the failed replica and the backoff in seconds."""
    failures = r.failures + 1
    delay = backoff(failures, base, cap)
    later = now + timedelta(seconds=delay)
    return r.to(S.FAILED, failures=failures, last_error=reason, next_start_at=later), delay


def _fail(
    desired: Desired, r: Replica, now: datetime, out: Plan, reason: str, *, process_gone: bool
) -> Replica:
    failed_replica, delay = failed(r, reason, now, desired.backoff_base, desired.backoff_max)
    if not process_gone:
        out.actions.append(Stop(failed_replica))
    out.actions.append(Save(failed_replica))
    what = "crashed" if r.state in (S.READY, S.UNHEALTHY) else "failed to start"
    out.actions.append(
        Note(
            "replica",
            r.id,
            EventType.WARNING,
            "ReplicaFailed",
            f"replica {r.id} {what}: {reason}; restarting in {delay:g}s",
        )
    )
    return failed_replica


def _stop(r: Replica, out: Plan) -> Replica:
    if r.state in (S.PENDING, S.FAILED) and r.handle is None:
        out.actions.append(Remove(r.id))
        return r.to(S.STOPPED)
    stopping = r.to(S.STOPPING)
    out.actions.append(Save(stopping))
    out.actions.append(Stop(stopping))
    return stopping


def _start(desired: Desired, r: Replica, now: datetime, out: Plan) -> Replica:
    short = out.free.shortfall(desired.resources) if r.state == S.PENDING else None
    if short is not None:
        out.unschedulable = short
        if r.last_error != short:
            r = replace(r, last_error=short)
            out.actions.append(Save(r))
        return r
    if r.state == S.PENDING:
        out.free = out.free - desired.resources
    restarts = r.restarts + (1 if r.state == S.FAILED else 0)
    if r.state == S.FAILED:
        r = r.to(S.PENDING)
    starting = r.to(
        S.STARTING,
        started_at=now,
        ready_at=None,
        next_start_at=None,
        restarts=restarts,
        handle=None,
        address=None,
    )
    out.actions.append(Start(starting))
    if restarts > r.restarts:
        out.actions.append(
            Note(
                "replica",
                r.id,
                EventType.NORMAL,
                "ReplicaRestarted",
                f"replica {r.id} restarted (restart {restarts})",
            )
        )
    return starting
