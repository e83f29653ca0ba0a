"""Credentials use cases on a real store: password hashes, access keys, sessions, who may do what.

Passwords verify in plain text and as the SHA-512 hex digest ZStack clients send; access key
secrets are encrypted at rest and unknown keys are `Unauthorized`; sessions are of one kind and
expire (an expired one is made with a negative `ttl`, never by sleeping); projects are made only
by the installation's admin, and credentials in another project only by that admin.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from modelport.domain.auth import Principal, Role
from modelport.domain.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from modelport.services import credentials
from modelport.services.auth import authenticate
from modelport.services.credentials import NewProject
from modelport.services.secrets import Cipher
from modelport.store import Store

# ZStack clients send sha512(password) as hex; this is the digest of "password".
ZSTACK_PASSWORD_DIGEST = (
    "b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb9"
    "80b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86"
)
PASSWORD = "alice-password"


@pytest.fixture
def member(principal: Principal) -> Principal:
    return replace(principal, role=Role.MEMBER, key_id="key-member")


@pytest.fixture
async def other(store: Store, principal: Principal) -> NewProject:
    """A second project, made by the installation's admin."""
    return await credentials.create_project(store, principal, "other")


@pytest.fixture
async def other_admin(store: Store, other: NewProject) -> Principal:
    """The admin of the second project, resolved from the API key its creation returned."""
    return await authenticate(store, f"Bearer {other.admin_key}")


@pytest.fixture
async def alice(store: Store, principal: Principal) -> str:
    user = await credentials.create_user(store, principal, "alice", PASSWORD)
    return user.name


# -- passwords ------------------------------------------------------------------------------
def test_zstack_digest_vector() -> None:
    assert credentials.sha512_hex("password") == ZSTACK_PASSWORD_DIGEST


def test_a_password_verifies_plain_and_as_its_digest() -> None:
    stored = credentials.hash_password("password")
    assert stored.startswith("scrypt$")
    assert "password" not in stored and ZSTACK_PASSWORD_DIGEST not in stored
    assert credentials.password_matches(stored, password="password")
    assert credentials.password_matches(stored, digest=ZSTACK_PASSWORD_DIGEST)
    assert credentials.password_matches(stored, digest=ZSTACK_PASSWORD_DIGEST.upper())


def test_a_wrong_password_or_digest_fails() -> None:
    stored = credentials.hash_password("password")
    assert not credentials.password_matches(stored, password="Password")
    assert not credentials.password_matches(stored, password="")
    assert not credentials.password_matches(stored, digest=credentials.sha512_hex("other"))
    assert not credentials.password_matches(stored, digest="password")


def test_each_hash_has_its_own_salt() -> None:
    first, second = credentials.hash_password("password"), credentials.hash_password("password")
    assert first != second
    assert credentials.password_matches(second, password="password")


# -- access keys ----------------------------------------------------------------------------
async def test_an_access_key_is_created_and_looked_up(
    store: Store, cipher: Cipher, principal: Principal
) -> None:
    made = await credentials.create_access_key(store, cipher, principal)
    assert made.id.startswith("AK") and len(made.id) == 20
    assert made.project_id == principal.project_id
    assert made.role == Role.ADMIN
    assert len(made.secret) >= 32

    found = await credentials.access_key(store, cipher, made.id)
    assert (found.id, found.project_id, found.role, found.secret) == (
        made.id,
        made.project_id,
        made.role,
        made.secret,
    )
    assert credentials.principal_of_key(found) == Principal(
        principal.project_id, Role.ADMIN, made.id
    )
    assert made.id in await credentials.list_access_keys(store, principal)


async def test_a_member_key(store: Store, cipher: Cipher, principal: Principal) -> None:
    made = await credentials.create_access_key(store, cipher, principal, role=Role.MEMBER)
    found = await credentials.access_key(store, cipher, made.id)
    assert found.role == Role.MEMBER
    assert not credentials.principal_of_key(found).is_admin


