"""The balancer: weights across deployments, and each load-balancing policy within one."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from modelport.domain.errors import Unavailable
from modelport.domain.services import LbPolicy
from modelport.gateway.balancer import Balancer
from modelport.gateway.routing import Route, Target

A = ("10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:3")
B = ("10.0.0.2:1",)


def route(policy: LbPolicy, *targets: Target) -> Route:
    return Route("svc-1", "prj-1", False, "", policy, targets)


def test_round_robin_takes_each_replica_in_turn() -> None:
    b = Balancer()
    r = route(LbPolicy.ROUND_ROBIN, Target("dep-a", 100, A))
    assert [b.pick(r).address for _ in range(6)] == [*A, *A]


def test_weights_split_the_traffic() -> None:
    b = Balancer(random.Random(3))
    r = route(LbPolicy.ROUND_ROBIN, Target("dep-a", 90, A), Target("dep-b", 10, B))
    hits = Counter(b.pick(r).address in B for _ in range(5000))
    assert 0.08 < hits[True] / 5000 < 0.12


def test_a_deployment_without_ready_replicas_gets_nothing() -> None:
    b = Balancer()
    r = route(LbPolicy.ROUND_ROBIN, Target("dep-a", 10, A), Target("dep-b", 90, ()))
    assert all(b.pick(r).address in A for _ in range(50))
    with pytest.raises(Unavailable):
        b.pick(route(LbPolicy.ROUND_ROBIN, Target("dep-a", 100, ())))


def test_least_connections_prefers_the_idlest_replica() -> None:
    b = Balancer()
    r = route(LbPolicy.LEAST_CONNECTIONS, Target("dep-a", 100, A))
    b.started(A[0])
    b.started(A[0])
    b.started(A[1])
    assert [b.pick(r).address for _ in range(3)] == [A[2]] * 3
    b.started(A[2])
    b.started(A[2])
    assert b.pick(r).address == A[1]
    b.finished(A[0])
    b.finished(A[0])
    assert b.pick(r).address == A[0]
    assert b.in_flight == {A[1]: 1, A[2]: 2}


def test_source_ip_is_sticky_and_spreads_clients() -> None:
    b = Balancer()
    r = route(LbPolicy.SOURCE_IP, Target("dep-a", 50, A), Target("dep-b", 50, B))
    for client in ("127.0.0.1", "10.1.2.3", "192.168.0.7"):
        first = b.pick(r, client).address
        assert all(b.pick(r, client).address == first for _ in range(20))
    spread = Counter(b.pick(r, f"10.0.{i // 256}.{i % 256}").address for i in range(2000))
    assert set(spread) == {*A, *B}
    assert 0.4 < spread[B[0]] / 2000 < 0.6
