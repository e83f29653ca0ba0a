"""Who is calling: bootstrap of the default project and its admin key, and key lookup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from modelport.domain.auth import DEFAULT_PROJECT, ApiKey, Principal, Project, Role
from modelport.domain.errors import Unauthorized
from modelport.domain.ids import ApiKeyId, ProjectId, new_id
from modelport.services.secrets import new_token, token_hash
from modelport.store import Store


@dataclass(frozen=True, slots=True)
class Bootstrap:
    project: Project
    admin_key: str | None  # the new key in plain text, only when it was just created


async def bootstrap(store: Store, existing_key: str | None) -> Bootstrap:
    """Make sure the default project exists and has a working admin key.

    `existing_key` is the key found in the credentials file; when it still authenticates,
    nothing is created. Otherwise a new admin key is made and returned once, in plain text.
    """
    now = datetime.now(UTC)
    async with store.write() as tx:
        project = await tx.projects.by_name(DEFAULT_PROJECT)
        if project is None:
            project = Project(ProjectId(new_id("project")), DEFAULT_PROJECT, now)
            await tx.projects.add(project)
        if existing_key and await tx.api_keys.by_hash(token_hash(existing_key), now):
            return Bootstrap(project, None)
        plain = new_token("mp")
        key = ApiKey(ApiKeyId(new_id("api_key")), project.id, "admin", Role.ADMIN, now)
        await tx.api_keys.add(key, token_hash(plain))
    return Bootstrap(project, plain)


async def authenticate(store: Store, authorization: str | None) -> Principal:
    """Resolve `Authorization: Bearer <api key>` to the caller."""
    if not authorization:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <api key>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <api key>'")
    async with store.read() as tx:
        key = await tx.api_keys.by_hash(token_hash(token.strip()), datetime.now(UTC))
    if key is None:
        raise Unauthorized("unknown or expired API key")
    return Principal(key.project_id, key.role, key.id)
