"""Models and runtimes (runtimes: system rows every project sees, plus the project's own)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelport.domain.errors import NotFound
from modelport.domain.models import Model
from modelport.domain.runtimes import Runtime
from modelport.query.ast import ListQuery
from modelport.store import compile, mapping
from modelport.store import tables as t

MODEL_FIELDS: dict[str, compile.Field] = {
    "id": t.ModelRow.id,
    "name": t.ModelRow.name,
    "version": t.ModelRow.version,
    "framework": t.ModelRow.framework,
    "size": t.ModelRow.size,
    "created_at": t.ModelRow.created_at,
}

RUNTIME_FIELDS: dict[str, compile.Field] = {
    "id": t.RuntimeRow.id,
    "name": t.RuntimeRow.name,
    "framework": t.RuntimeRow.framework,
    "system": t.RuntimeRow.system,
    "created_at": t.RuntimeRow.created_at,
    # for the ZStack dialect's QueryModelService (docs/dialects/zstack.md)
    "project_id": t.RuntimeRow.project_id,
    "readme": t.RuntimeRow.readme,
    "request_cpu": t.RuntimeRow.request_cpu,
    "request_memory": t.RuntimeRow.request_memory,
    "supports_distributed": t.RuntimeRow.supports_distributed,
}


class ModelsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, m: Model) -> None:
        self.s.add(mapping.model_row(m))
        await self.s.flush()

    async def get(self, project_id: str, model_id: str) -> Model:
        stmt = select(t.ModelRow).where(
            t.ModelRow.id == model_id, t.ModelRow.project_id == project_id
        )
        row = (await self.s.execute(stmt)).scalar()
        if row is None:
            raise NotFound("model", model_id)
        return mapping.model(row)

    async def names(self, ids: Iterable[str]) -> dict[str, str]:
        """The names of the models `ids` (any project), in one read."""
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.s.execute(
            select(t.ModelRow.id, t.ModelRow.name).where(t.ModelRow.id.in_(wanted))
        )
        return {model_id: name for model_id, name in rows}

    async def find(self, project_id: str, name: str, version: str) -> Model | None:
        stmt = select(t.ModelRow).where(
            t.ModelRow.project_id == project_id,
            t.ModelRow.name == name,
            t.ModelRow.version == version,
        )
        row = (await self.s.execute(stmt)).scalar()
        return mapping.model(row) if row else None

    async def list(self, project_id: str, query: ListQuery) -> tuple[Sequence[Model], int]:
        stmt = select(t.ModelRow).where(t.ModelRow.project_id == project_id)
        rows, total = await compile.run(self.s, stmt, query, MODEL_FIELDS, t.ModelRow.id)
        return [mapping.model(r) for r in rows], total

    async def delete(self, project_id: str, model_id: str) -> None:
        await self.get(project_id, model_id)
        await self.s.execute(delete(t.ModelRow).where(t.ModelRow.id == model_id))


class RuntimesRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    def _visible(self, project_id: str | None) -> object:
        return or_(t.RuntimeRow.project_id.is_(None), t.RuntimeRow.project_id == project_id)

    async def sync_builtin(self, builtin: tuple[Runtime, ...]) -> None:
        """Insert or refresh the system runtimes (idempotent; runs at every start)."""
        now = datetime.now(UTC)
        for rt in builtin:
            row = await self.s.get(t.RuntimeRow, rt.id)
            if row is None:
                row = t.RuntimeRow(created_at=now)
                mapping.fill_runtime_row(row, rt)
                self.s.add(row)
            else:
                mapping.fill_runtime_row(row, rt)
        await self.s.flush()

    async def add(self, rt: Runtime) -> None:
        row = t.RuntimeRow(created_at=rt.created_at or datetime.now(UTC))
        mapping.fill_runtime_row(row, rt)
        self.s.add(row)
        await self.s.flush()

    async def get(self, project_id: str | None, ref: str) -> Runtime:
        """A runtime by id or by name, among those the project sees (its own win)."""
        stmt = (
            select(t.RuntimeRow)
            .where(self._visible(project_id))  # type: ignore[arg-type]
            .where(or_(t.RuntimeRow.id == ref, t.RuntimeRow.name == ref))
            .order_by(t.RuntimeRow.system)
        )
        row = (await self.s.execute(stmt)).scalars().first()
        if row is None:
            raise NotFound("runtime", ref)
        return mapping.runtime(row)

    async def list(self, project_id: str, query: ListQuery) -> tuple[Sequence[Runtime], int]:
        stmt = select(t.RuntimeRow).where(self._visible(project_id))  # type: ignore[arg-type]
        rows, total = await compile.run(self.s, stmt, query, RUNTIME_FIELDS, t.RuntimeRow.id)
        return [mapping.runtime(r) for r in rows], total
