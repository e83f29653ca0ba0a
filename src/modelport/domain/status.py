"""Derive deployment and service status from replicas — a pure function, never set by hand.

service being deleted                          → deleting
desired 0, something alive                     → stopping
desired 0, nothing alive                       → stopped
ready ≥ desired                                → running
placement blocked                              → pending   (reason names the resource)
none ready, a replica failed FAILED_AFTER
times in a row                                 → failed    (reason: its last error)
was running, a replica failed or is unhealthy  → degraded
otherwise (starting up, scaling up)            → deploying
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modelport.domain.replicas import ALIVE, Replica, ReplicaState
from modelport.domain.services import Status

FAILED_AFTER = 2  # consecutive failures of one replica before its deployment shows `failed`


@dataclass(frozen=True, slots=True)
class DerivedStatus:
    status: Status
    reason: str
    ready: int


def deployment_status(
    *,
    desired: int,
    replicas: Sequence[Replica],
    ever_ready: bool,
    deleting: bool = False,
    unschedulable: str | None = None,
    asleep: bool = False,
) -> DerivedStatus:
    """`asleep`: the autoscaler took the deployment to zero; a call wakes it, so it runs."""
    ready = sum(1 for r in replicas if r.state == ReplicaState.READY)
    alive = [r for r in replicas if r.state in ALIVE]
    if deleting:
        return DerivedStatus(Status.DELETING, "", ready)
    if desired == 0 and asleep:
        return DerivedStatus(Status.RUNNING, "scaled to zero: a call wakes it", ready)
    if desired == 0:
        if alive:
            return DerivedStatus(Status.STOPPING, "", ready)
        return DerivedStatus(Status.STOPPED, "", ready)
    if ready >= desired:
        return DerivedStatus(Status.RUNNING, "", ready)
    if unschedulable:
        return DerivedStatus(Status.PENDING, unschedulable, ready)
    failed = [r for r in replicas if r.failures >= FAILED_AFTER and r.state != ReplicaState.READY]
    if ready == 0 and failed:
        return DerivedStatus(Status.FAILED, failed[0].last_error, ready)
    troubled = any(
        r.state in (ReplicaState.FAILED, ReplicaState.UNHEALTHY)
        or (r.state in (ReplicaState.PENDING, ReplicaState.STARTING) and r.restarts > 0)
        for r in replicas
    )
    if ever_ready and troubled:
        return DerivedStatus(Status.DEGRADED, f"{ready}/{desired} replicas ready", ready)
    return DerivedStatus(Status.DEPLOYING, f"{ready}/{desired} replicas ready", ready)


_SEVERITY = [
    Status.DELETING,
    Status.FAILED,
    Status.PENDING,
    Status.DEGRADED,
    Status.DEPLOYING,
    Status.STOPPING,
    Status.RUNNING,
    Status.STOPPED,
]


def service_status(parts: Iterable[DerivedStatus]) -> DerivedStatus:
    """A service shows its worst deployment (in `_SEVERITY` order); ready counts add up."""
    items = list(parts)
    if not items:
        return DerivedStatus(Status.STOPPED, "no deployments", 0)
    worst = min(items, key=lambda p: _SEVERITY.index(p.status))
    return DerivedStatus(worst.status, worst.reason, sum(p.ready for p in items))


def progress(desired: int, ready: int) -> int:
    """Deployment progress in percent, as ModelArts shows it."""
    if desired <= 0:
        return 100
    return min(100, ready * 100 // desired)
