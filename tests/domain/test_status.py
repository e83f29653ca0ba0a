"""Status derivation: deployment status from its replicas, service status as the worst part."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from modelport.domain.ids import DeploymentId, ReplicaId
from modelport.domain.replicas import Replica, ReplicaState
from modelport.domain.services import Status
from modelport.domain.status import (
    FAILED_AFTER,
    DerivedStatus,
    deployment_status,
    progress,
    service_status,
)

S = ReplicaState


def rep(state: ReplicaState, failures: int = 0, last_error: str = "", restarts: int = 0) -> Replica:
    return Replica(
        ReplicaId(f"rep-{state}"),
        DeploymentId("dep-1"),
        "fake",
        state,
        failures=failures,
        last_error=last_error,
        restarts=restarts,
    )


CRASHED = "process exited with code 1: ImportError: no module named torch"


@dataclass(frozen=True)
class Case:
    id: str
    desired: int
    replicas: list[Replica]
    status: Status
    reason: str
    ready: int
    ever_ready: bool = False
    deleting: bool = False
    unschedulable: str | None = None


CASES = [
    Case("nothing wanted, nothing alive → stopped", 0, [], Status.STOPPED, "", 0),
    Case(
        "nothing wanted, one still stopping → stopping",
        0, [rep(S.STOPPING)], Status.STOPPING, "", 0,
    ),
    Case(
        "nothing wanted, only a dead failed one → stopped",
        0, [rep(S.FAILED, failures=3)], Status.STOPPED, "", 0,
    ),
    Case(
        "being deleted wins over everything",
        1, [rep(S.READY)], Status.DELETING, "", 1, deleting=True,
    ),
    Case(
        "all ready → running",
        2, [rep(S.READY), rep(S.READY)], Status.RUNNING, "", 2,
    ),
    Case(
        "more ready than desired (scaling down) → running",
        1, [rep(S.READY), rep(S.READY)], Status.RUNNING, "", 2,
    ),
    Case(
        "placement blocked → pending naming the resource",
        2, [rep(S.PENDING), rep(S.PENDING)], Status.PENDING,
        "insufficient cpu: requested 4, available 1", 0,
        unschedulable="insufficient cpu: requested 4, available 1",
    ),
    Case(
        "blocked but enough ready → running",
        1, [rep(S.READY), rep(S.PENDING)], Status.RUNNING, "", 1,
        unschedulable="insufficient gpu: requested 1, available 0",
    ),
    Case(
        "fresh and starting → deploying",
        2, [rep(S.STARTING), rep(S.PENDING)], Status.DEPLOYING, "0/2 replicas ready", 0,
    ),
    Case(
        "half ready, never ready before → deploying",
        2, [rep(S.READY), rep(S.STARTING)], Status.DEPLOYING, "1/2 replicas ready", 1,
    ),
    Case(
        "one failure is not yet failed",
        1, [rep(S.FAILED, failures=FAILED_AFTER - 1, last_error=CRASHED)],
        Status.DEPLOYING, "0/1 replicas ready", 0,
    ),
    Case(
        f"{FAILED_AFTER} consecutive failures, none ready → failed with the error",
        1, [rep(S.FAILED, failures=FAILED_AFTER, last_error=CRASHED)],
        Status.FAILED, CRASHED, 0,
    ),
    Case(
        "crash-looping replica restarting still shows failed",
        1, [rep(S.STARTING, failures=FAILED_AFTER + 1, last_error=CRASHED)],
        Status.FAILED, CRASHED, 0,
    ),
    Case(
        "failed even after having been ready",
        1, [rep(S.FAILED, failures=FAILED_AFTER, last_error=CRASHED)],
        Status.FAILED, CRASHED, 0, ever_ready=True,
    ),
    Case(
        "some ready and one failing → degraded, not failed",
        2, [rep(S.READY), rep(S.FAILED, failures=5, last_error=CRASHED)],
        Status.DEGRADED, "1/2 replicas ready", 1, ever_ready=True,
    ),
    Case(
        "missing replicas after having been ready → degraded",
        2, [rep(S.READY), rep(S.FAILED, failures=1)],
        Status.DEGRADED, "1/2 replicas ready", 1, ever_ready=True,
    ),
    Case(
        "scaling up a running deployment → deploying, not degraded",
        3, [rep(S.READY), rep(S.STARTING), rep(S.PENDING)],
        Status.DEPLOYING, "1/3 replicas ready", 1, ever_ready=True,
    ),
    Case(
        "a crashed replica restarting → degraded",
        2, [rep(S.READY), rep(S.STARTING, restarts=1)],
        Status.DEGRADED, "1/2 replicas ready", 1, ever_ready=True,
    ),
    Case(
        "unhealthy is not ready → degraded",
        1, [rep(S.UNHEALTHY)], Status.DEGRADED, "0/1 replicas ready", 0, ever_ready=True,
    ),
    Case(
        "unhealthy before ever ready → deploying",
        1, [rep(S.UNHEALTHY)], Status.DEPLOYING, "0/1 replicas ready", 0,
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_deployment_status(case: Case) -> None:
    got = deployment_status(
        desired=case.desired,
        replicas=case.replicas,
        ever_ready=case.ever_ready,
        deleting=case.deleting,
        unschedulable=case.unschedulable,
    )
    assert got == DerivedStatus(case.status, case.reason, case.ready)


def part(status: Status, ready: int = 0, reason: str = "") -> DerivedStatus:
    return DerivedStatus(status, reason or str(status), ready)


SERVICE = [
    pytest.param([], DerivedStatus(Status.STOPPED, "no deployments", 0), id="no deployments"),
    pytest.param(
        [part(Status.RUNNING, 2), part(Status.RUNNING, 1)],
        DerivedStatus(Status.RUNNING, "running", 3),
        id="all running",
    ),
    pytest.param(
        [part(Status.RUNNING, 2), part(Status.DEGRADED, 1)],
        DerivedStatus(Status.DEGRADED, "degraded", 3),
        id="running + degraded → degraded",
    ),
    pytest.param(
        [part(Status.DEGRADED, 1), part(Status.FAILED, 0, "boom")],
        DerivedStatus(Status.FAILED, "boom", 1),
        id="degraded + failed → failed",
    ),
    pytest.param(
        [part(Status.DEPLOYING), part(Status.PENDING, 0, "insufficient gpu")],
        DerivedStatus(Status.PENDING, "insufficient gpu", 0),
        id="deploying + pending → pending",
    ),
    pytest.param(
        [part(Status.FAILED), part(Status.DELETING)],
        DerivedStatus(Status.DELETING, "deleting", 0),
        id="deleting is worst",
    ),
    pytest.param(
        [part(Status.RUNNING, 1), part(Status.DEPLOYING)],
        DerivedStatus(Status.DEPLOYING, "deploying", 1),
        id="running + deploying → deploying",
    ),
    pytest.param(
        [part(Status.STOPPED), part(Status.STOPPING)],
        DerivedStatus(Status.STOPPING, "stopping", 0),
        id="stopped + stopping → stopping",
    ),
    pytest.param(
        [part(Status.STOPPED), part(Status.RUNNING, 1)],
        DerivedStatus(Status.RUNNING, "running", 1),
        id="stopped + running → running",
    ),
]


@pytest.mark.parametrize(("parts", "expected"), SERVICE)
def test_service_status_is_the_worst_part(
    parts: list[DerivedStatus], expected: DerivedStatus
) -> None:
    assert service_status(parts) == expected


@pytest.mark.parametrize(
    ("desired", "ready", "percent"),
    [(0, 0, 100), (3, 0, 0), (3, 1, 33), (3, 2, 66), (3, 3, 100), (2, 5, 100)],
    ids=lambda v: str(v),
)
def test_progress(desired: int, ready: int, percent: int) -> None:
    assert progress(desired, ready) == percent
