"""Tests of `FakeBackend`, the in-memory backend the controller's unit tests drive."""

from __future__ import annotations

from modelport.backends.base import Backend, LaunchSpec, latest_attempt
from modelport.backends.fake import FakeBackend
from modelport.domain.ids import DeploymentId, ReplicaId, ServiceId


def spec(replica: str) -> LaunchSpec:
    return LaunchSpec(ReplicaId(replica), DeploymentId("dep-1"), ServiceId("svc-1"), ["{python}"])


async def test_lifecycle() -> None:
    backend = FakeBackend()
    as_protocol: Backend = backend
    placement = await as_protocol.start(spec("rep-1"))

    assert (await backend.observe(placement.handle)).alive
    assert not await backend.probe(placement.address, "/health")
    backend.make_ready("rep-1")
    assert await backend.probe(placement.address, "/health")
    assert [d.replica_id for d in await backend.discover()] == ["rep-1"]

    await backend.stop(placement.handle, grace_period=1.0)
    observed = await backend.observe(placement.handle)
    assert not observed.alive
    assert observed.exit_code == -15
    assert await backend.discover() == []
    assert backend.stopped == [placement.handle]


async def test_crash_and_failed_start() -> None:
    backend = FakeBackend(auto_ready=True)
    first = await backend.start(spec("rep-1"))
    backend.crash("rep-1", exit_code=-9)
    assert (await backend.observe(first.handle)).exit_code == -9

    backend.fail_next_start("boom: bad model")
    second = await backend.start(spec("rep-2"))
    observed = await backend.observe(second.handle)
    assert not observed.alive
    assert observed.exit_code == 1
    assert latest_attempt(await backend.logs(ReplicaId("rep-2"))) == "boom: bad model"
    assert not (await backend.observe("unknown")).alive
