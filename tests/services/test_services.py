"""Use cases: bad input names its field (`Invalid.field`), keys are admin-only and encrypted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from modelport.backends.fake import FakeBackend
from modelport.domain.auth import Principal, Role
from modelport.domain.errors import Forbidden, Invalid, NotFound, PermanentError
from modelport.domain.ids import ProjectId
from modelport.domain.models import Framework, Model
from modelport.domain.services import TrafficPolicy
from modelport.query.ast import ListQuery
from modelport.services import models
from modelport.services.secrets import Cipher
from modelport.services.services import DeploymentSpec, ServiceOps, ServicePatch, ServiceSpec
from modelport.store import Store

COMMAND = ["{python}", "-m", "http.server", "$PORT"]


@pytest.fixture
def ops(store: Store, cipher: Cipher) -> ServiceOps:
    return ServiceOps(store, cipher, FakeBackend(), wake=lambda: None)


@pytest.fixture
def member(principal: Principal) -> Principal:
    return replace(principal, role=Role.MEMBER, key_id="key-member")


@pytest.fixture
async def sklearn_model(store: Store, principal: Principal, tmp_path: Path) -> Model:
    path = tmp_path / "iris.joblib"
    path.write_bytes(b"\x80\x04not really a model")  # nothing loads it: detection by name
    return await models.register(store, principal, name="iris", uri=str(path))


def command(**kw: object) -> DeploymentSpec:
    return DeploymentSpec(runtime="command", command=COMMAND, **kw)  # type: ignore[arg-type]


# -- create: every bad input names its field ------------------------------------------------

BAD_CREATE = [
    pytest.param(ServiceSpec("", [command()]), "name", id="empty name"),
    pytest.param(ServiceSpec("-leading-dash", [command()]), "name", id="name starts with dash"),
    pytest.param(ServiceSpec("has space", [command()]), "name", id="name with space"),
    pytest.param(ServiceSpec("x" * 129, [command()]), "name", id="name too long"),
    pytest.param(ServiceSpec("ok", []), "deployments", id="no deployment"),
    pytest.param(ServiceSpec("ok", [command()] * 9), "deployments", id="nine deployments"),
    pytest.param(ServiceSpec("ok", [command()], description="d" * 5000), "description",
                 id="description too long"),
    pytest.param(ServiceSpec("ok", [command(replicas=-1)]), "deployments[0].replicas",
                 id="replicas -1"),
    pytest.param(ServiceSpec("ok", [command(replicas=1000)]), "deployments[0].replicas",
                 id="replicas 1000"),
    pytest.param(ServiceSpec("ok", [command(), command(replicas=65)]), "deployments[1].replicas",
                 id="second deployment's replicas"),
    pytest.param(ServiceSpec("ok", [command(cpu=0)]), "deployments[0].cpu", id="cpu 0"),
    pytest.param(ServiceSpec("ok", [command(cpu=-1)]), "deployments[0].cpu", id="cpu -1"),
    pytest.param(ServiceSpec("ok", [command(memory=0)]), "deployments[0].memory", id="memory 0"),
    pytest.param(ServiceSpec("ok", [command(gpu=-1)]), "deployments[0].gpu", id="gpu -1"),
    pytest.param(ServiceSpec("ok", [command(weight=101)]), "deployments[0].weight",
                 id="weight 101"),
    pytest.param(ServiceSpec("ok", [command(grace_period=-1)]), "deployments[0].grace_period",
                 id="negative grace period"),
    pytest.param(ServiceSpec("ok", [command(health_path="health")]),
                 "deployments[0].health_path", id="health path without slash"),
    pytest.param(ServiceSpec("ok", [command(env={"1BAD": "x"})]), "deployments[0].env.1BAD",
                 id="bad env name"),
    pytest.param(ServiceSpec("ok", [DeploymentSpec(runtime="tensorflow", command=COMMAND)]),
                 "deployments[0].runtime", id="unknown runtime"),
    pytest.param(ServiceSpec("ok", [DeploymentSpec(runtime="command")]),
                 "deployments[0].command", id="command runtime without command"),
    pytest.param(ServiceSpec("ok", [DeploymentSpec()]), "deployments[0].command",
                 id="no model, no runtime, no command"),
    pytest.param(ServiceSpec("ok", [DeploymentSpec(runtime="command", command=["python", ""])]),
                 "deployments[0].command", id="empty argument"),
    pytest.param(ServiceSpec("ok", [DeploymentSpec(runtime="sklearn")]),
                 "deployments[0].model_id", id="built-in runtime without model"),
    pytest.param(ServiceSpec("ok", [command()], tags={"": "x"}), "tags.", id="empty tag key"),
    *[
        pytest.param(ServiceSpec("ok", [command()], traffic=TrafficPolicy(**bad)), field,
                     id=f"traffic {bad}")
        for bad, field in [
            ({"timeout": 0}, "traffic.timeout"),
            ({"timeout": -1}, "traffic.timeout"),
            ({"timeout": 3600.5}, "traffic.timeout"),
            ({"timeout": float("nan")}, "traffic.timeout"),
            ({"rate_limit": 0}, "traffic.rate_limit"),
            ({"rate_limit": -5}, "traffic.rate_limit"),
            ({"rate_limit": 1e6 + 1}, "traffic.rate_limit"),
            ({"rate_limit": float("nan")}, "traffic.rate_limit"),
            ({"max_concurrency": 0}, "traffic.max_concurrency"),
            ({"max_concurrency": 100_001}, "traffic.max_concurrency"),
        ]
    ],
]  # fmt: skip


@pytest.mark.parametrize(("spec", "field"), BAD_CREATE)
async def test_create_rejects(
    ops: ServiceOps, principal: Principal, spec: ServiceSpec, field: str
) -> None:
    with pytest.raises(Invalid) as err:
        await ops.create(principal, spec)
    assert err.value.field == field
    assert err.value.details == {"field": field}
    assert (await ops.list(principal, ListQuery()))[1] == 0  # nothing half-created


async def test_model_and_runtime_framework_must_match(
    ops: ServiceOps, principal: Principal, sklearn_model: Model
) -> None:
    assert sklearn_model.framework == Framework.SKLEARN
    bad = ServiceSpec("iris", [DeploymentSpec(model_id=sklearn_model.id, runtime="onnx")])
    with pytest.raises(Invalid) as err:
        await ops.create(principal, bad)
    assert err.value.field == "deployments[0].runtime"
    assert "sklearn" in err.value.message and "onnx" in err.value.message


async def test_model_picks_its_runtime(
    ops: ServiceOps, principal: Principal, sklearn_model: Model
) -> None:
    svc = await ops.create(principal, ServiceSpec("iris", [DeploymentSpec(sklearn_model.id)]))
    (d,) = svc.deployments
    assert (d.runtime_id, d.model_id, d.cpu, d.memory) == ("rt-sklearn", sklearn_model.id, 0.5, 256)


async def test_unknown_model_is_not_found(ops: ServiceOps, principal: Principal) -> None:
    with pytest.raises(NotFound):
        await ops.create(principal, ServiceSpec("x", [DeploymentSpec(model_id="mdl-nope")]))


# -- change ---------------------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [-1, 65, 1000], ids=str)
async def test_scale_rejects(ops: ServiceOps, principal: Principal, replicas: int) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command()]))
    with pytest.raises(Invalid) as err:
        await ops.scale(principal, svc.id, replicas)
    assert err.value.field == "replicas"


async def test_scale_needs_a_deployment_when_there_are_several(
    ops: ServiceOps, principal: Principal
) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command(), command()]))
    with pytest.raises(Invalid) as err:
        await ops.scale(principal, svc.id, 2)
    assert err.value.field == "deployment_id"
    with pytest.raises(Invalid) as err:
        await ops.scale(principal, svc.id, 2, deployment_id="dep-nope")
    assert err.value.field == "deployment_id"
    scaled = await ops.scale(principal, svc.id, 2, deployment_id=svc.deployments[1].id)
    assert [d.replicas for d in scaled.deployments] == [1, 2]


async def test_traffic_is_stored_and_replaced_as_a_whole(
    ops: ServiceOps, principal: Principal
) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command()]))
    assert svc.traffic == TrafficPolicy()
    policy = TrafficPolicy(timeout=3600, rate_limit=1e6, max_concurrency=100_000, retry=False)
    svc = await ops.create(principal, ServiceSpec("edge", [command()], traffic=policy))
    assert (await ops.get(principal, svc.id)).traffic == policy

    kept = await ops.update(principal, svc.id, ServicePatch(description="same policy"))
    assert kept.traffic == policy
    replaced = await ops.update(principal, svc.id, ServicePatch(traffic=TrafficPolicy(5)))
    assert replaced.traffic == TrafficPolicy(timeout=5)
    assert replaced.revision == kept.revision + 1
    assert (await ops.get(principal, svc.id)).traffic == TrafficPolicy(timeout=5)


async def test_update_rejects_a_bad_traffic_policy(ops: ServiceOps, principal: Principal) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command()]))
    with pytest.raises(Invalid) as err:
        await ops.update(principal, svc.id, ServicePatch(traffic=TrafficPolicy(max_concurrency=0)))
    assert err.value.field == "traffic.max_concurrency"
    after = await ops.get(principal, svc.id)
    assert (after.traffic, after.revision) == (TrafficPolicy(), svc.revision)


# -- models ---------------------------------------------------------------------------------


async def test_register_rejects(store: Store, principal: Principal, tmp_path: Path) -> None:
    unknown = tmp_path / "weights.bin"
    unknown.write_bytes(b"GGUF....")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    st_file = tmp_path / "model.onnx"
    st_file.write_bytes(b"onnx")
    cases = [
        ({"name": "bad name", "uri": None}, "name"),
        ({"name": "ok", "uri": None, "version": ""}, "version"),
        ({"name": "ok", "uri": str(tmp_path / "missing.joblib")}, "uri"),
        ({"name": "ok", "uri": "relative/model.joblib"}, "uri"),
        ({"name": "ok", "uri": str(unknown)}, "framework"),
        ({"name": "ok", "uri": str(empty_dir)}, "framework"),
        ({"name": "ok", "uri": None, "framework": Framework.SKLEARN}, "uri"),
        ({"name": "ok", "uri": str(st_file), "framework": Framework.SENTENCE_TRANSFORMERS}, "uri"),
    ]
    for kw, field in cases:
        with pytest.raises(Invalid) as err:
            await models.register(store, principal, **kw)  # type: ignore[arg-type]
        assert err.value.field == field, kw
    assert (await models.list_models(store, principal, ListQuery()))[1] == 0


@pytest.mark.parametrize(
    ("filename", "content", "framework"),
    [
        ("m.onnx", b"\x08\x07", Framework.ONNX),
        ("m.joblib", b"anything", Framework.SKLEARN),
        ("m.pkl", b"anything", Framework.SKLEARN),
        ("m.model", b"\x80\x05pickle", Framework.SKLEARN),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_register_detects_the_framework(
    store: Store, principal: Principal, tmp_path: Path, filename: str, content: bytes,
    framework: Framework,
) -> None:  # fmt: skip
    path = tmp_path / filename
    path.write_bytes(content)
    m = await models.register(store, principal, name="m", uri=str(path))
    assert (m.framework, m.size, m.uri) == (framework, len(content), str(path.resolve()))


async def test_register_detects_a_sentence_transformers_directory(
    store: Store, principal: Principal, tmp_path: Path
) -> None:
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "modules.json").write_text("[]")
    m = await models.register(store, principal, name="minilm", uri=str(tmp_path / "st"))
    assert (m.framework, m.size) == (Framework.SENTENCE_TRANSFORMERS, 2)


# -- keys -----------------------------------------------------------------------------------


async def test_key_is_readable_by_admins_and_encrypted_at_rest(
    ops: ServiceOps, principal: Principal, cipher: Cipher
) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command()]))
    key = await ops.key(principal, svc.id)
    assert key.startswith("sk_") and len(key) > 40
    async with ops.store.read() as tx:
        stored = await tx.services.key_ciphertext(None, svc.id)
    assert stored != key
    assert key not in stored
    assert cipher.decrypt(stored) == key


async def test_rotate_gives_a_new_key(ops: ServiceOps, principal: Principal) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command()]))
    old = await ops.key(principal, svc.id)
    new = await ops.rotate_key(principal, svc.id)
    assert new != old
    assert await ops.key(principal, svc.id) == new
    after = await ops.get(principal, svc.id)
    assert after.revision == svc.revision + 1  # `set_key` is a spec write (store docstring)


async def test_members_may_not_read_or_rotate_keys(
    ops: ServiceOps, principal: Principal, member: Principal
) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command()]))
    before = await ops.key(principal, svc.id)
    with pytest.raises(Forbidden):
        await ops.key(member, svc.id)
    with pytest.raises(Forbidden):
        await ops.rotate_key(member, svc.id)
    assert await ops.key(principal, svc.id) == before


async def test_key_of_another_projects_service_is_not_found(
    ops: ServiceOps, principal: Principal
) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command()]))
    stranger = replace(principal, project_id=ProjectId("prj-other"))
    with pytest.raises(NotFound):
        await ops.key(stranger, svc.id)
    with pytest.raises(NotFound):
        await ops.rotate_key(stranger, svc.id)


async def test_wrong_secret_key_is_a_permanent_error(
    ops: ServiceOps, principal: Principal, store: Store
) -> None:
    svc = await ops.create(principal, ServiceSpec("echo", [command()]))
    other = ServiceOps(store, Cipher(Cipher.new_key()), FakeBackend(), wake=lambda: None)
    with pytest.raises(PermanentError):
        await other.key(principal, svc.id)
