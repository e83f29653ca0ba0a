"""Users, access keys and sessions (see `tables.py` for what is hashed and what encrypted)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelport.domain.auth import Role
from modelport.domain.credentials import AccessKey, Session, User
from modelport.domain.ids import ProjectId
from modelport.store import tables as t


def _user(row: t.UserRow) -> User:
    return User(row.id, ProjectId(row.project_id), row.name, Role(row.role), row.created_at)


class UsersRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, user: User, password_hash: str) -> None:
        self.s.add(
            t.UserRow(
                id=user.id,
                project_id=user.project_id,
                name=user.name,
                password_hash=password_hash,
                role=user.role.value,
                created_at=user.created_at,
            )
        )
        await self.s.flush()

    async def by_name(self, name: str) -> tuple[User, str] | None:
        """The user and its password hash."""
        row = (await self.s.execute(select(t.UserRow).where(t.UserRow.name == name))).scalar()
        return (_user(row), row.password_hash) if row else None

    async def get(self, user_id: str) -> User | None:
        row = await self.s.get(t.UserRow, user_id)
        return _user(row) if row else None


class AccessKeysRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(
        self,
        key_id: str,
        project_id: str,
        role: Role,
        secret_ciphertext: str,
        created_at: datetime,
        expires_at: datetime | None,
    ) -> None:
        self.s.add(
            t.AccessKeyRow(
                id=key_id,
                project_id=project_id,
                role=role.value,
                secret_ciphertext=secret_ciphertext,
                created_at=created_at,
                expires_at=expires_at,
            )
        )
        await self.s.flush()

    async def get(self, key_id: str) -> tuple[AccessKey, str] | None:
        """The key (its `secret` left empty) and the secret's ciphertext."""
        row = await self.s.get(t.AccessKeyRow, key_id)
        if row is None:
            return None
        key = AccessKey(
            row.id, ProjectId(row.project_id), Role(row.role), "", row.created_at, row.expires_at
        )
        return key, row.secret_ciphertext

    async def for_project(self, project_id: str) -> Sequence[str]:
        stmt = select(t.AccessKeyRow.id).where(t.AccessKeyRow.project_id == project_id)
        return list((await self.s.execute(stmt)).scalars())

    async def delete(self, key_id: str) -> None:
        await self.s.execute(delete(t.AccessKeyRow).where(t.AccessKeyRow.id == key_id))


class SessionsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(
        self,
        token_hash: str,
        user: User,
        kind: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.s.add(
            t.SessionRow(
                token_hash=token_hash,
                user_id=user.id,
                project_id=user.project_id,
                kind=kind,
                created_at=created_at,
                expires_at=expires_at,
            )
        )
        await self.s.flush()

    async def get(self, token_hash: str, now: datetime) -> Session | None:
        """The live session of that token hash (its `token` left empty: only the hash is kept)."""
        row = await self.s.get(t.SessionRow, token_hash)
        if row is None or row.expires_at <= now:
            return None
        user = await self.s.get(t.UserRow, row.user_id)
        if user is None:
            return None
        return Session("", row.kind, _user(user), row.created_at, row.expires_at)

    async def delete(self, token_hash: str) -> bool:
        result = await self.s.execute(
            delete(t.SessionRow).where(t.SessionRow.token_hash == token_hash)
        )
        return bool(getattr(result, "rowcount", 0))

    async def purge(self, now: datetime) -> None:
        await self.s.execute(delete(t.SessionRow).where(t.SessionRow.expires_at <= now))
