"""The store on a real database: migrations, uniqueness, optimistic concurrency, cascades, lists.

Runs on SQLite, and on PostgreSQL too when `MODELPORT_TEST_DATABASE_URL` is set (see
`tests/conftest.py`): the concurrency tests mean different things on each (SQLite serialises
writers; PostgreSQL runs them at once and the revision check rejects the losers).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from modelport.backends.fake import FakeBackend
from modelport.domain.auth import Principal
from modelport.domain.errors import Conflict, Invalid, NotFound
from modelport.domain.ids import ModelId, ProjectId, ReplicaId, new_id
from modelport.domain.models import Framework, Model
from modelport.domain.replicas import Replica, ReplicaState
from modelport.query.ast import And, Cond, ListQuery, Op, Sort
from modelport.runtimes.catalog import BUILTIN
from modelport.services import models
from modelport.services.secrets import Cipher
from modelport.services.services import DeploymentSpec, ServiceOps, ServicePatch, ServiceSpec
from modelport.store import Store

COMMAND = ["{python}", "-m", "http.server", "$PORT"]


@pytest.fixture
def ops(store: Store, cipher: Cipher) -> ServiceOps:
    return ServiceOps(store, cipher, FakeBackend(), wake=lambda: None)


def spec(name: str, replicas: int = 1, deployments: int = 1, **kw: object) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        deployments=[
            DeploymentSpec(runtime="command", command=COMMAND, replicas=replicas)
            for _ in range(deployments)
        ],
        **kw,  # type: ignore[arg-type]
    )


def model(who: Principal, name: str, version: str) -> Model:
    return Model(
        id=ModelId(new_id("model")), project_id=who.project_id, name=name, version=version,
        framework=Framework.CUSTOM, uri=None, size=0, description="",
        created_at=datetime.now(UTC),
    )  # fmt: skip


# -- migrations -----------------------------------------------------------------------------


async def test_migrations_are_idempotent(store: Store, database_url: str) -> None:
    await store.open(BUILTIN)
    again = Store(database_url)
    try:
        await again.open(BUILTIN)
        async with again.read() as tx:
            runtimes, total = await tx.runtimes.list("prj-none", ListQuery())
    finally:
        await again.close()
    assert total == len(BUILTIN)
    assert {r.name for r in runtimes} == {r.name for r in BUILTIN}


# -- uniqueness -----------------------------------------------------------------------------


async def test_model_name_and_version_are_unique(store: Store, principal: Principal) -> None:
    async with store.write() as tx:
        await tx.models.add(model(principal, "iris", "1"))
    with pytest.raises(Conflict):
        async with store.write() as tx:
            await tx.models.add(model(principal, "iris", "1"))
    async with store.write() as tx:
        await tx.models.add(model(principal, "iris", "2"))  # another version is fine
    async with store.read() as tx:
        _, total = await tx.models.list(principal.project_id, ListQuery())
    assert total == 2


async def test_register_twice_is_a_conflict(store: Store, principal: Principal) -> None:
    await models.register(store, principal, name="echo", uri=None, version="1")
    with pytest.raises(Conflict, match="already exists"):
        await models.register(store, principal, name="echo", uri=None, version="1")


async def test_service_names_are_unique_per_project(ops: ServiceOps, principal: Principal) -> None:
    await ops.create(principal, spec("echo"))
    with pytest.raises(Conflict):
        await ops.create(principal, spec("echo"))
    _, total = await ops.list(principal, ListQuery())
    assert total == 1


# -- optimistic concurrency -----------------------------------------------------------------


async def test_stale_revision_loses(ops: ServiceOps, principal: Principal) -> None:
    svc = await ops.create(principal, spec("echo"))
    results = await asyncio.gather(
        ops.scale(principal, svc.id, 2, revision=svc.revision),
        ops.scale(principal, svc.id, 3, revision=svc.revision),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1
    assert len(lost) == 1 and isinstance(lost[0], Conflict)
    now = await ops.get(principal, svc.id)
    assert now.revision == svc.revision + 1
    assert now.deployments[0].replicas == won[0].deployments[0].replicas


async def test_stale_revision_after_a_write(ops: ServiceOps, principal: Principal) -> None:
    svc = await ops.create(principal, spec("echo"))
    await ops.scale(principal, svc.id, 2, revision=svc.revision)
    with pytest.raises(Conflict, match="revision"):
        await ops.scale(principal, svc.id, 3, revision=svc.revision)
    assert (await ops.get(principal, svc.id)).deployments[0].replicas == 2


async def test_concurrent_scales_never_lose_an_update(
    ops: ServiceOps, principal: Principal
) -> None:
    svc = await ops.create(principal, spec("echo"))
    targets = list(range(1, 21))
    results = await asyncio.gather(
        *(ops.scale(principal, svc.id, n) for n in targets), return_exceptions=True
    )
    # without a revision, none is refused: each waits for the one before (the service's row
    # is locked on PostgreSQL; SQLite serialises writers) and applies on top of it
    assert [r for r in results if isinstance(r, BaseException)] == []
    applied = [r for r in results if not isinstance(r, BaseException)]
    now = await ops.get(principal, svc.id)
    assert now.revision == svc.revision + len(targets)
    assert sorted(r.revision for r in applied) == list(range(svc.revision + 1, now.revision + 1))
    last = max(applied, key=lambda r: r.revision)
    assert now.deployments[0].replicas == last.deployments[0].replicas


async def test_status_writes_do_not_bump_revision(ops: ServiceOps, principal: Principal) -> None:
    svc = await ops.create(principal, spec("echo"))
    async with ops.store.write() as tx:
        await tx.services.set_status(svc.id, status="running", status_reason="", progress=100)
        await tx.services.set_deployment_status(
            svc.deployments[0].id, status="running", ready_replicas=1, ever_ready=True
        )
    now = await ops.get(principal, svc.id)
    assert (now.status, now.progress, now.revision) == ("running", 100, svc.revision)
    assert now.deployments[0].ever_ready
    # so a user's write at the revision read before the status change still goes through
    scaled = await ops.scale(principal, svc.id, 2, revision=svc.revision)
    assert scaled.revision == svc.revision + 1
    assert scaled.status == "running"


async def test_update_keeps_fields_it_does_not_touch(ops: ServiceOps, principal: Principal) -> None:
    svc = await ops.create(principal, spec("echo", tags={"team": "a"}, description="first"))
    updated = await ops.update(principal, svc.id, ServicePatch(description="second"))
    assert (updated.description, updated.tags) == ("second", {"team": "a"})
    assert [(d.id, d.replicas) for d in updated.deployments] == [
        (d.id, d.replicas) for d in svc.deployments
    ]
    assert updated.revision == svc.revision + 1


# -- deletes --------------------------------------------------------------------------------


async def test_delete_cascades_to_deployments_and_orphans_replicas(
    ops: ServiceOps, principal: Principal
) -> None:
    svc = await ops.create(principal, spec("echo", deployments=2))
    other = await ops.create(principal, spec("other"))
    async with ops.store.write() as tx:
        for d in (*svc.deployments, *other.deployments):
            rid = ReplicaId(new_id("replica"))
            await tx.replicas.add(
                Replica(rid, d.id, "fake", ReplicaState.PENDING, created_at=datetime.now(UTC))
            )
    async with ops.store.write() as tx:
        await tx.services.delete(svc.id)
    async with ops.store.read() as tx:
        left = await tx.replicas.all()
        with pytest.raises(NotFound):
            await tx.services.get(None, svc.id)
        kept = await tx.services.get(None, other.id)
    # replica rows outlive their deployment, orphaned, until the controller stopped them
    assert sorted(r.deployment_id for r in left) == sorted(["", "", other.deployments[0].id])
    assert len(kept.deployments) == 1


async def test_other_projects_do_not_see_a_service(ops: ServiceOps, principal: Principal) -> None:
    svc = await ops.create(principal, spec("echo"))
    stranger = replace(principal, project_id=ProjectId("prj-other"))
    with pytest.raises(NotFound):
        await ops.get(stranger, svc.id)
    assert (await ops.list(stranger, ListQuery()))[1] == 0


# -- lists ----------------------------------------------------------------------------------


@pytest.fixture
async def five(ops: ServiceOps, principal: Principal) -> list[str]:
    """Services s0…s4; the even ones tagged batch (infer_type), s1 and s3 stopped."""
    ids: list[str] = []
    for i in range(5):
        infer = "batch" if i % 2 == 0 else "real-time"
        svc = await ops.create(principal, spec(f"s{i}", replicas=i, infer_type=infer))
        ids.append(svc.id)
    for i in (1, 3):
        await ops.stop(principal, ids[i])
    return ids


LISTS = [
    pytest.param(ListQuery(sort=(Sort("name"),)), ["s0", "s1", "s2", "s3", "s4"], 5, id="all"),
    pytest.param(
        ListQuery(sort=(Sort.parse("-name"),), offset=1, limit=2), ["s3", "s2"], 5, id="page"
    ),
    pytest.param(
        ListQuery(filter=Cond("infer_type", Op.EQ, "batch"), sort=(Sort("name", True),)),
        ["s4", "s2", "s0"],
        3,
        id="filter",
    ),
    pytest.param(
        ListQuery(
            filter=And((Cond("infer_type", Op.EQ, "batch"), Cond("name", Op.NE, "s2"))),
            sort=(Sort("name"),),
            offset=1,
            limit=5,
        ),
        ["s4"],
        2,
        id="filter+page",
    ),
    pytest.param(
        ListQuery(filter=Cond("desired_state", Op.EQ, "stopped"), sort=(Sort("name"),)),
        ["s1", "s3"],
        2,
        id="stopped",
    ),
    pytest.param(
        ListQuery(filter=Cond("name", Op.IN, ["s1", "s4", "nope"]), sort=(Sort("name"),)),
        ["s1", "s4"],
        2,
        id="in",
    ),
    pytest.param(
        ListQuery(filter=Cond("name", Op.LIKE, "s%"), sort=(Sort("name"),), offset=10),
        [],
        5,
        id="past the end",
    ),
    pytest.param(ListQuery(sort=(Sort("name"),), limit=0), [], 5, id="count only"),
]


@pytest.mark.parametrize(("query", "names", "total"), LISTS)
async def test_list_pages(
    ops: ServiceOps, principal: Principal, five: list[str], query: ListQuery, names: list[str],
    total: int,
) -> None:  # fmt: skip
    page, count = await ops.list(principal, query)
    assert [s.name for s in page] == names
    assert count == total


async def test_list_by_model_id(ops: ServiceOps, principal: Principal) -> None:
    m = await models.register(ops.store, principal, name="echo", uri=None)
    with_model = await ops.create(
        principal,
        ServiceSpec(
            name="uses-model",
            deployments=[DeploymentSpec(model_id=m.id, runtime="command", command=COMMAND)],
        ),
    )
    await ops.create(principal, spec("plain"))
    page, total = await ops.list(principal, ListQuery(filter=Cond("model_id", Op.EQ, m.id)))
    assert ([s.id for s in page], total) == ([with_model.id], 1)
    with pytest.raises(Conflict, match="used by"):
        await models.delete(ops.store, principal, m.id)


async def test_unknown_filter_field_is_invalid(ops: ServiceOps, principal: Principal) -> None:
    with pytest.raises(Invalid) as err:
        await ops.list(principal, ListQuery(filter=Cond("key_ciphertext", Op.EQ, "x")))
    assert err.value.field == "key_ciphertext"
    with pytest.raises(Invalid) as err:
        await ops.list(
            principal,
            ListQuery(filter=And((Cond("name", Op.EQ, "a"), Cond("colour", Op.EQ, "red")))),
        )
    assert err.value.field == "colour"


async def test_unknown_sort_field_is_invalid(ops: ServiceOps, principal: Principal) -> None:
    with pytest.raises(Invalid) as err:
        await ops.list(principal, ListQuery(sort=(Sort("colour"),)))
    assert err.value.field == "sort"
    assert "colour" in err.value.message


@pytest.mark.parametrize(
    ("kw", "field"), [({"offset": -1}, "offset"), ({"limit": 1001}, "limit")], ids=str
)
def test_bad_paging_is_invalid(kw: dict[str, int], field: str) -> None:
    with pytest.raises(Invalid) as err:
        ListQuery(**kw)  # type: ignore[arg-type]
    assert err.value.field == field
