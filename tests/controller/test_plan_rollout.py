"""Rolling updates in `plan()`: old replicas (another `template`) replaced within `max_surge`
and `max_unavailable`, replicas recorded before templates adopted, and no change at all when no
replica is old.

Passes are simulated by feeding a plan's replicas back in as the next pass's `Seen`, with their
states advanced by hand (`advance`): what started is ready, what was stopped is gone.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from tests.controller.test_plan import LIFECYCLE, NOW, PLENTY, REQUEST, SCALE, Case, at, rep
from tests.controller.test_plan import pending as pending_rep
from tests.controller.test_plan import states as named_states
from tests.controller.test_plan import summary as named_summary

from modelport.controller.plan import Create, Desired, Note, Plan, Seen, Start, plan
from modelport.domain.ids import DeploymentId
from modelport.domain.replicas import Replica, ReplicaState
from modelport.domain.resources import Resources

S = ReplicaState


def want(replicas: int = 2, template: str = "b", surge: int = 1, unavailable: int = 0) -> Desired:
    return Desired(
        deployment_id=DeploymentId("dep-1"),
        replicas=replicas,
        resources=REQUEST,
        backend="fake",
        template=template,
        max_surge=surge,
        max_unavailable=unavailable,
    )


def ready(name: str, template: str = "a", age: float = 600) -> Seen:
    return Seen(rep(name, S.READY, age=age, template=template), alive=True, healthy=True)


def advance(p: Plan, *, healthy: bool = True) -> list[Seen]:
    """The next pass's view of `p.replicas`: started ones placed and (if `healthy`) ready,
    stopping ones gone."""
    out: list[Seen] = []
    for r in p.replicas:
        if r.state == S.STOPPING:
            out.append(Seen(r, alive=False, exit_code=-15))
        elif r.state == S.STARTING:
            placed = replace(r, handle=f"fake:{r.id}", address="127.0.0.1:1")
            out.append(Seen(placed, alive=True, healthy=healthy))
        elif r.state in (S.READY, S.UNHEALTHY):
            out.append(Seen(r, alive=True, healthy=True))
        else:
            out.append(Seen(r))
    return out


def summary(p: Plan, before: list[Seen]) -> list[tuple[str, ...]]:
    """Like `test_plan.summary`, but every replica made by an earlier pass is named `new`."""
    return named_summary(p, [s for s in before if s.replica.template != "b"])


def tally(replicas: list[Replica], template: str = "b") -> dict[str, int]:
    """Replicas by `<old|new>-<state>`."""
    out: dict[str, int] = {}
    for r in replicas:
        key = f"{'new' if r.template == template else 'old'}-{r.state.value}"
        out[key] = out.get(key, 0) + 1
    return out


def _active(p: Plan) -> list[Replica]:
    return [r for r in p.replicas if r.state not in (S.STOPPING, S.STOPPED)]


def n_ready(p: Plan) -> int:
    return sum(r.state == S.READY for r in p.replicas)


def n_active(p: Plan) -> int:
    return len(_active(p))


# -- step by step ----------------------------------------------------------------------------


def test_surge_one_replaces_one_replica_at_a_time() -> None:
    d = want(replicas=2, surge=1, unavailable=0)
    seen = [ready("x", age=900), ready("y", age=600)]

    # 1: one new replica on top of the two old ones, none stopped
    p = plan(d, seen, NOW, PLENTY)
    assert summary(p, seen) == [("Create", "new", "pending"), ("Start", "new", "starting")]
    assert tally(p.replicas) == {"old-ready": 2, "new-starting": 1}
    assert (p.updated, p.outdated) == (1, 2)

    # 2: the new one is not ready yet: wait
    seen = advance(p, healthy=False)
    p = plan(d, seen, at(10), PLENTY)
    assert summary(p, seen) == []

    # 3: the new one is ready: the oldest old one goes, a second new one comes
    seen = advance(p)
    p = plan(d, seen, at(20), PLENTY)
    assert summary(p, seen) == [
        ("Save", "new", "ready"),
        ("Save", "x", "stopping"),
        ("Stop", "x", "stopping"),
        ("Note", "x", "Replaced"),
        ("Create", "new", "pending"),
        ("Start", "new", "starting"),
    ]
    assert tally(p.replicas) == {
        "old-stopping": 1,
        "old-ready": 1,
        "new-ready": 1,
        "new-starting": 1,
    }
    assert (p.updated, p.outdated) == (2, 1)

    # 4: the second new one is ready: the last old one goes, nothing more to create
    seen = advance(p)
    p = plan(d, seen, at(30), PLENTY)
    assert summary(p, seen) == [
        ("Remove", "x"),
        ("Save", "new", "ready"),
        ("Save", "y", "stopping"),
        ("Stop", "y", "stopping"),
        ("Note", "y", "Replaced"),
    ]
    assert tally(p.replicas) == {"new-ready": 2, "old-stopping": 1}
    assert (p.updated, p.outdated) == (2, 0)

    # 5: done; 6: at rest
    seen = advance(p)
    p = plan(d, seen, at(40), PLENTY)
    assert summary(p, seen) == [("Remove", "y")]
    assert tally(p.replicas) == {"new-ready": 2}
    assert plan(d, advance(p), at(50), PLENTY).actions == []


def test_surge_one_keeps_availability_and_bounds_at_every_pass() -> None:
    d = want(replicas=2, surge=1, unavailable=0)
    seen = [ready("x"), ready("y")]
    for i in range(10):
        p = plan(d, seen, at(10 * i), PLENTY)
        assert n_ready(p) >= 2
        assert n_active(p) <= 3
        seen = advance(p)
    assert tally(p.replicas) == {"new-ready": 2}


def test_no_surge_stops_first_then_creates() -> None:
    d = want(replicas=2, surge=0, unavailable=1)
    seen = [ready("x", age=900), ready("y", age=600)]

    p = plan(d, seen, NOW, PLENTY)
    assert summary(p, seen) == [
        ("Save", "x", "stopping"),
        ("Stop", "x", "stopping"),
        ("Note", "x", "Replaced"),
        ("Create", "new", "pending"),
        ("Start", "new", "starting"),
    ]
    assert tally(p.replicas) == {"old-stopping": 1, "old-ready": 1, "new-starting": 1}

    seen = advance(p, healthy=False)  # not ready yet: y must stay
    p = plan(d, seen, at(10), PLENTY)
    assert summary(p, seen) == [("Remove", "x")]

    seen = advance(p)
    p = plan(d, seen, at(20), PLENTY)
    assert summary(p, seen) == [
        ("Save", "new", "ready"),
        ("Save", "y", "stopping"),
        ("Stop", "y", "stopping"),
        ("Note", "y", "Replaced"),
        ("Create", "new", "pending"),
        ("Start", "new", "starting"),
    ]


def test_surge_and_unavailable_both_zero_read_as_one_unavailable() -> None:
    seen = [ready("x", age=900), ready("y", age=600)]
    p = plan(want(replicas=2, surge=0, unavailable=0), seen, NOW, PLENTY)
    assert tally(p.replicas) == {"old-stopping": 1, "old-ready": 1, "new-starting": 1}


def test_unavailable_above_replicas_replaces_everything_at_once() -> None:
    seen = [ready("x"), ready("y")]
    p = plan(want(replicas=2, surge=1, unavailable=5), seen, NOW, PLENTY)
    assert tally(p.replicas) == {"old-stopping": 2, "new-starting": 2}


# -- old replicas that serve nothing ---------------------------------------------------------


def test_old_failed_replica_is_stopped_not_restarted() -> None:
    seen = [
        ready("x"),
        Seen(rep("y", S.FAILED, template="a", failures=1, next_start_at=at(-1))),
        Seen(rep("z", S.FAILED, template="a", handle=None, failures=1, next_start_at=at(-1))),
    ]
    p = plan(want(replicas=3, surge=1, unavailable=0), seen, NOW, PLENTY)
    assert summary(p, seen) == [
        ("Save", "y", "stopping"),
        ("Stop", "y", "stopping"),
        ("Note", "y", "Replaced"),
        ("Remove", "z"),
        ("Note", "z", "Replaced"),
        ("Create", "new", "pending"),
        ("Create", "new", "pending"),
        ("Create", "new", "pending"),
        ("Start", "new", "starting"),
        ("Start", "new", "starting"),
        ("Start", "new", "starting"),
    ]
    assert not [n for n in p.actions if isinstance(n, Note) and n.reason == "ReplicaRestarted"]
    assert tally(p.replicas) == {"old-ready": 1, "old-stopping": 1, "new-starting": 3}


@pytest.mark.parametrize(
    "old",
    [
        pytest.param(Seen(pending_rep("y", age=5)), id="pending"),
        pytest.param(Seen(rep("y", S.STARTING, age=5), alive=True, healthy=False), id="starting"),
        pytest.param(Seen(rep("y", S.UNHEALTHY), alive=True, healthy=False), id="unhealthy"),
        pytest.param(Seen(rep("y", S.READY), alive=False, exit_code=1), id="crashed"),
    ],
)
def test_old_replica_that_is_not_ready_is_stopped_at_once(old: Seen) -> None:
    old = replace(old, replica=replace(old.replica, template="a"))
    p = plan(want(replicas=2, surge=1, unavailable=0), [ready("x"), old], NOW, PLENTY)
    assert all(r.state == S.STOPPING for r in p.replicas if r.id == old.replica.id)
    assert ("Note", "y", "Replaced") in summary(p, [ready("x"), old])
    assert not [a for a in p.actions if isinstance(a, Start) and a.replica.id == old.replica.id]
    assert tally(_active(p)) == {"old-ready": 1, "new-starting": 2}
    assert (p.updated, p.outdated) == (2, 1)


def test_scale_down_during_rollout_stops_old_and_surplus_new() -> None:
    seen = [ready("x"), ready("p", "b", age=60), ready("q", "b", age=30)]
    p = plan(want(replicas=1, surge=1, unavailable=0), seen, NOW, PLENTY)
    assert summary(p, seen) == [
        ("Save", "x", "stopping"),
        ("Stop", "x", "stopping"),
        ("Note", "x", "Replaced"),
        ("Save", "new", "stopping"),  # q, the newest ready new one
        ("Stop", "new", "stopping"),
    ]
    assert [(r.id, r.state) for r in p.replicas if r.state == S.READY] == [("rep-p", S.READY)]


def test_old_replicas_beyond_surge_are_stopped_oldest_first() -> None:
    seen = [ready("x", age=300), ready("y", age=900), ready("z", age=600)]
    p = plan(want(replicas=1, surge=1, unavailable=0), seen, NOW, PLENTY)
    assert [r.id for r in p.replicas if r.state == S.STOPPING] == ["rep-y", "rep-z"]
    assert tally(p.replicas) == {"old-stopping": 2, "old-ready": 1, "new-starting": 1}


# -- stopping, adoption, no rollout ----------------------------------------------------------


def test_desired_zero_stops_old_and_new_alike() -> None:
    seen = [ready("x"), ready("p", "b")]
    p = plan(want(replicas=0), seen, NOW, PLENTY)
    assert tally(p.replicas) == {"old-stopping": 1, "new-stopping": 1}
    assert not [a for a in p.actions if isinstance(a, Create | Note)]
    assert (p.updated, p.outdated) == (0, 0)


def test_replica_without_template_is_adopted() -> None:
    seen = [ready("x", template="")]
    p = plan(want(replicas=1), seen, NOW, PLENTY)
    assert named_summary(p, seen) == [("Save", "x", "ready")]
    assert [r.template for r in p.replicas] == ["b"]
    assert (p.updated, p.outdated) == (1, 0)
    assert plan(want(replicas=1), advance(p), at(10), PLENTY).actions == []


def test_adopted_replica_still_moves_along_its_lifecycle() -> None:
    seen = [Seen(rep("x", S.STARTING, age=5), alive=True, healthy=True)]
    p = plan(want(replicas=1), seen, NOW, PLENTY)
    assert named_summary(p, seen) == [("Save", "x", "starting"), ("Save", "x", "ready")]
    assert [(r.state, r.template) for r in p.replicas] == [(S.READY, "b")]


def test_stopping_replica_without_template_is_not_adopted() -> None:
    seen = [Seen(rep("x", S.STOPPING), alive=True)]
    p = plan(want(replicas=1), seen, NOW, PLENTY)
    assert named_summary(p, seen) == [("Create", "new", "pending"), ("Start", "new", "starting")]


def test_without_a_desired_template_nothing_is_old() -> None:
    seen = [ready("x", template="a"), ready("y", template="")]
    p = plan(want(replicas=2, template=""), seen, NOW, PLENTY)
    assert p.actions == []
    assert (p.updated, p.outdated) == (2, 0)


def test_created_replicas_carry_the_template() -> None:
    p = plan(want(replicas=2, template="b"), [], NOW, PLENTY)
    assert [a.replica.template for a in p.actions if isinstance(a, Create)] == ["b", "b"]
    assert [r.template for r in p.replicas] == ["b", "b"]


def _on_template(case: Case, template: str) -> tuple[Desired, list[Seen]]:
    seen = [replace(s, replica=replace(s.replica, template=template)) for s in case.seen]
    return replace(case.want, template=template), seen


@pytest.mark.parametrize("case", LIFECYCLE + SCALE, ids=lambda c: c.id)
def test_without_old_replicas_the_plan_is_unchanged(case: Case) -> None:
    d, seen = _on_template(case, "b")
    p = plan(d, seen, NOW, PLENTY)
    assert named_summary(p, seen) == case.actions
    assert named_states(p, seen) == case.after
    assert p.outdated == 0
    assert p.updated == sum(state not in ("stopping", "stopped") for _, state in case.after)


# -- every combination -----------------------------------------------------------------------

COMBINATIONS = [
    pytest.param(n, s, u, id=f"N{n}-S{s}-U{u}")
    for n, s, u in itertools.product(range(1, 6), range(3), range(3))
    if s + u >= 1
]


@pytest.mark.parametrize(("n", "surge", "unavailable"), COMBINATIONS)
def test_rollout_completes_within_bounds(n: int, surge: int, unavailable: int) -> None:
    """Every started replica is ready the pass after; every stopped one is gone."""
    d = want(replicas=n, surge=surge, unavailable=unavailable)
    seen = [ready(f"o{i}", age=900 - i) for i in range(n)]
    replaced: list[str] = []
    passes = 0
    while tally([s.replica for s in seen]) != {"new-ready": n}:
        passes += 1
        assert passes <= 2 * n + 2, "rollout did not finish"
        p = plan(d, seen, at(10 * passes), Resources(64, 1 << 20, 0))
        assert n_ready(p) >= max(n - unavailable, 0)
        assert n_active(p) <= n + surge
        assert p.updated + p.outdated == n_active(p)
        assert not [a for a in p.actions if isinstance(a, Start) and a.replica.template != "b"]
        replaced += [a.object_id for a in p.actions if isinstance(a, Note)]
        seen = advance(p)
    assert sorted(replaced) == [f"rep-o{i}" for i in range(n)]
    assert plan(d, seen, at(10 * passes + 10), PLENTY).actions == []