async def test_an_unknown_access_key_is_unauthorized(store: Store, cipher: Cipher) -> None:
    with pytest.raises(Unauthorized):
        await credentials.access_key(store, cipher, "AKNOSUCHKEY000000000")


async def test_the_secret_is_encrypted_at_rest(
    store: Store, cipher: Cipher, principal: Principal
) -> None:
    made = await credentials.create_access_key(store, cipher, principal)
    async with store.read() as tx:
        found = await tx.access_keys.get(made.id)
    assert found is not None
    key, ciphertext = found
    assert key.secret == ""
    assert ciphertext != made.secret
    assert made.secret not in ciphertext
    assert cipher.decrypt(ciphertext) == made.secret


async def test_delete_an_access_key(
    store: Store, cipher: Cipher, principal: Principal, member: Principal
) -> None:
    made = await credentials.create_access_key(store, cipher, principal)
    with pytest.raises(Forbidden):
        await credentials.delete_access_key(store, member, made.id)
    await credentials.delete_access_key(store, principal, made.id)
    with pytest.raises(Unauthorized):
        await credentials.access_key(store, cipher, made.id)
    assert made.id not in await credentials.list_access_keys(store, principal)
    with pytest.raises(NotFound):
        await credentials.delete_access_key(store, principal, made.id)


async def test_members_may_not_create_access_keys(
    store: Store, cipher: Cipher, member: Principal
) -> None:
    with pytest.raises(Forbidden):
        await credentials.create_access_key(store, cipher, member)


# -- sessions -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "ttl"), [("zstack", credentials.SESSION_TTL), ("iam", credentials.TOKEN_TTL)]
)
async def test_login_opens_a_session_of_its_kind(
    store: Store, alice: str, kind: str, ttl: timedelta
) -> None:
    opened = await credentials.login(store, alice, password=PASSWORD, kind=kind)
    assert opened.kind == kind
    assert opened.user.name == alice
    assert opened.expires_at - opened.created_at == ttl
    if kind == "zstack":
        assert len(opened.token) == 32 and int(opened.token, 16) >= 0  # a uuid, as ZStack's
    else:
        assert opened.token.startswith("tk_")

    found = await credentials.session(store, opened.token, kind)
    assert found.user == opened.user
    assert found.expires_at == opened.expires_at
    assert credentials.principal_of_session(found) == Principal(
        opened.user.project_id, Role.MEMBER, opened.user.id
    )


async def test_login_with_the_digest(store: Store, alice: str) -> None:
    digest = credentials.sha512_hex(PASSWORD)
    opened = await credentials.login(store, alice, digest=digest, kind="zstack")
    assert (await credentials.session(store, opened.token, "zstack")).user.name == alice


@pytest.mark.parametrize(
    ("name", "password"),
    [("alice", "wrong-password"), ("nobody", PASSWORD), ("alice", "")],
)
async def test_a_wrong_login_is_unauthorized(
    store: Store, alice: str, name: str, password: str
) -> None:
    with pytest.raises(Unauthorized):
        await credentials.login(store, name, password=password, kind="zstack")


async def test_an_expired_session_is_unauthorized(store: Store, alice: str) -> None:
    opened = await credentials.login(
        store, alice, password=PASSWORD, kind="iam", ttl=timedelta(seconds=-1)
    )
    assert opened.expires_at < opened.created_at
    with pytest.raises(Unauthorized):
        await credentials.session(store, opened.token, "iam")


async def test_a_session_of_another_kind_is_unauthorized(store: Store, alice: str) -> None:
    opened = await credentials.login(store, alice, password=PASSWORD, kind="zstack")
    with pytest.raises(Unauthorized):
        await credentials.session(store, opened.token, "iam")
    with pytest.raises(Unauthorized):
        await credentials.session(store, "no-such-token", "zstack")


async def test_logout_ends_the_session(store: Store, alice: str) -> None:
    opened = await credentials.login(store, alice, password=PASSWORD, kind="zstack")
    kept = await credentials.login(store, alice, password=PASSWORD, kind="zstack")
    assert await credentials.logout(store, opened.token) is True
    with pytest.raises(Unauthorized):
        await credentials.session(store, opened.token, "zstack")
    assert await credentials.logout(store, opened.token) is False
    assert (await credentials.session(store, kept.token, "zstack")).token == kept.token


