"""The replica lifecycle: the one table of allowed transitions, pinned edge by edge.

pending → starting → ready ⇄ unhealthy → stopping → stopped
any → failed;  failed → pending (restarted after a backoff)
"""

from __future__ import annotations

import itertools

import pytest

from modelport.domain.errors import Conflict
from modelport.domain.ids import DeploymentId, ReplicaId
from modelport.domain.replicas import ALLOWED, Replica, ReplicaState, check_transition

S = ReplicaState

# Written out by hand from DESIGN.md, so a change to `ALLOWED` has to change this too.
EXPECTED = {
    (S.PENDING, S.STARTING),
    (S.PENDING, S.STOPPING),
    (S.PENDING, S.STOPPED),  # never placed: dropped without a process to stop
    (S.PENDING, S.FAILED),
    (S.STARTING, S.READY),
    (S.STARTING, S.STOPPING),
    (S.STARTING, S.FAILED),
    (S.READY, S.UNHEALTHY),
    (S.READY, S.STOPPING),
    (S.READY, S.FAILED),
    (S.UNHEALTHY, S.READY),
    (S.UNHEALTHY, S.STOPPING),
    (S.UNHEALTHY, S.FAILED),
    (S.STOPPING, S.STOPPED),
    (S.STOPPING, S.FAILED),
    (S.FAILED, S.PENDING),  # restart after the backoff
    (S.FAILED, S.STOPPING),
    (S.FAILED, S.STOPPED),
}

FORBIDDEN = [
    (S.PENDING, S.READY),  # never ready without starting
    (S.PENDING, S.UNHEALTHY),
    (S.STARTING, S.PENDING),
    (S.STARTING, S.UNHEALTHY),
    (S.STARTING, S.STOPPED),  # a live process is stopped first
    (S.READY, S.PENDING),
    (S.READY, S.STARTING),
    (S.READY, S.STOPPED),
    (S.UNHEALTHY, S.STARTING),
    (S.STOPPING, S.READY),
    (S.STOPPING, S.STARTING),
    (S.STOPPING, S.PENDING),
    (S.STOPPED, S.PENDING),  # stopped is terminal
    (S.STOPPED, S.STARTING),
    (S.STOPPED, S.FAILED),
    (S.FAILED, S.STARTING),  # a restart goes through pending
    (S.FAILED, S.READY),
]


def replica(state: ReplicaState) -> Replica:
    return Replica(ReplicaId("rep-1"), DeploymentId("dep-1"), "fake", state)


def edge_id(edge: tuple[ReplicaState, ReplicaState]) -> str:
    return f"{edge[0]}->{edge[1]}"


def test_table_is_exactly_the_lifecycle() -> None:
    assert set(ALLOWED) == set(ReplicaState)
    table = {(old, new) for old, targets in ALLOWED.items() for new in targets}
    assert table == EXPECTED


@pytest.mark.parametrize("edge", sorted(EXPECTED), ids=edge_id)
def test_allowed(edge: tuple[ReplicaState, ReplicaState]) -> None:
    old, new = edge
    moved = replica(old).to(new, last_error="why")
    assert moved.state == new
    assert moved.last_error == "why"
    assert moved.id == "rep-1"


@pytest.mark.parametrize("edge", FORBIDDEN, ids=edge_id)
def test_forbidden(edge: tuple[ReplicaState, ReplicaState]) -> None:
    old, new = edge
    with pytest.raises(Conflict, match=f"from {old} to {new}"):
        replica(old).to(new)


def test_every_pair_outside_the_table_is_forbidden() -> None:
    for old, new in itertools.product(ReplicaState, ReplicaState):
        if old == new or (old, new) in EXPECTED:
            continue
        with pytest.raises(Conflict):
            check_transition(old, new)


@pytest.mark.parametrize("state", list(ReplicaState), ids=str)
def test_staying_in_a_state_is_allowed(state: ReplicaState) -> None:
    assert replica(state).to(state, restarts=2).restarts == 2


def test_stopped_is_terminal() -> None:
    assert ALLOWED[S.STOPPED] == frozenset()


def test_to_returns_a_new_replica() -> None:
    before = replica(S.PENDING)
    after = before.to(S.STARTING)
    assert before.state == S.PENDING
    assert after is not before
