"""Table-driven tests of `plan()`, the pure decision of one reconcile pass for one deployment.

Each row gives the replicas as observed (`Seen`) and expects the replicas after the plan and
the actions it asks for, summarised as readable tuples (`("Save", "a", "ready")`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from modelport.controller.plan import (
    Create,
    Desired,
    Note,
    Plan,
    Remove,
    Save,
    Seen,
    Start,
    Stop,
    backoff,
    plan,
)
from modelport.domain.ids import DeploymentId, ReplicaId
from modelport.domain.replicas import Replica, ReplicaState
from modelport.domain.resources import Resources

S = ReplicaState
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REQUEST = Resources(1, 256, 0)
PLENTY = Resources(16, 65536, 4)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def desired(replicas: int = 1, resources: Resources = REQUEST, **kw: float) -> Desired:
    return Desired(
        deployment_id=DeploymentId("dep-1"),
        replicas=replicas,
        resources=resources,
        backend="fake",
        **kw,
    )


def rep(name: str, state: ReplicaState, *, age: float = 600, **kw: object) -> Replica:
    """A replica `rep-<name>` created `age` seconds before NOW, placed (with a handle)."""
    values: dict[str, object] = {
        "handle": f"fake:{name}",
        "address": f"127.0.0.1:{20000 + ord(name[0])}",
        "started_at": at(-age),
        "created_at": at(-age),
    }
    values.update(kw)
    return Replica(
        id=ReplicaId(f"rep-{name}"),
        deployment_id=DeploymentId("dep-1"),
        backend="fake",
        state=state,
        **values,  # type: ignore[arg-type]
    )


def pending(name: str, age: float = 600) -> Replica:
    return rep(name, S.PENDING, age=age, handle=None, address=None, started_at=None)


def _name(replica_id: str, known: Collection[str]) -> str:
    return replica_id.removeprefix("rep-") if replica_id in known else "new"


def summary(p: Plan, before: list[Seen]) -> list[tuple[str, ...]]:
    known = {s.replica.id for s in before}
    out: list[tuple[str, ...]] = []
    for a in p.actions:
        match a:
            case Create(replica=r):
                out.append(("Create", _name(r.id, known), r.state.value))
            case Start(replica=r):
                out.append(("Start", _name(r.id, known), r.state.value))
            case Save(replica=r):
                out.append(("Save", _name(r.id, known), r.state.value))
            case Stop(replica=r):
                out.append(("Stop", _name(r.id, known), r.state.value))
            case Remove(replica_id=rid):
                out.append(("Remove", _name(rid, known)))
            case Note(reason=reason, object_id=oid):
                out.append(("Note", _name(oid, known), reason))
    return out


def states(p: Plan, before: list[Seen]) -> list[tuple[str, str]]:
    known = {s.replica.id for s in before}
    return [(_name(r.id, known), r.state.value) for r in p.replicas]


@dataclass(frozen=True)
class Case:
    id: str
    seen: list[Seen]
    actions: Sequence[tuple[str, ...]]
    after: list[tuple[str, str]]
    want: Desired = field(default_factory=desired)


# -- lifecycle of one replica ---------------------------------------------------------------

LIFECYCLE = [
    Case(
        "fresh deployment creates and starts its replicas",
        seen=[],
        want=desired(3),
        actions=[("Create", "new", "pending")] * 3 + [("Start", "new", "starting")] * 3,
        after=[("new", "starting")] * 3,
    ),
    Case(
        "scale up from one ready replica adds the missing ones",
        seen=[Seen(rep("a", S.READY), alive=True, healthy=True)],
        want=desired(3),
        actions=[("Create", "new", "pending")] * 2 + [("Start", "new", "starting")] * 2,
        after=[("a", "ready"), ("new", "starting"), ("new", "starting")],
    ),
    Case(
        "existing pending replica is started",
        seen=[Seen(pending("a"))],
        actions=[("Start", "a", "starting")],
        after=[("a", "starting")],
    ),
    Case(
        "starting and healthy becomes ready",
        seen=[Seen(rep("a", S.STARTING, age=5), alive=True, healthy=True)],
        actions=[("Save", "a", "ready")],
        after=[("a", "ready")],
    ),
    Case(
        "starting, not yet healthy, within start_timeout waits",
        seen=[Seen(rep("a", S.STARTING, age=299), alive=True, healthy=False)],
        actions=[],
        after=[("a", "starting")],
    ),
    Case(
        "starting past start_timeout fails and is stopped",
        seen=[Seen(rep("a", S.STARTING, age=301), alive=True, healthy=False)],
        actions=[("Stop", "a", "failed"), ("Save", "a", "failed"), ("Note", "a", "ReplicaFailed")],
        after=[("a", "failed")],
    ),
    Case(
        "starting and dead fails (failed to start)",
        seen=[Seen(rep("a", S.STARTING, age=1), alive=False, exit_code=1, log_tail="bad model")],
        actions=[("Save", "a", "failed"), ("Note", "a", "ReplicaFailed")],
        after=[("a", "failed")],
    ),
    Case(
        "ready and dead fails with no stop",
        seen=[Seen(rep("a", S.READY), alive=False, exit_code=-9, log_tail="oom")],
        actions=[("Save", "a", "failed"), ("Note", "a", "ReplicaFailed")],
        after=[("a", "failed")],
    ),
    Case(
        "ready and healthy stays",
        seen=[Seen(rep("a", S.READY), alive=True, healthy=True)],
        actions=[],
        after=[("a", "ready")],
    ),
    Case(
        "ready and probe failing becomes unhealthy",
        seen=[Seen(rep("a", S.READY), alive=True, healthy=False)],
        actions=[("Save", "a", "unhealthy"), ("Note", "a", "Unhealthy")],
        after=[("a", "unhealthy")],
    ),
    Case(
        "unhealthy and probe ok is ready again",
        seen=[Seen(rep("a", S.UNHEALTHY), alive=True, healthy=True)],
        actions=[("Save", "a", "ready")],
        after=[("a", "ready")],
    ),
    Case(
        "unhealthy and still failing stays unhealthy",
        seen=[Seen(rep("a", S.UNHEALTHY), alive=True, healthy=False)],
        actions=[],
        after=[("a", "unhealthy")],
    ),
    Case(
        "unhealthy and dead fails",
        seen=[Seen(rep("a", S.UNHEALTHY), alive=False, exit_code=2)],
        actions=[("Save", "a", "failed"), ("Note", "a", "ReplicaFailed")],
        after=[("a", "failed")],
    ),
    Case(
        "failed before next_start_at waits",
        seen=[Seen(rep("a", S.FAILED, failures=1, next_start_at=at(1)))],
        actions=[],
        after=[("a", "failed")],
    ),
    Case(
        "failed at next_start_at is started again",
        seen=[Seen(rep("a", S.FAILED, failures=1, next_start_at=NOW))],
        actions=[("Start", "a", "starting"), ("Note", "a", "ReplicaRestarted")],
        after=[("a", "starting")],
    ),
    Case(
        "stopping and still alive waits",
        seen=[Seen(rep("a", S.STOPPING), alive=True)],
        want=desired(0),
        actions=[],
        after=[("a", "stopping")],
    ),
    Case(
        "stopping and dead is removed",
        seen=[Seen(rep("a", S.STOPPING), alive=False, exit_code=-15)],
        want=desired(0),
        actions=[("Remove", "a")],
        after=[],
    ),
    Case(
        "stopped is removed",
        seen=[Seen(rep("a", S.STOPPED))],
        want=desired(0),
        actions=[("Remove", "a")],
        after=[],
    ),
]

# -- scaling down and stopping --------------------------------------------------------------

SCALE = [
    Case(
        "scale down stops the newest ready replica first",
        seen=[
            Seen(rep("old", S.READY, age=900), alive=True, healthy=True),
            Seen(rep("mid", S.READY, age=600), alive=True, healthy=True),
            Seen(rep("new", S.READY, age=60), alive=True, healthy=True),
        ],
        want=desired(2),
        actions=[("Save", "new", "stopping"), ("Stop", "new", "stopping")],
        after=[("old", "ready"), ("mid", "ready"), ("new", "stopping")],
    ),
    Case(
        "scale down drops failed and pending before ready ones",
        seen=[
            Seen(rep("ready", S.READY, age=60), alive=True, healthy=True),
            Seen(rep("failed", S.FAILED, age=900, failures=1, next_start_at=at(30))),
            Seen(pending("pending", age=900)),
        ],
        want=desired(1),
        actions=[
            ("Save", "failed", "stopping"),
            ("Stop", "failed", "stopping"),
            ("Remove", "pending"),
        ],
        after=[("ready", "ready"), ("failed", "stopping")],
    ),
    Case(
        "scale down prefers starting and unhealthy over ready",
        seen=[
            Seen(rep("ready", S.READY, age=10), alive=True, healthy=True),
            Seen(rep("sick", S.UNHEALTHY, age=900), alive=True, healthy=False),
            Seen(rep("boot", S.STARTING, age=5), alive=True, healthy=False),
        ],
        want=desired(1),
        actions=[
            ("Save", "boot", "stopping"),
            ("Stop", "boot", "stopping"),
            ("Save", "sick", "stopping"),
            ("Stop", "sick", "stopping"),
        ],
        after=[("ready", "ready"), ("sick", "stopping"), ("boot", "stopping")],
    ),
    Case(
        "desired 0 stops every replica",
        seen=[
            Seen(rep("a", S.READY), alive=True, healthy=True),
            Seen(rep("b", S.STARTING, age=5), alive=True, healthy=False),
            Seen(pending("c")),
        ],
        want=desired(0),
        actions=[
            ("Remove", "c"),
            ("Save", "b", "stopping"),
            ("Stop", "b", "stopping"),
            ("Save", "a", "stopping"),
            ("Stop", "a", "stopping"),
        ],
        after=[("a", "stopping"), ("b", "stopping")],
    ),
    Case(
        "stopping replicas do not count towards desired",
        seen=[Seen(rep("a", S.STOPPING), alive=True)],
        want=desired(1),
        actions=[("Create", "new", "pending"), ("Start", "new", "starting")],
        after=[("a", "stopping"), ("new", "starting")],
    ),
]


@pytest.mark.parametrize("case", LIFECYCLE + SCALE, ids=lambda c: c.id)
def test_plan(case: Case) -> None:
    p = plan(case.want, case.seen, NOW, PLENTY)
    assert summary(p, case.seen) == case.actions
    assert states(p, case.seen) == case.after


def test_fresh_deployment_takes_its_resources_from_free() -> None:
    p = plan(desired(3), [], NOW, PLENTY)
    assert p.free == PLENTY - REQUEST * 3
    assert p.unschedulable is None
    started = [a.replica for a in p.actions if isinstance(a, Start)]
    assert len({r.id for r in started}) == 3
    assert all(r.started_at == NOW and r.created_at == NOW for r in started)


# -- placement ------------------------------------------------------------------------------

SHORT = [
    pytest.param(Resources(4, 256, 0), Resources(2, 4096, 0), "cpu", id="cpu"),
    pytest.param(Resources(1, 2048, 0), Resources(8, 1024, 0), "memory", id="memory"),
    pytest.param(Resources(1, 256, 1), Resources(8, 4096, 0), "gpu", id="gpu"),
]


@pytest.mark.parametrize(("request_", "free", "resource"), SHORT)
def test_shortfall_keeps_replicas_pending_and_names_the_resource(
    request_: Resources, free: Resources, resource: str
) -> None:
    p = plan(desired(1, request_), [], NOW, free)
    assert p.unschedulable is not None
    assert p.unschedulable.startswith(f"insufficient {resource}")
    assert not [a for a in p.actions if isinstance(a, Start)]
    (r,) = p.replicas
    assert r.state == S.PENDING
    assert r.last_error == p.unschedulable
    assert p.free == free


def test_partial_fit_starts_what_fits() -> None:
    p = plan(desired(3, Resources(2, 256, 0)), [], NOW, Resources(4, 4096, 0))
    assert [r.state for r in p.replicas] == [S.STARTING, S.STARTING, S.PENDING]
    assert p.unschedulable is not None and "cpu" in p.unschedulable
    assert p.free == Resources(0, 3584, 0)


def test_still_short_pending_replica_is_not_rewritten() -> None:
    first = plan(desired(1, Resources(4, 256, 0)), [], NOW, Resources(1, 4096, 0))
    (waiting,) = first.replicas
    again = plan(desired(1, Resources(4, 256, 0)), [Seen(waiting)], at(5), Resources(1, 4096, 0))
    assert again.actions == []
    assert again.unschedulable == first.unschedulable


def test_failed_replicas_restart_without_taking_more_resources() -> None:
    # a failed replica still holds its share (the controller counts it as reserved)
    seen = [Seen(rep("a", S.FAILED, failures=1, next_start_at=NOW))]
    p = plan(desired(1, Resources(4, 256, 0)), seen, NOW, Resources())
    assert [r.state for r in p.replicas] == [S.STARTING]
    assert p.free == Resources()


# -- failures, reasons and backoff ----------------------------------------------------------


def test_crash_records_exit_code_log_tail_and_backoff() -> None:
    seen = [
        Seen(
            rep("a", S.READY, failures=0, restarts=2),
            alive=False,
            exit_code=-9,
            log_tail="loading\nKilled: out of memory\n",
        )
    ]
    p = plan(desired(1, backoff_base=1.0, backoff_max=60.0), seen, NOW, PLENTY)
    (failed,) = p.replicas
    assert failed.state == S.FAILED
    assert failed.last_error == "process exited with code -9: loading\nKilled: out of memory"
    assert failed.failures == 1
    assert failed.restarts == 2
    assert failed.next_start_at == at(1)
    (note,) = [a for a in p.actions if isinstance(a, Note)]
    assert "crashed" in note.message and "restarting in 1s" in note.message


def test_process_gone_without_code_or_log() -> None:
    p = plan(desired(1), [Seen(rep("a", S.READY), alive=False)], NOW, PLENTY)
    assert p.replicas[0].last_error == "process exited"


def test_start_timeout_reason() -> None:
    seen = [Seen(rep("a", S.STARTING, age=31), alive=True, healthy=False)]
    p = plan(desired(1, start_timeout=30.0), seen, NOW, PLENTY)
    assert p.replicas[0].last_error == "not ready after 30s"


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (5, 10.0), (50, 10.0)],
    ids=["1st", "2nd", "3rd", "capped", "capped-far"],
)
def test_consecutive_failures_back_off(failures: int, delay: float) -> None:
    seen = [Seen(rep("a", S.STARTING, age=1, failures=failures - 1), alive=False)]
    p = plan(desired(1, backoff_base=2.0, backoff_max=10.0), seen, NOW, PLENTY)
    assert p.replicas[0].failures == failures
    assert p.replicas[0].next_start_at == at(delay)


def test_restart_counts_and_clears_placement() -> None:
    seen = [Seen(rep("a", S.FAILED, failures=2, restarts=3, next_start_at=at(-1)))]
    p = plan(desired(1), seen, NOW, PLENTY)
    (r,) = p.replicas
    assert r.state == S.STARTING
    assert r.restarts == 4
    assert r.failures == 2  # reset only once it is ready
    assert (r.handle, r.address, r.next_start_at, r.started_at) == (None, None, None, NOW)


def test_ready_resets_failures() -> None:
    starting = rep("a", S.STARTING, age=5, failures=3, last_error="boom")
    p = plan(desired(1), [Seen(starting, alive=True, healthy=True)], NOW, PLENTY)
    (r,) = p.replicas
    assert (r.state, r.failures, r.last_error, r.ready_at) == (S.READY, 0, "", NOW)


@pytest.mark.parametrize(
    ("failures", "base", "cap", "delay"),
    [
        (0, 1.0, 60.0, 1.0),
        (1, 1.0, 60.0, 1.0),
        (2, 1.0, 60.0, 2.0),
        (3, 1.0, 60.0, 4.0),
        (6, 1.0, 60.0, 32.0),
        (7, 1.0, 60.0, 60.0),
        (100, 1.0, 60.0, 60.0),
        (3, 0.5, 60.0, 2.0),
        (4, 5.0, 30.0, 30.0),
    ],
    ids=lambda v: str(v),
)
def test_backoff(failures: int, base: float, cap: float, delay: float) -> None:
    assert backoff(failures, base, cap) == delay


def test_a_replica_unhealthy_for_too_long_is_stopped_and_failed() -> None:
    """A hung process keeps its port but never answers: after `unhealthy_timeout` of failing
    probes it is replaced (stopped, then restarted after its backoff), not left unhealthy."""
    want = desired(unhealthy_timeout=30)
    fresh = plan(want, [Seen(rep("a", S.READY), alive=True, healthy=False)], NOW, PLENTY)
    (sick,) = fresh.replicas
    assert (sick.state, sick.unhealthy_at) == (S.UNHEALTHY, NOW)

    early = rep("a", S.UNHEALTHY, unhealthy_at=at(-10))
    assert plan(want, [Seen(early, alive=True, healthy=False)], NOW, PLENTY).actions == []

    hung = rep("a", S.UNHEALTHY, unhealthy_at=at(-31))
    p = plan(want, [Seen(hung, alive=True, healthy=False)], NOW, PLENTY)
    (failed,) = p.replicas
    assert failed.state == S.FAILED and failed.failures == 1
    assert "health probe failing for 30s" in failed.last_error
    assert any(isinstance(a, Stop) and a.replica.id == hung.id for a in p.actions)
    assert any(isinstance(a, Note) and a.reason == "ReplicaFailed" for a in p.actions)

    well = plan(want, [Seen(early, alive=True, healthy=True)], NOW, PLENTY).replicas[0]
    assert (well.state, well.unhealthy_at) == (S.READY, None)
