"""Tests of `LocalBackend` with real processes (no mocks): start, observe, stop, discover, logs."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from modelport.backends.base import Backend, LaunchSpec, Placement
from modelport.backends.local import LocalBackend
from modelport.domain.errors import Invalid, PermanentError
from modelport.domain.ids import DeploymentId, ReplicaId, ServiceId
from modelport.domain.resources import Resources

HTTP_SERVER = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]
SLEEPER = ["{python}", "-c", "import time; time.sleep(60)"]
DEADLINE = 10.0


def spec(
    replica: str, command: list[str], env: dict[str, str] | None = None, deployment: str = "dep-1"
) -> LaunchSpec:
    return LaunchSpec(
        replica_id=ReplicaId(replica),
        deployment_id=DeploymentId(deployment),
        service_id=ServiceId("svc-1"),
        command=command,
        env=env or {},
    )


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it is true, failing after DEADLINE seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def group_members(pgid: int) -> list[int]:
    """Pids of live (non-zombie) processes in process group `pgid`."""
    pids = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                pids.append(p.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return pids


def is_running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def pid_of(placement: Placement) -> int:
    return int(placement.handle.split(":")[0])


class Launcher:
    """Starts replicas through a backend and remembers them, so teardown stops them all."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.placements: list[Placement] = []

    async def __call__(self, launch: LaunchSpec) -> Placement:
        placement = await self.backend.start(launch)
        self.placements.append(placement)
        return placement


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def backend(data_dir: Path) -> AsyncIterator[LocalBackend]:
    b = LocalBackend(data_dir)
    yield b
    await b.aclose()


@pytest.fixture
async def launch(backend: LocalBackend, data_dir: Path) -> AsyncIterator[Launcher]:
    launcher = Launcher(backend)
    yield launcher
    for placement in launcher.placements:
        await backend.stop(placement.handle, grace_period=1.0)
        assert group_members(pid_of(placement)) == []
    assert await LocalBackend(data_dir).discover() == []


async def read_logs(backend: LocalBackend, replica: str, pattern: str) -> str:
    async def found() -> bool:
        return re.search(pattern, await backend.logs(ReplicaId(replica))) is not None

    await eventually(found, f"{pattern!r} in the log of {replica}")
    return await backend.logs(ReplicaId(replica))


def test_local_backend_satisfies_the_protocol(data_dir: Path) -> None:
    b: Backend = LocalBackend(data_dir)
    assert b.name == "local"


async def test_start_serve_observe_stop(backend: LocalBackend, launch: Launcher) -> None:
    placement = await launch(spec("rep-http", HTTP_SERVER))
    host, _, port = placement.address.partition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert placement.node

    async with httpx.AsyncClient(timeout=1.0) as client:

        async def answers() -> bool:
            try:
                return (await client.get(f"http://{placement.address}/")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, "the replica's port to answer")

    observed = await backend.observe(placement.handle)
    assert observed.alive
    assert observed.exit_code is None
    assert isinstance(await backend.logs(ReplicaId("rep-http")), str)

    await backend.stop(placement.handle, grace_period=5.0)
    observed = await backend.observe(placement.handle)
    assert not observed.alive
    assert observed.exit_code == -15
    assert group_members(pid_of(placement)) == []
    await backend.stop(placement.handle, grace_period=5.0)  # idempotent


async def test_crash_reports_exit_code_and_logs(backend: LocalBackend, launch: Launcher) -> None:
    command = [
        "{python}",
        "-c",
        "import sys; print('boom: bad model', file=sys.stderr); sys.exit(3)",
    ]
    placement = await launch(spec("rep-crash", command))

    async def exited() -> bool:
        return (await backend.observe(placement.handle)).exit_code is not None

    await eventually(exited, "the replica to exit")
    observed = await backend.observe(placement.handle)
    assert not observed.alive
    assert observed.exit_code == 3
    assert "boom: bad model" in await backend.logs(ReplicaId("rep-crash"))
    await backend.stop(placement.handle, grace_period=1.0)  # stopping a gone replica is fine


async def test_missing_executable_is_permanent(backend: LocalBackend, launch: Launcher) -> None:
    with pytest.raises(PermanentError, match="no-such-model-server"):
        await launch(spec("rep-missing", ["/nonexistent/no-such-model-server", "{port}"]))
    assert "no-such-model-server" in await backend.logs(ReplicaId("rep-missing"))


async def test_stop_kills_the_group_that_ignores_sigterm(
    backend: LocalBackend, launch: Launcher
) -> None:
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        'print(\\"child-ready\\", flush=True); time.sleep(60)\'])\n'
        "print('ready', child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    placement = await launch(spec("rep-stubborn", ["{python}", "-c", code]))
    text = await read_logs(
        backend, "rep-stubborn", r"(?s)(ready \d+.*child-ready|child-ready.*ready \d+)"
    )
    match = re.search(r"ready (\d+)", text)
    assert match is not None
    leader, child = pid_of(placement), int(match.group(1))
    assert sorted(group_members(leader)) == sorted([leader, child])

    loop = asyncio.get_running_loop()
    began = loop.time()
    await backend.stop(placement.handle, grace_period=0.5)
    assert loop.time() - began >= 0.5
    assert group_members(leader) == []
    assert not is_running(leader)
    assert not is_running(child)
    assert (await backend.observe(placement.handle)).exit_code == -9


