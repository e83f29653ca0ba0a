"""`FakeBackend`: an in-memory backend for unit tests of the controller (ships with the package).

Replicas "start" instantly; tests decide when they become ready (`make_ready`), crash
(`crash`) or fail at start (`fail_next_start`). It also answers readiness probes, so the
controller can be driven without sockets or processes. Not thread-safe; one event loop.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from modelport.backends.base import (
    START_MARKER,
    Discovered,
    LaunchSpec,
    Observation,
    Placement,
)
from modelport.domain.ids import ReplicaId
from modelport.domain.resources import Resources


@dataclass
class _FakeProcess:
    spec: LaunchSpec
    handle: str
    address: str
    alive: bool = True
    ready: bool = False
    exit_code: int | None = None
    log: list[str] = field(default_factory=list)


class FakeBackend:
    name = "fake"

    def __init__(self, capacity: Resources = Resources(8, 16384, 0), auto_ready: bool = False):
        self._capacity = capacity
        self.auto_ready = auto_ready
        self.processes: dict[str, _FakeProcess] = {}
        self.started: list[LaunchSpec] = []
        self.stopped: list[str] = []
        self._ports = itertools.count(20000)
        self._fail_next: str | None = None

    def capacity(self) -> Resources:
        return self._capacity

    async def start(self, spec: LaunchSpec) -> Placement:
        port = next(self._ports)
        handle = f"fake:{spec.replica_id}:{port}"
        proc = _FakeProcess(spec, handle, f"127.0.0.1:{port}", ready=self.auto_ready)
        proc.log.append(START_MARKER)
        if self._fail_next is not None:
            proc.alive, proc.exit_code = False, 1
            proc.log.append(self._fail_next)
            self._fail_next = None
        self.processes[handle] = proc
        self.started.append(spec)
        return Placement(handle=handle, address=proc.address, node="fake-node")

    async def observe(self, handle: str) -> Observation:
        proc = self.processes.get(handle)
        if proc is None:
            return Observation(alive=False, exit_code=None)
        return Observation(alive=proc.alive, exit_code=proc.exit_code)

    async def stop(self, handle: str, grace_period: float) -> None:
        proc = self.processes.get(handle)
        if proc is not None and proc.alive:
            proc.alive, proc.ready, proc.exit_code = False, False, -15
        self.stopped.append(handle)

    async def discover(self) -> list[Discovered]:
        return [
            Discovered(p.spec.replica_id, p.spec.deployment_id, p.handle, p.address, "fake-node")
            for p in self.processes.values()
            if p.alive
        ]

    async def logs(self, replica_id: ReplicaId, tail: int = 100) -> str:
        lines = [
            ln for p in self.processes.values() if p.spec.replica_id == replica_id for ln in p.log
        ]
        return "\n".join(lines[-tail:])

    async def probe(self, address: str, path: str) -> bool:
        return any(p.alive and p.ready for p in self.processes.values() if p.address == address)

    # -- test controls -------------------------------------------------------------------
    def alive(self) -> list[_FakeProcess]:
        return [p for p in self.processes.values() if p.alive]

    def make_ready(self, replica_id: str | None = None) -> None:
        for p in self.alive():
            if replica_id is None or p.spec.replica_id == replica_id:
                p.ready = True

    def crash(self, replica_id: str, exit_code: int = -9) -> None:
        for p in self.alive():
            if p.spec.replica_id == replica_id:
                p.alive, p.ready, p.exit_code = False, False, exit_code

    def fail_next_start(self, log_line: str) -> None:
        self._fail_next = log_line
