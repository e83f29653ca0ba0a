"""The trigger-kept `service_counts` give the same totals as counting the services.

A filter on workspace and status only is answered from the counts; adding any other condition
(`name != …`, true of every row) makes the store count the services instead, so the two paths
can be compared on the same data after inserts, status changes, workspace changes and deletes.
"""

from __future__ import annotations

from modelport.backends.fake import FakeBackend
from modelport.domain.auth import Principal
from modelport.query.ast import And, Cond, Filter, ListQuery, Op
from modelport.services.secrets import Cipher
from modelport.services.services import DeploymentSpec, ServiceOps, ServiceSpec
from modelport.store import Store

COMMAND = ["{python}", "-m", "http.server", "{port}"]
FILTERS: list[Filter] = [
    Cond("status", Op.EQ, "running"),
    Cond("status", Op.IN, ["running", "failed"]),
    Cond("status", Op.NE, "deleting"),
    Cond("status", Op.NOT_IN, ["running"]),
    And((Cond("workspace", Op.EQ, "0"), Cond("status", Op.NE, "deleting"))),
    Cond("workspace", Op.EQ, "w2"),
]


async def totals(store: Store, who: Principal, flt: Filter | None) -> tuple[int, int]:
    everything = Cond("name", Op.NE, "no such name")
    async with store.read() as tx:
        _, counted = await tx.services.list(who.project_id, ListQuery(filter=flt, limit=0))
        full = And((flt, everything)) if flt is not None else everything
        _, scanned = await tx.services.list(who.project_id, ListQuery(filter=full, limit=0))
    return counted, scanned


async def test_counts_follow_every_change(store: Store, principal: Principal) -> None:
    ops = ServiceOps(store, Cipher(Cipher.new_key()), FakeBackend(), lambda: None)
    made = []
    for i in range(6):
        spec = ServiceSpec(
            name=f"s{i}",
            workspace="0" if i % 2 else "w2",
            deployments=[DeploymentSpec(runtime="command", command=COMMAND, replicas=0)],
        )
        made.append(await ops.create(principal, spec))
    async with store.write() as tx:
        await tx.services.set_status(made[0].id, status="running")
        await tx.services.set_status(made[1].id, status="running")
        await tx.services.set_status(made[2].id, status="failed")
        await tx.services.set_status(made[2].id, status="failed")  # no change: no count change
    await ops.delete(principal, made[3].id)  # status → deleting
    async with store.write() as tx:
        await tx.services.delete(made[4].id)
    for flt in [None, *FILTERS]:
        counted, scanned = await totals(store, principal, flt)
        assert counted == scanned, flt
    assert (await totals(store, principal, Cond("status", Op.EQ, "running")))[0] == 2
