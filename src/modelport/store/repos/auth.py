"""Projects and API keys (stored as SHA-256 hashes of the key, never the key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelport.domain.auth import ApiKey, Project
from modelport.store import mapping
from modelport.store import tables as t


class ProjectsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def by_name(self, name: str) -> Project | None:
        row = (await self.s.execute(select(t.ProjectRow).where(t.ProjectRow.name == name))).scalar()
        return mapping.project(row) if row else None

    async def get(self, project_id: str) -> Project | None:
        row = await self.s.get(t.ProjectRow, project_id)
        return mapping.project(row) if row else None

    async def all(self) -> list[Project]:
        rows = await self.s.execute(select(t.ProjectRow).order_by(t.ProjectRow.created_at))
        return [mapping.project(r) for r in rows.scalars()]

    async def add(self, project: Project) -> None:
        self.s.add(t.ProjectRow(id=project.id, name=project.name, created_at=project.created_at))
        await self.s.flush()


class ApiKeysRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, key: ApiKey, key_hash: str) -> None:
        self.s.add(
            t.ApiKeyRow(
                id=key.id,
                project_id=key.project_id,
                name=key.name,
                role=key.role.value,
                key_hash=key_hash,
                created_at=key.created_at,
                expires_at=key.expires_at,
            )
        )
        await self.s.flush()

    async def by_hash(self, key_hash: str, now: datetime) -> ApiKey | None:
        stmt = select(t.ApiKeyRow).where(t.ApiKeyRow.key_hash == key_hash)
        row = (await self.s.execute(stmt)).scalar()
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            return None
        return mapping.api_key(row)
