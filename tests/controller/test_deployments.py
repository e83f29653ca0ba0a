"""Adding, removing and reweighting deployments of a running service (controller + services)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.controller.test_loop import COMMAND, World, world

from modelport.backends.fake import FakeBackend
from modelport.domain.auth import Principal
from modelport.domain.errors import Conflict, Invalid
from modelport.services.secrets import Cipher
from modelport.services.services import DeploymentSpec
from modelport.store import Store


@pytest.fixture
async def w(store: Store, principal: Principal, cipher: Cipher) -> AsyncIterator[World]:
    it = world(store, principal, cipher, FakeBackend(auto_ready=True))
    yield it
    await it.controller.applier.drain()


async def test_removed_deployment_replicas_are_stopped(w: World) -> None:
    svc = await w.deploy(replicas=2)
    svc, canary = await w.ops.add_deployment(
        w.who, svc.id, DeploymentSpec(runtime="command", command=COMMAND, replicas=1, weight=10)
    )
    await w.controller.reconcile()
    await w.controller.reconcile()
    assert len(w.backend.alive()) == 3
    canary_replicas = [r.id for r in await w.replicas(svc.id) if r.deployment_id == canary.id]
    assert len(canary_replicas) == 1

    await w.ops.remove_deployment(w.who, svc.id, canary.id)
    await w.controller.reconcile()  # the orphaned replica is stopped…
    await w.settle()  # …and its row dropped once its process is gone
    alive = {p.spec.replica_id for p in w.backend.alive()}
    assert canary_replicas[0] not in alive and len(alive) == 2
    assert {r.deployment_id for r in await w.replicas(svc.id)} == {svc.deployments[0].id}


async def test_the_last_deployment_cannot_be_removed(w: World) -> None:
    svc = await w.deploy()
    with pytest.raises(Conflict):
        await w.ops.remove_deployment(w.who, svc.id, svc.deployments[0].id)


async def test_weights(w: World) -> None:
    svc = await w.deploy()
    svc, canary = await w.ops.add_deployment(
        w.who, svc.id, DeploymentSpec(runtime="command", command=COMMAND, replicas=0)
    )
    got = await w.ops.set_weights(w.who, svc.id, {svc.deployments[0].id: 90, canary.id: 10})
    assert [d.weight for d in got.deployments] == [90, 10]
    with pytest.raises(Invalid) as bad:
        await w.ops.set_weights(w.who, svc.id, {canary.id: 101})
    assert bad.value.field == f"weights.{canary.id}"
    with pytest.raises(Invalid):
        await w.ops.set_weights(w.who, svc.id, {"dep-nope": 1})
