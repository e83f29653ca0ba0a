"""Events: appended by the controller and services, listed newest first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelport.domain.events import Event
from modelport.query.ast import ListQuery
from modelport.store import compile, mapping
from modelport.store import tables as t

FIELDS: dict[str, compile.Field] = {
    "id": t.EventRow.id,
    "service_id": t.EventRow.service_id,
    "object_kind": t.EventRow.object_kind,
    "object_id": t.EventRow.object_id,
    "type": t.EventRow.type,
    "reason": t.EventRow.reason,
    "at": t.EventRow.at,
}


class EventsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, e: Event) -> None:
        self.s.add(
            t.EventRow(
                id=e.id,
                project_id=e.project_id,
                object_kind=e.object_kind,
                object_id=e.object_id,
                service_id=e.service_id,
                type=e.type.value,
                reason=e.reason,
                message=e.message,
                at=e.at,
            )
        )

    async def list(self, project_id: str, query: ListQuery) -> tuple[Sequence[Event], int]:
        stmt = select(t.EventRow).where(t.EventRow.project_id == project_id)
        rows, total = await compile.run(self.s, stmt, query, FIELDS, t.EventRow.id)
        return [mapping.event(r) for r in rows], total
