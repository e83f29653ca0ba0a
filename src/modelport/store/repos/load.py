"""The gateways' load reports (`LoadSampleRow`) and what the autoscaler reads of them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelport.domain.stats import DeploymentLoad, LoadReport
from modelport.store import tables as t

HEARTBEAT = ""  # the deployment id of a gateway's "I was there" row


class LoadRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def record(self, gateway: str, at: float, report: LoadReport) -> None:
        rows = [
            t.LoadSampleRow(
                gateway=gateway,
                deployment_id=HEARTBEAT,
                at=at,
                span=report.span,
                in_flight=0.0,
                held=0,
            )
        ]
        for dep_id, (in_flight, held) in report.deployments.items():
            rows.append(
                t.LoadSampleRow(
                    gateway=gateway,
                    deployment_id=dep_id,
                    at=at,
                    span=report.span,
                    in_flight=in_flight,
                    held=held,
                )
            )
        self.s.add_all(rows)
        await self.s.flush()

    async def since(self, at: float) -> Mapping[str, DeploymentLoad] | None:
        """Each deployment's load over the rows written after `at`: the mean requests in flight
        of every gateway added up, and the most calls held. None when no gateway reported
        (no evidence: the autoscaler then keeps the counts as they are)."""
        rows = (
            await self.s.execute(
                select(
                    t.LoadSampleRow.gateway,
                    t.LoadSampleRow.deployment_id,
                    t.LoadSampleRow.span,
                    t.LoadSampleRow.in_flight,
                    t.LoadSampleRow.held,
                ).where(t.LoadSampleRow.at > at)
            )
        ).all()
        covered: dict[str, float] = defaultdict(float)  # gateway → seconds it reported on
        area: dict[tuple[str, str], float] = defaultdict(float)  # request-seconds
        held: dict[str, int] = defaultdict(int)
        for gateway, dep_id, span, in_flight, n in rows:
            if dep_id == HEARTBEAT:
                covered[gateway] += span
            else:
                area[(gateway, dep_id)] += in_flight * span
                held[dep_id] = max(held[dep_id], n)
        if not covered:
            return None
        in_flight_of: dict[str, float] = defaultdict(float)
        for (gateway, dep_id), seconds in area.items():
            if covered.get(gateway):
                in_flight_of[dep_id] += seconds / covered[gateway]
        return {
            dep_id: DeploymentLoad(in_flight_of.get(dep_id, 0.0), held.get(dep_id, 0))
            for dep_id in {*in_flight_of, *held}
        }

    async def prune(self, before: float) -> None:
        await self.s.execute(delete(t.LoadSampleRow).where(t.LoadSampleRow.at < before))
