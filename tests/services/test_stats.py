"""Request stats of a service (`ServiceOps.stats`, `services/stats.py`): the window's rows
summed per service, deployment and minute, on a real store and a clock the test sets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from modelport.backends.fake import FakeBackend
from modelport.domain.auth import Principal
from modelport.domain.errors import Invalid, NotFound
from modelport.domain.ids import ProjectId
from modelport.domain.services import Service
from modelport.domain.stats import MinuteStats
from modelport.services.secrets import Cipher
from modelport.services.services import DeploymentSpec, ServiceOps, ServiceSpec
from modelport.services.stats import summarize
from modelport.store import Store

NOW = datetime(2026, 1, 1, 12, 30, 40, tzinfo=UTC)
MINUTE = int(NOW.timestamp()) // 60  # 12:30
COMMAND = ["{python}", "-m", "http.server", "$PORT"]


@pytest.fixture
def ops(store: Store, cipher: Cipher) -> ServiceOps:
    return ServiceOps(store, cipher, FakeBackend(), wake=lambda: None, clock=lambda: NOW)


@pytest.fixture
async def svc(ops: ServiceOps, principal: Principal) -> Service:
    deployment = DeploymentSpec(runtime="command", command=COMMAND, replicas=0)
    return await ops.create(principal, ServiceSpec("echo", [deployment, deployment]))


def row(
    svc: Service, dep: int | str, minute: int, latencies: list[float], failures: int = 0
) -> MinuteStats:
    dep_id = svc.deployments[dep].id if isinstance(dep, int) else dep
    out = MinuteStats(svc.id, dep_id, minute)
    for i, ms in enumerate(latencies):
        out.add(i < failures, ms)
    return out


async def record(store: Store, *rows: MinuteStats) -> None:
    async with store.write() as tx:
        await tx.traffic.record(rows)


async def test_stats_sum_the_window(
    ops: ServiceOps, principal: Principal, store: Store, svc: Service
) -> None:
    a, b = (d.id for d in svc.deployments)
    await record(
        store,
        row(svc, 0, MINUTE, [4.0] * 6, failures=1),  # bucket (3, 5]
        row(svc, 0, MINUTE, [4.0] * 4),  # another gateway's row of the same minute
        row(svc, 1, MINUTE - 2, [40.0] * 10, failures=3),  # bucket (25, 50]
        row(svc, 1, MINUTE - 5, [1.0] * 7),  # before the window
        row(svc, 1, MINUTE + 1, [1.0] * 7),  # after it (a gateway whose clock is ahead)
    )
    stats = await ops.stats(principal, svc.id)
    assert (stats.service_id, stats.window_seconds) == (svc.id, 300)
    assert (stats.requests, stats.failures) == (20, 4)
    assert stats.requests_per_second == pytest.approx(20 / 300)
    assert stats.p50_ms == pytest.approx(5.0)  # the top of the faster bucket
    assert stats.p99_ms == pytest.approx(25 + 25 * 9.8 / 10)

    by_id = {d.deployment_id: d for d in stats.deployments}
    assert [d.deployment_id for d in stats.deployments] == [a, b]
    assert (by_id[a].requests, by_id[a].failures) == (10, 1)
    assert (by_id[b].requests, by_id[b].failures) == (10, 3)
    assert by_id[a].requests_per_second == pytest.approx(10 / 300)
    assert [by_id[a].p50_ms, by_id[a].p99_ms] == pytest.approx([4.0, 4.98])
    assert [by_id[b].p50_ms, by_id[b].p99_ms] == pytest.approx([37.5, 49.75])

    start = datetime(2026, 1, 1, 12, 26, tzinfo=UTC)
    assert [m.minute for m in stats.minutes] == [start + timedelta(minutes=i) for i in range(5)]
    assert [(m.requests, m.failures) for m in stats.minutes] == [
        (0, 0), (0, 0), (10, 3), (0, 0), (10, 1),
    ]  # fmt: skip
    assert stats.minutes[0].p50_ms is None and stats.minutes[0].p99_ms is None
    assert stats.minutes[2].p50_ms == pytest.approx(37.5)

    hour = await ops.stats(principal, svc.id, minutes=60)
    assert (hour.window_seconds, hour.requests, len(hour.minutes)) == (3600, 27, 60)
    assert hour.requests_per_second == pytest.approx(27 / 3600)
    current = await ops.stats(principal, svc.id, minutes=1)
    assert (current.requests, [m.requests for m in current.minutes]) == (10, [10])


async def test_no_requests_are_zeros_and_null_quantiles(
    ops: ServiceOps, principal: Principal, svc: Service
) -> None:
    stats = await ops.stats(principal, svc.id, minutes=3)
    assert (stats.requests, stats.failures, stats.requests_per_second) == (0, 0, 0.0)
    assert (stats.p50_ms, stats.p99_ms) == (None, None)
    assert [(d.requests, d.p50_ms, d.p99_ms) for d in stats.deployments] == [(0, None, None)] * 2
    assert len(stats.minutes) == 3


@pytest.mark.parametrize("minutes", [0, -1, 61])
async def test_minutes_out_of_range_name_the_field(
    ops: ServiceOps, principal: Principal, svc: Service, minutes: int
) -> None:
    with pytest.raises(Invalid) as err:
        await ops.stats(principal, svc.id, minutes)
    assert err.value.field == "minutes"


async def test_another_projects_service_is_not_found(
    ops: ServiceOps, principal: Principal, svc: Service
) -> None:
    stranger = replace(principal, project_id=ProjectId("prj-other"))
    with pytest.raises(NotFound):
        await ops.stats(stranger, svc.id)
    with pytest.raises(NotFound):
        await ops.stats(principal, "svc-nope")


async def test_a_removed_deployment_shows_after_the_current_ones(svc: Service) -> None:
    rows = [row(svc, "dep-gone", MINUTE, [1.0]), row(svc, 1, MINUTE, [2.0, 2.0])]
    stats = summarize(svc, rows, MINUTE, MINUTE)
    ids = [d.deployment_id for d in stats.deployments]
    assert ids == [svc.deployments[0].id, svc.deployments[1].id, "dep-gone"]
    assert [d.requests for d in stats.deployments] == [0, 2, 1]
    assert stats.requests == 3