async def test_the_token_is_not_stored(store: Store, alice: str) -> None:
    opened = await credentials.login(store, alice, password=PASSWORD, kind="iam")
    async with store.read() as tx:
        found = await tx.sessions.get(opened.token, opened.created_at)
    assert found is None  # looked up by its hash only


# -- projects -------------------------------------------------------------------------------
async def test_the_installation_admin_creates_projects(
    store: Store, principal: Principal, other: NewProject, other_admin: Principal
) -> None:
    assert other.project.name == "other"
    assert other_admin.project_id == other.project.id
    assert other_admin.is_admin
    every = await credentials.list_projects(store, principal)
    assert sorted(p.name for p in every) == ["default", "other"]
    assert await credentials.list_projects(store, other_admin) == [other.project]
    with pytest.raises(Conflict):
        await credentials.create_project(store, principal, "other")


@pytest.mark.parametrize("name", ["", "has space", "-dash"])
async def test_a_bad_project_name_is_invalid(store: Store, principal: Principal, name: str) -> None:
    with pytest.raises(Invalid) as caught:
        await credentials.create_project(store, principal, name)
    assert caught.value.field == "name"


async def test_only_the_installation_admin_creates_projects(
    store: Store, member: Principal, other_admin: Principal
) -> None:
    with pytest.raises(Forbidden):
        await credentials.create_project(store, member, "mine")
    with pytest.raises(Forbidden):
        await credentials.create_project(store, other_admin, "mine")


async def test_credentials_in_another_project_only_by_the_installation_admin(
    store: Store,
    cipher: Cipher,
    principal: Principal,
    other: NewProject,
    other_admin: Principal,
) -> None:
    made = await credentials.create_access_key(store, cipher, principal, other.project.id)
    assert made.project_id == other.project.id
    assert await credentials.list_access_keys(store, other_admin) == [made.id]
    assert made.id not in await credentials.list_access_keys(store, principal)
    user = await credentials.create_user(
        store, principal, "bob", PASSWORD, other.project.id, Role.ADMIN
    )
    assert (user.project_id, user.role) == (other.project.id, Role.ADMIN)

    own = await credentials.create_access_key(store, cipher, other_admin)
    assert own.project_id == other.project.id
    with pytest.raises(Forbidden):
        await credentials.create_access_key(store, cipher, other_admin, principal.project_id)
    with pytest.raises(Forbidden):
        await credentials.create_user(store, other_admin, "carol", PASSWORD, principal.project_id)
    with pytest.raises(NotFound):
        await credentials.create_access_key(store, cipher, principal, "project-nope")
    default_key = await credentials.create_access_key(store, cipher, principal)
    with pytest.raises(NotFound):  # another project's key is not visible to its admin
        await credentials.delete_access_key(store, other_admin, default_key.id)


# -- users ----------------------------------------------------------------------------------
async def test_a_duplicate_user_is_a_conflict(
    store: Store, principal: Principal, alice: str, other: NewProject
) -> None:
    with pytest.raises(Conflict):
        await credentials.create_user(store, principal, alice, PASSWORD)
    with pytest.raises(Conflict):  # names are unique on the server, not per project
        await credentials.create_user(store, principal, alice, PASSWORD, other.project.id)


async def test_a_short_password_is_invalid(store: Store, principal: Principal) -> None:
    with pytest.raises(Invalid) as caught:
        await credentials.create_user(store, principal, "dave", "short")
    assert caught.value.field == "password"


async def test_a_bad_user_name_is_invalid(store: Store, principal: Principal) -> None:
    with pytest.raises(Invalid) as caught:
        await credentials.create_user(store, principal, "no spaces", PASSWORD)
    assert caught.value.field == "name"


async def test_members_may_not_create_users(store: Store, member: Principal) -> None:
    with pytest.raises(Forbidden):
        await credentials.create_user(store, member, "erin", PASSWORD)
