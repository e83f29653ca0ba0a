"""What the gateway writes: invocation counts and per-minute request stats, in batches; and the
routing generation that tells separate gateways the routing snapshot changed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelport.domain.stats import MinuteStats
from modelport.store import tables as t


class TrafficRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def record(self, batch: Sequence[MinuteStats]) -> None:
        """Add a flush's counts to services and deployments, and keep its minute rows.

        Rows are updated in the order every writer takes them: services before deployments
        (a service change locks its row, then writes its deployments), each kind by id (two
        gateways flushing at once). Out of order, a flush and a change of the same service
        could each hold a row the other waits for: a deadlock PostgreSQL breaks by failing
        one of them."""
        per_service: dict[str, list[int]] = {}
        per_deployment: dict[str, list[int]] = {}
        for row in batch:
            for counts in (
                per_service.setdefault(row.service_id, [0, 0]),
                per_deployment.setdefault(row.deployment_id, [0, 0]),
            ):
                counts[0] += row.requests
                counts[1] += row.failures
        for service_id, (requests, failures) in sorted(per_service.items()):
            await self.s.execute(
                update(t.ServiceRow)
                .where(t.ServiceRow.id == service_id)
                .values(
                    invocation_count=t.ServiceRow.invocation_count + requests,
                    failure_count=t.ServiceRow.failure_count + failures,
                )
            )
        for deployment_id, (requests, failures) in sorted(per_deployment.items()):
            await self.s.execute(
                update(t.DeploymentRow)
                .where(t.DeploymentRow.id == deployment_id)
                .values(
                    invocation_count=t.DeploymentRow.invocation_count + requests,
                    failure_count=t.DeploymentRow.failure_count + failures,
                )
            )
        self.s.add_all(
            t.RequestStatsRow(
                service_id=row.service_id,
                deployment_id=row.deployment_id,
                minute=row.minute,
                requests=row.requests,
                failures=row.failures,
                buckets=list(row.buckets),
            )
            for row in batch
        )
        await self.s.flush()

    async def prune(self, before_minute: int) -> None:
        await self.s.execute(
            delete(t.RequestStatsRow).where(t.RequestStatsRow.minute < before_minute)
        )

    async def window(self, service_id: str, since_minute: int) -> list[MinuteStats]:
        """The service's stats rows from `since_minute` on."""
        rows = await self.s.scalars(
            select(t.RequestStatsRow).where(
                t.RequestStatsRow.service_id == service_id,
                t.RequestStatsRow.minute >= since_minute,
            )
        )
        return [
            MinuteStats(r.service_id, r.deployment_id, r.minute, r.requests, r.failures, r.buckets)
            for r in rows
        ]

    async def generation(self) -> int:
        return (await self.s.scalar(select(t.RoutingStateRow.generation))) or 0

    async def bump_generation(self) -> None:
        await self.s.execute(
            update(t.RoutingStateRow).values(generation=t.RoutingStateRow.generation + 1)
        )