async def test_discover_after_restart(
    backend: LocalBackend, launch: Launcher, data_dir: Path, tmp_path: Path
) -> None:
    first = await launch(spec("rep-a", SLEEPER, deployment="dep-a"))
    second = await launch(spec("rep-b", SLEEPER, deployment="dep-b"))

    restarted = LocalBackend(data_dir)
    found = sorted(await restarted.discover(), key=lambda d: d.replica_id)
    assert [(d.replica_id, d.deployment_id) for d in found] == [
        ("rep-a", "dep-a"),
        ("rep-b", "dep-b"),
    ]
    assert [d.handle for d in found] == [first.handle, second.handle]
    assert [d.address for d in found] == [first.address, second.address]
    assert {d.node for d in found} == {first.node}

    assert await LocalBackend(tmp_path / "elsewhere").discover() == []

    assert (await restarted.observe(first.handle)).alive
    await restarted.stop(first.handle, grace_period=2.0)
    assert not (await restarted.observe(first.handle)).alive
    assert group_members(pid_of(first)) == []
    assert (await backend.observe(first.handle)).exit_code == -15  # its parent saw it go
    assert [d.replica_id for d in await restarted.discover()] == ["rep-b"]
    await restarted.aclose()


async def test_reused_pid_is_not_taken_for_the_replica(
    backend: LocalBackend, launch: Launcher, data_dir: Path
) -> None:
    placement = await launch(spec("rep-sleep", SLEEPER))
    pid, created = placement.handle.split(":")
    stale = f"{pid}:{float(created) + 1000:.3f}"

    assert not (await LocalBackend(data_dir).observe(stale)).alive
    assert not (await backend.observe(stale)).alive
    await backend.stop(stale, grace_period=0.5)  # must not touch the live process
    assert (await backend.observe(placement.handle)).alive

    with pytest.raises(Invalid):
        await backend.observe("not-a-handle")


async def test_env_and_port_reach_the_process(backend: LocalBackend, launch: Launcher) -> None:
    code = (
        "import os; e = os.environ; "
        "print('env', e['FOO'], e['PORT'], e['MODELPORT_REPLICA_ID'], e['MODELPORT_SERVICE_ID'])"
    )
    placement = await launch(spec("rep-env", ["{python}", "-c", code], env={"FOO": "bar"}))
    port = placement.address.rpartition(":")[2]
    text = await read_logs(backend, "rep-env", r"env ")
    assert f"env bar {port} rep-env svc-1" in text


async def test_logs_tail(backend: LocalBackend, data_dir: Path) -> None:
    assert await backend.logs(ReplicaId("rep-none")) == ""
    log = data_dir / "logs" / "rep-long.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {i}\n" for i in range(20000)))
    assert await backend.logs(ReplicaId("rep-long"), tail=3) == "line 19997\nline 19998\nline 19999"
    assert (await backend.logs(ReplicaId("rep-long"))).splitlines()[0] == "line 19900"
    assert await backend.logs(ReplicaId("rep-long"), tail=0) == ""
    with pytest.raises(Invalid):
        await backend.logs(ReplicaId("../escape"))


def test_capacity(data_dir: Path) -> None:
    given = Resources(cpu=2, memory=1024, gpu=1)
    assert LocalBackend(data_dir, capacity=given).capacity() == given
    machine = LocalBackend(data_dir).capacity()
    assert machine.cpu == os.cpu_count()
    assert machine.memory == psutil.virtual_memory().total // (1024 * 1024)
    assert machine.gpu == len(list(Path("/dev").glob("nvidia[0-9]*")))
    assert sys.executable == LocalBackend(data_dir).python


async def test_stop_kills_stragglers_of_an_exited_leader(
    backend: LocalBackend, launch: Launcher
) -> None:
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('spawned', child.pid, flush=True)\n"
    )
    placement = await launch(spec("rep-orphan", ["{python}", "-c", code]))
    text = await read_logs(backend, "rep-orphan", r"spawned \d+")
    match = re.search(r"spawned (\d+)", text)
    assert match is not None
    child = int(match.group(1))

    async def leader_exited() -> bool:
        return (await backend.observe(placement.handle)).exit_code == 0

    await eventually(leader_exited, "the leader to exit")
    assert group_members(pid_of(placement)) == [child]
    await backend.stop(placement.handle, grace_period=1.0)
    assert not is_running(child)


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies")
async def test_a_replica_gets_the_default_policy_whatever_the_servers(
    backend: LocalBackend, launch: Launcher
) -> None:
    # the gateway may run the server's thread under SCHED_BATCH (gateway/scheduling.py)
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    try:
        placement = await launch(spec("rep-policy", SLEEPER))
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    assert os.sched_getscheduler(pid_of(placement)) == os.SCHED_OTHER
