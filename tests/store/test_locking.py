"""Writers of one service at once, on a real store (SQLite, and PostgreSQL when
`MODELPORT_TEST_DATABASE_URL` is set): user changes (which lock the service's row, then write
its deployments) and the gateway's count flushes (which add to both) never deadlock, and
changes without a revision never refuse one another."""

from __future__ import annotations

import asyncio
import time

from tests.store.test_store import ops, spec  # noqa: F401 - a fixture

from modelport.domain.auth import Principal
from modelport.domain.stats import MinuteStats
from modelport.services.services import ServiceOps, ServicePatch
from modelport.store import Store

ROUNDS = 40


async def _flush(store: Store, batch: list[MinuteStats]) -> None:
    async with store.write() as tx:
        await tx.traffic.record(batch)


async def test_changes_and_count_flushes_of_one_service_never_deadlock(
    store: Store,
    ops: ServiceOps,  # noqa: F811 - the imported fixture
    principal: Principal,
) -> None:
    svc = await ops.create(principal, spec("busy", deployments=3))
    minute = int(time.time()) // 60
    # deployments in reverse id order: a flush that followed the batch would take them so
    batch = [
        MinuteStats(svc.id, d.id, minute, requests=2, failures=1)
        for d in sorted(svc.deployments, key=lambda d: d.id, reverse=True)
    ]
    for i in range(ROUNDS):
        await asyncio.gather(
            ops.update(principal, svc.id, ServicePatch(description=f"round {i}")),
            _flush(store, batch),
            ops.update(principal, svc.id, ServicePatch(tags={"round": str(i)})),
            _flush(store, batch[::-1]),
        )
    now = await ops.get(principal, svc.id)
    assert now.revision == svc.revision + 2 * ROUNDS  # no change refused
    assert now.invocation_count == ROUNDS * 2 * 2 * len(batch)
    assert now.failure_count == ROUNDS * 2 * len(batch)
    assert all(d.invocation_count == ROUNDS * 2 * 2 for d in now.deployments)
