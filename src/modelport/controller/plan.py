"""Decide what to do for one deployment: `plan(desired, seen, now, free) -> Plan`. Pure.

Input is what the deployment should be (`Desired`) and what this pass observed of each of its
replicas (`Seen`: process alive?, probe healthy?, log tail when it died). Output is a list of
actions for `apply.py` and the resources left for the deployments planned after this one.

A replica is *active* unless it is `stopping` or `stopped`. It is *old* when it was started
with another spec than the deployment's (`Replica.template` not `Desired.template`), else *new*.

Rules, in order:
1. Adopt replicas recorded before templates existed (`template == ""`): they are saved with
   the deployment's template and count as new. With `Desired.template == ""` every replica is
   new (no rolling update).
2. Move each replica along its lifecycle from what was observed (died → `failed` with the
   reason from its log; probe ok → `ready`; a start that outlives `start_timeout` → `failed`;
   `unhealthy` for longer than `unhealthy_timeout` (a hung process) → stopped and `failed`;
   a `stopping` replica that is gone → removed).
3. Scale, when no active replica is old or the deployment wants none: too few active
   replicas → new `pending` ones, started when their resources fit (else they wait, and the
   plan says which resource is short); too many → stop the least useful first (failed,
   pending, starting, unhealthy, then the newest ready).
4. Roll, when some active replicas are old and the deployment wants N > 0 (Kubernetes'
   `RollingUpdate` with S = `max_surge`, U = `max_unavailable`; S = U = 0 could never
   progress and is read as U = 1):
   - old replicas that are not `ready` serve nothing: stopped at once (never restarted, which
     would launch them with the new spec);
   - old `ready` replicas are stopped, oldest first, while at least N - U replicas (old and
     new) stay `ready`;
   - new replicas beyond N are the surplus of rule 3;
   - new replicas are created while fewer than N + S are active and fewer than N are new.
   Each old replica stopped gets a `Replaced` event; the next passes stop the rest as the
   new ones become ready.
5. Restart `failed` replicas the deployment still wants once their backoff is over
   (exponential, capped), counting `restarts`.

`Plan.updated` and `Plan.outdated` count the active new and old replicas after the plan.
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
    unhealthy_timeout: float = 30.0  # seconds unhealthy before a replica is replaced
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    template: str = ""  # the deployment's spec hash; "" turns rolling updates off
    max_surge: int = 1  # active replicas allowed above `replicas` during a rollout
    max_unavailable: int = 0  # ready replicas allowed below `replicas` during a rollout


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
    updated: int = 0  # active replicas after this plan running the deployment's template
    outdated: int = 0  # active replicas after this plan running an older one


def backoff(failures: int, base: float, cap: float) -> float:
    """Restart delay after `failures` consecutive failures: base, 2·base, 4·base, … ≤ cap."""
    return float(min(cap, base * 2 ** max(failures - 1, 0)))


_STOP_ORDER = {S.FAILED: 0, S.PENDING: 1, S.STARTING: 2, S.UNHEALTHY: 3, S.READY: 4}


def plan(desired: Desired, seen: list[Seen], now: datetime, free: Resources) -> Plan:
    out = Plan(free=free)
    current: list[Replica] = []
    for s in seen:
        r = _observe(desired, replace(s, replica=_adopt(desired, s.replica, out)), now, out)
        if r is not None:
            current.append(r)

    rolling = desired.replicas > 0 and any(_is_old(desired, r) for r in _active(current))
    current = _roll(desired, current, now, out) if rolling else _scale(desired, current, now, out)

    for i, r in enumerate(current):
        if r.state == S.PENDING or (
            r.state == S.FAILED and r.next_start_at is not None and r.next_start_at <= now
        ):
            current[i] = _start(desired, r, now, out)
    out.replicas = current
    out.outdated = sum(_is_old(desired, r) for r in _active(current))
    out.updated = len(_active(current)) - out.outdated
    return out


def _active(replicas: list[Replica]) -> list[Replica]:
    return [r for r in replicas if r.state not in (S.STOPPING, S.STOPPED)]


def _is_old(desired: Desired, r: Replica) -> bool:
    return desired.template != "" and r.template not in ("", desired.template)


def _adopt(desired: Desired, r: Replica, out: Plan) -> Replica:
    """A replica recorded before templates existed runs the current spec: record it so."""
    if r.template or not desired.template or r.state in (S.STOPPING, S.STOPPED):
        return r
    adopted = replace(r, template=desired.template)
    out.actions.append(Save(adopted))
    return adopted


def _scale(desired: Desired, current: list[Replica], now: datetime, out: Plan) -> list[Replica]:
    """No rollout: stop the surplus, create what is missing."""
    active = _active(current)
    victims = _least_useful(active, len(active) - desired.replicas, now)
    current = _stop_all(current, victims, out)
    missing = desired.replicas - (len(active) - len(victims))
    return current + [_create(desired, now, out) for _ in range(missing)]


def _roll(desired: Desired, current: list[Replica], now: datetime, out: Plan) -> list[Replica]:
    """Replace old replicas by new ones within `max_surge` and `max_unavailable` (rule 4)."""
    n = desired.replicas
    surge, unavailable = max(desired.max_surge, 0), max(desired.max_unavailable, 0)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # else nothing could ever be stopped or created
    active = _active(current)
    old = [r for r in active if _is_old(desired, r)]
    new = [r for r in active if not _is_old(desired, r)]

    idle_old = [r for r in old if r.state != S.READY]
    ready_old = sorted(
        (r for r in old if r.state == S.READY), key=lambda r: ((r.created_at or now), r.id)
    )
    surplus = _least_useful(new, len(new) - n, now)
    ready = len(ready_old) + sum(r.state == S.READY for r in new if r not in surplus)
    spare = max(ready - max(n - unavailable, 0), 0)
    retired = idle_old + ready_old[:spare]

    current = _stop_all(current, retired, out, replaced=True)
    current = _stop_all(current, surplus, out)
    left, left_new = len(active) - len(retired) - len(surplus), len(new) - len(surplus)
    missing = min(n + surge - left, n - left_new)
    return current + [_create(desired, now, out) for _ in range(missing)]


def _least_useful(active: list[Replica], count: int, now: datetime) -> list[Replica]:
    """The `count` replicas to stop first: failed, pending, starting, unhealthy, newest ready."""
    if count <= 0:
        return []
    order = sorted(
        active, key=lambda r: (_STOP_ORDER.get(r.state, 0), -(r.created_at or now).timestamp())
    )
    return order[:count]


def _stop_all(
    current: list[Replica], victims: list[Replica], out: Plan, *, replaced: bool = False
) -> list[Replica]:
    """Stop each of `victims`; return `current` updated, without the ones removed outright."""
    current = list(current)
    for v in victims:
        current[current.index(v)] = _stop(v, out)
        if replaced:
            message = f"replica {v.id} replaced by the new spec"
            out.actions.append(Note("replica", v.id, EventType.NORMAL, "Replaced", message))
    return [r for r in current if r.state != S.STOPPED]


def _create(desired: Desired, now: datetime, out: Plan) -> Replica:
    r = Replica(
        id=ReplicaId(new_id("replica")),
        deployment_id=desired.deployment_id,
        backend=desired.backend,
        state=S.PENDING,
        created_at=now,
        template=desired.template,
    )
    out.actions.append(Create(r))
    return r


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
        sick = r.to(S.UNHEALTHY, unhealthy_at=now)
        out.actions.append(Save(sick))
        out.actions.append(Note("replica", r.id, EventType.WARNING, "Unhealthy", "probe failed"))
        return sick
    if r.state == S.UNHEALTHY and s.healthy:
        well = r.to(S.READY, unhealthy_at=None)
        out.actions.append(Save(well))
        return well
    if r.state == S.UNHEALTHY and s.healthy is False:
        since = r.unhealthy_at or now
        if now - since > timedelta(seconds=desired.unhealthy_timeout):  # hung: replace it
            reason = f"health probe failing for {desired.unhealthy_timeout:g}s"
            return _fail(desired, r, now, out, reason, process_gone=False)
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
