"""Replica records: written by the controller only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelport.domain.replicas import Replica
from modelport.store import mapping
from modelport.store import tables as t


class ReplicasRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, r: Replica) -> None:
        self.s.add(
            t.ReplicaRow(
                id=r.id,
                deployment_id=r.deployment_id,
                created_at=r.created_at or datetime.now(UTC),
                **mapping.replica_values(r),
            )
        )
        await self.s.flush()

    async def save(self, r: Replica) -> None:
        await self.s.execute(
            update(t.ReplicaRow).where(t.ReplicaRow.id == r.id).values(**mapping.replica_values(r))
        )

    async def delete(self, replica_id: str) -> None:
        await self.s.execute(delete(t.ReplicaRow).where(t.ReplicaRow.id == replica_id))

    async def all(self) -> Sequence[Replica]:
        rows = await self.s.execute(select(t.ReplicaRow).order_by(t.ReplicaRow.created_at))
        return [mapping.replica(r) for r in rows.scalars()]

    async def for_service(self, service_id: str) -> Sequence[Replica]:
        stmt = (
            select(t.ReplicaRow)
            .join(t.DeploymentRow, t.DeploymentRow.id == t.ReplicaRow.deployment_id)
            .where(t.DeploymentRow.service_id == service_id)
            .order_by(t.ReplicaRow.created_at, t.ReplicaRow.id)
        )
        return [mapping.replica(r) for r in (await self.s.execute(stmt)).scalars()]
