"""Credentials for the clouds' auth schemes: users (password logins), access keys (request
signatures) and sessions/tokens (what a login returns)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from modelport.domain.auth import Role
from modelport.domain.ids import ProjectId


@dataclass(frozen=True, slots=True)
class User:
    id: str
    project_id: ProjectId
    name: str
    role: Role
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccessKey:
    """An access key id and its secret (UCloud PublicKey/PrivateKey, Tencent SecretId/SecretKey,
    Huawei AK/SK). The secret is only ever in plain text in memory."""

    id: str
    project_id: ProjectId
    role: Role
    secret: str
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """A login: the token the caller sends back (ZStack session uuid, IAM X-Subject-Token)."""

    token: str
    kind: str  # "zstack" | "iam"
    user: User
    created_at: datetime
    expires_at: datetime
