"""The `Backend` protocol: every process (or remote actor) call of Modelport lives behind it.

The controller only ever sees this interface, so a backend that places replicas on remote
nodes (Ray: cpu/memory/gpu as Ray resources, addresses not on loopback) fits without changing
the controller. A backend:

- `start(spec)` places one replica and returns where it listens (`Placement`); it does not
  wait for readiness — the controller probes `health_path` on `address`.
- `observe(handle)` says whether the replica's process is still alive (and its exit code).
- `stop(handle, grace_period)` stops it: SIGTERM (or the remote equivalent), then a kill
  after the grace period. Idempotent: stopping a gone replica is fine.
- `discover()` lists every replica this installation started that is still alive, so a
  restarted control plane can adopt it (or stop it, when nothing wants it).
- `logs(replica_id, tail)` returns the last lines of its output (also after it exited).
- `capacity()` is what the backend can place in total; the controller subtracts what placed
  replicas request and keeps a deployment `pending` when the rest does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from modelport.domain.ids import DeploymentId, ReplicaId, ServiceId
from modelport.domain.resources import Resources

START_MARKER = "--- modelport: replica starting ---"
"""A backend writes this line to a replica's log before each start, so the controller can tell
the output of the latest attempt from that of earlier ones (`latest_attempt`)."""


def latest_attempt(log: str) -> str:
    """The part of a log tail written since the replica's last start."""
    return log.rsplit(START_MARKER, 1)[-1].lstrip("\n")


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """What to start for one replica. `command` is a runtime template (see
    `domain.runtimes.render_command`); the backend fills in host and port."""

    replica_id: ReplicaId
    deployment_id: DeploymentId
    service_id: ServiceId
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    model_uri: str = ""
    model_name: str = ""


@dataclass(frozen=True, slots=True)
class Placement:
    handle: str  # opaque to everyone but the backend; stored with the replica
    address: str  # host:port the model server listens on
    node: str


@dataclass(frozen=True, slots=True)
class Observation:
    alive: bool
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class Discovered:
    """A live replica found by `discover()`."""

    replica_id: ReplicaId
    deployment_id: DeploymentId
    handle: str
    address: str
    node: str


class Backend(Protocol):
    name: str

    def capacity(self) -> Resources: ...

    async def start(self, spec: LaunchSpec) -> Placement: ...

    async def observe(self, handle: str) -> Observation: ...

    async def stop(self, handle: str, grace_period: float) -> None: ...

    async def discover(self) -> list[Discovered]: ...

    async def logs(self, replica_id: ReplicaId, tail: int = 100) -> str: ...
