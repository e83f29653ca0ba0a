"""Projects and API keys: who calls, and which project they act in."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from modelport.domain.ids import ApiKeyId, ProjectId

DEFAULT_PROJECT = "default"


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class Project:
    id: ProjectId
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: ApiKeyId
    project_id: ProjectId
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, resolved from its credentials."""

    project_id: ProjectId
    role: Role
    key_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN
