"""Adoption after a restart: runs once, before the first reconcile pass.

The backend lists every replica process of this installation still alive (`discover()`).
A process whose replica record still exists is adopted (its handle and address refreshed,
so a record written before its process started is completed); any other process is an
orphan and is stopped, and so is the process of a record already `stopping` (its stop was
in flight in the previous controller and died with it). Records whose process is gone are
left to the next pass, which sees them dead and restarts them — so after recovery there are
never more replicas than desired (the pass stops any surplus) and no process without a
record.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from modelport.backends.base import Backend
from modelport.domain.replicas import ReplicaState
from modelport.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recovered:
    adopted: int
    orphans_stopped: int


async def recover(store: Store, backend: Backend, grace_period: float = 5.0) -> Recovered:
    found = await backend.discover()
    async with store.write() as tx:
        records = {r.id: r for r in await tx.replicas.all()}
        adopted = 0
        orphans = []
        unstopped = []
        for d in found:
            r = records.get(d.replica_id)
            if r is None or r.state in (ReplicaState.STOPPED,):
                orphans.append(d)
                continue
            fixed = replace(r, handle=d.handle, address=d.address, node=d.node)
            if r.state in (ReplicaState.PENDING, ReplicaState.FAILED):
                fixed = replace(fixed, state=ReplicaState.STARTING)
            await tx.replicas.save(fixed)
            adopted += 1
            if r.state == ReplicaState.STOPPING:
                # its stop was in flight in the previous process and died with it; no pass
                # stops a `stopping` replica again, so stop it now (the next pass removes it)
                unstopped.append(d)
    await asyncio.gather(*(backend.stop(o.handle, grace_period) for o in orphans + unstopped))
    if adopted or orphans:
        log.info("recovery: adopted %d replicas, stopped %d orphans", adopted, len(orphans))
    return Recovered(adopted, len(orphans))
