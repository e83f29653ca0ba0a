"""Projects, access keys, users and sessions: the credentials the clouds' dialects check.

- Access keys sign requests (UCloud PublicKey/PrivateKey, Tencent SecretId/SecretKey, Huawei
  AK/SK). Their secrets are encrypted at rest (`Cipher`): verifying a signature needs them.
- Users log in with a password (ZStack sessions, the IAM token API). Passwords are stored as
  scrypt over the SHA-512 hex digest of the password, so a ZStack client, which sends that
  digest instead of the password, is verified against the same hash.
- Sessions and tokens expire; only the SHA-256 of a token is stored.

The admin of the default project is the installation's admin: it may create projects and
credentials in any project. A project's own admin may create credentials in its project.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import string
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from modelport.domain.auth import DEFAULT_PROJECT, ApiKey, Principal, Project, Role
from modelport.domain.credentials import AccessKey, Session, User
from modelport.domain.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from modelport.domain.ids import ApiKeyId, ProjectId, new_id
from modelport.services import validate
from modelport.services.secrets import Cipher, new_token, token_hash
from modelport.store import Store, Tx

SESSION_TTL = timedelta(hours=2)
TOKEN_TTL = timedelta(hours=24)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


# -- passwords -------------------------------------------------------------------------------
def sha512_hex(password: str) -> str:
    return hashlib.sha512(password.encode()).hexdigest()


def hash_password(password: str) -> str:
    """scrypt over the SHA-512 hex digest of `password`, with a fresh salt."""
    return _hash_digest(sha512_hex(password), secrets.token_bytes(16))


def _hash_digest(digest: str, salt: bytes) -> str:
    key = hashlib.scrypt(digest.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${b64(salt).decode()}${b64(key).decode()}"


def password_matches(
    stored: str, *, password: str | None = None, digest: str | None = None
) -> bool:
    """Check a plain password, or its SHA-512 hex digest (what ZStack clients send)."""
    scheme, _, rest = stored.partition("$")
    salt, _, _ = rest.partition("$")
    if scheme != "scrypt" or not salt:
        return False
    given = digest.lower() if digest is not None else sha512_hex(password or "")
    return hmac.compare_digest(_hash_digest(given, base64.b64decode(salt)), stored)


_DUMMY_HASH = _hash_digest(sha512_hex(""), b"\0" * 16)


# -- who may do what -------------------------------------------------------------------------
async def _target_project(tx: Tx, who: Principal, project_id: str | None) -> Project:
    if not who.is_admin:
        raise Forbidden("only admins may create credentials")
    target = project_id or who.project_id
    # refused before the lookup: whether another project exists is none of the caller's business
    if target != who.project_id and not await _installation_admin(tx, who):
        raise Forbidden("only the admin of the default project may act in other projects")
    project = await tx.projects.get(target)
    if project is None:
        raise NotFound("project", target)
    return project


async def _installation_admin(tx: Tx, who: Principal) -> bool:
    default = await tx.projects.by_name(DEFAULT_PROJECT)
    return who.is_admin and default is not None and default.id == who.project_id


# -- projects --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewProject:
    project: Project
    admin_key: str  # an admin API key of the new project, shown once


async def create_project(store: Store, who: Principal, name: str) -> NewProject:
    validate.name("name", name)
    now = datetime.now(UTC)
    async with store.write() as tx:
        if not await _installation_admin(tx, who):
            raise Forbidden("only the admin of the default project may create projects")
        if await tx.projects.by_name(name):
            raise Conflict(f"project {name!r} already exists")
        project = Project(ProjectId(new_id("project")), name, now)
        await tx.projects.add(project)
        plain = new_token("mp")
        key = ApiKey(ApiKeyId(new_id("api_key")), project.id, "admin", Role.ADMIN, now)
        await tx.api_keys.add(key, token_hash(plain))
    return NewProject(project, plain)


async def list_projects(store: Store, who: Principal) -> list[Project]:
    async with store.read() as tx:
        if await _installation_admin(tx, who):
            return await tx.projects.all()
        own = await tx.projects.get(who.project_id)
        return [own] if own else []


# -- access keys -----------------------------------------------------------------------------
_KEY_ALPHABET = string.ascii_uppercase + string.digits


async def create_access_key(
    store: Store,
    cipher: Cipher,
    who: Principal,
    project_id: str | None = None,
    role: Role = Role.ADMIN,
) -> AccessKey:
    now = datetime.now(UTC)
    key_id = "AK" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))
    secret = secrets.token_urlsafe(30)
    async with store.write() as tx:
        project = await _target_project(tx, who, project_id)
        await tx.access_keys.add(key_id, project.id, role, cipher.encrypt(secret), now, None)
    return AccessKey(key_id, project.id, role, secret, now)


async def access_key(store: Store, cipher: Cipher, key_id: str) -> AccessKey:
    """The key and its secret, for a dialect to verify a signature. Unknown → `Unauthorized`."""
    async with store.read() as tx:
        found = await tx.access_keys.get(key_id)
    now = datetime.now(UTC)
    if found is None or (found[0].expires_at is not None and found[0].expires_at <= now):
        raise Unauthorized(f"unknown access key {key_id!r}")
    key, ciphertext = found
    return replace(key, secret=cipher.decrypt(ciphertext))


async def list_access_keys(store: Store, who: Principal) -> list[str]:
    async with store.read() as tx:
        return list(await tx.access_keys.for_project(who.project_id))


async def delete_access_key(store: Store, who: Principal, key_id: str) -> None:
    async with store.write() as tx:
        found = await tx.access_keys.get(key_id)
        if found is None or found[0].project_id != who.project_id:
            raise NotFound("access key", key_id)
        if not who.is_admin:
            raise Forbidden("only admins may delete access keys")
        await tx.access_keys.delete(key_id)


def principal_of_key(key: AccessKey) -> Principal:
    return Principal(key.project_id, key.role, key.id)


# -- users and sessions ----------------------------------------------------------------------
async def create_user(
    store: Store,
    who: Principal,
    name: str,
    password: str,
    project_id: str | None = None,
    role: Role = Role.MEMBER,
) -> User:
    validate.name("name", name)
    if len(password) < 8:
        raise Invalid("password", "at least 8 characters")
    user = User(new_id("user"), ProjectId(""), name, role, datetime.now(UTC))
    async with store.write() as tx:
        project = await _target_project(tx, who, project_id)
        if await tx.users.by_name(name):
            raise Conflict(f"user {name!r} already exists")
        user = User(user.id, project.id, name, role, user.created_at)
        await tx.users.add(user, hash_password(password))
    return user


async def login(
    store: Store,
    name: str,
    *,
    password: str | None = None,
    digest: str | None = None,
    kind: str,
    ttl: timedelta | None = None,
) -> Session:
    """Check a user's password (plain or SHA-512 digest) and open a session of `kind`.

    The scrypt (tens of milliseconds of CPU) runs in a worker thread and outside any
    transaction, so a flood of logins neither stalls the event loop (the API and the gateway
    share it) nor holds the database's write lock."""
    async with store.read() as tx:
        found = await tx.users.by_name(name)
    # an unknown name costs the same scrypt as a known one: timing tells no names
    stored = found[1] if found else _DUMMY_HASH
    matches = await asyncio.to_thread(password_matches, stored, password=password, digest=digest)
    if not matches or found is None:
        raise Unauthorized("wrong user name or password")
    user = found[0]
    now = datetime.now(UTC)
    token = uuid.uuid4().hex if kind == "zstack" else new_token("tk")
    expires = now + (ttl if ttl is not None else SESSION_TTL if kind == "zstack" else TOKEN_TTL)
    async with store.write() as tx:
        await tx.sessions.purge(now)
        await tx.sessions.add(token_hash(token), user, kind, now, expires)
    return Session(token, kind, user, now, expires)


async def session(store: Store, token: str, kind: str) -> Session:
    """The session a token opens. Unknown, expired or of another kind → `Unauthorized`."""
    now = datetime.now(UTC)
    async with store.read() as tx:
        found = await tx.sessions.get(token_hash(token), now)
    if found is None or found.kind != kind:
        raise Unauthorized("unknown or expired session")
    return replace(found, token=token)


async def logout(store: Store, token: str) -> bool:
    async with store.write() as tx:
        return await tx.sessions.delete(token_hash(token))


def principal_of_session(s: Session) -> Principal:
    return Principal(s.user.project_id, s.user.role, s.user.id)
