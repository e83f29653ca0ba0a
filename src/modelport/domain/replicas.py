"""Replicas and their lifecycle.

    pending → starting → ready ⇄ unhealthy → stopping → stopped
    any → failed;  failed → pending (restarted after a backoff)

`ALLOWED` is the one table of transitions; `check_transition` enforces it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from modelport.domain.errors import Conflict
from modelport.domain.ids import DeploymentId, ReplicaId


class ReplicaState(enum.StrEnum):
    PENDING = "pending"
    STARTING = "starting"
    READY = "ready"
    UNHEALTHY = "unhealthy"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


S = ReplicaState
ALLOWED: dict[ReplicaState, frozenset[ReplicaState]] = {
    S.PENDING: frozenset({S.STARTING, S.STOPPING, S.STOPPED, S.FAILED}),
    S.STARTING: frozenset({S.READY, S.STOPPING, S.FAILED}),
    S.READY: frozenset({S.UNHEALTHY, S.STOPPING, S.FAILED}),
    S.UNHEALTHY: frozenset({S.READY, S.STOPPING, S.FAILED}),
    S.STOPPING: frozenset({S.STOPPED, S.FAILED}),
    S.STOPPED: frozenset(),
    S.FAILED: frozenset({S.PENDING, S.STOPPING, S.STOPPED}),
}

ALIVE = frozenset({S.STARTING, S.READY, S.UNHEALTHY, S.STOPPING})


def check_transition(old: ReplicaState, new: ReplicaState) -> None:
    if old != new and new not in ALLOWED[old]:
        raise Conflict(f"replica cannot go from {old} to {new}")


@dataclass(frozen=True, slots=True)
class Replica:
    """One instance of a deployment, placed by a backend.

    `handle` is the backend's own opaque reference (for `local`: the process id and its start
    time); `address` is `host:port` where the model server listens.
    """

    id: ReplicaId
    deployment_id: DeploymentId
    backend: str
    state: ReplicaState
    node: str = ""
    address: str | None = None
    handle: str | None = None
    restarts: int = 0
    failures: int = 0  # consecutive failures; reset once ready
    last_error: str = ""
    started_at: datetime | None = None
    ready_at: datetime | None = None
    next_start_at: datetime | None = None
    created_at: datetime | None = None
    unhealthy_at: datetime | None = None  # when its health probe began to fail
    template: str = ""  # the deployment spec it runs (`Deployment.template`); "" before 0005

    def to(self, state: ReplicaState, **changes: object) -> Replica:
        """Return this replica moved to `state`, checked against the transition table."""
        check_transition(self.state, state)
        return replace(self, state=state, **changes)  # type: ignore[arg-type]
