"""Services (what callers reach) and deployments (one model version served by one runtime).

A service has one URL, one auth mode and key, a load-balancing policy and one or more
deployments. Status fields are derived by the controller (see `status.py`) and never set by
hand; spec fields are written by users. The two sets of columns never overlap, so the
controller's status writes cannot lose a user's update (and do not bump `revision`).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelport.domain.ids import DeploymentId, ModelId, ProjectId, RuntimeId, ServiceId
from modelport.domain.resources import Resources
from modelport.domain.scaling import Autoscaling, ScaleJob


class Status(enum.StrEnum):
    PENDING = "pending"
    DEPLOYING = "deploying"
    RUNNING = "running"
    DEGRADED = "degraded"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DELETING = "deleting"


class Rollout(enum.StrEnum):
    """Where a deployment's last spec change stands (see docs/operations.md)."""

    NONE = ""  # never changed since it was created
    PROGRESSING = "progressing"
    COMPLETE = "complete"
    ROLLED_BACK = "rolled_back"


class AuthType(enum.StrEnum):
    NONE = "none"
    KEY = "key"


class LbPolicy(enum.StrEnum):
    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_CONNECTIONS = "LEAST_CONNECTIONS"
    SOURCE_IP = "SOURCE_IP"


class DesiredState(enum.StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    """How the gateway treats a service's calls (see docs/gateway.md).

    `timeout`: seconds to wait for a replica's response head. `rate_limit`: requests per second
    each gateway process admits (a token bucket holding one second's worth), None for no limit.
    `max_concurrency`: requests in flight per replica before the service answers 503, None for
    no limit. `retry`: calls are safe to repeat, so a call whose replica failed before
    answering is retried on another replica (a refused connection is always retried).
    """

    timeout: float = 60.0
    rate_limit: float | None = None
    max_concurrency: int | None = None
    retry: bool = True


@dataclass(frozen=True, slots=True)
class Deployment:
    id: DeploymentId
    service_id: ServiceId
    model_id: ModelId | None
    runtime_id: RuntimeId
    version: str
    weight: int
    replicas: int
    cpu: float
    memory: int
    gpu: int
    env: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None  # overrides the runtime's command (custom runtimes)
    health_path: str | None = None
    max_surge: int = 1
    max_unavailable: int = 0
    grace_period: float = 10.0
    rollout_timeout: float = 600.0  # seconds new replicas have to be ready before a roll-back
    # the spec a rollout replaces (`replica_spec()`), kept until it completes or rolls back
    previous: dict[str, Any] | None = None
    rollout_started_at: datetime | None = None
    autoscaling: Autoscaling | None = None
    schedules: tuple[ScaleJob, ...] = ()
    scale_set_at: datetime | None = None  # when replicas, autoscaling or schedules last changed
    # derived by the controller
    status: Status = Status.DEPLOYING
    status_reason: str = ""
    ready_replicas: int = 0
    ever_ready: bool = False
    rollout: Rollout = Rollout.NONE
    updated_replicas: int = 0  # replicas running the current spec
    # the count autoscaling or the schedule set last (None: not yet, or neither is on)
    target_replicas: int | None = None
    invocation_count: int = 0
    failure_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def resources(self) -> Resources:
        return Resources(self.cpu, self.memory, self.gpu)

    @property
    def scaled(self) -> bool:
        """Autoscaling or a schedule decides the replica count, not `replicas` alone."""
        return self.autoscaling is not None or bool(self.schedules)

    @property
    def wanted(self) -> int:
        """The replica count the controller aims for while the service runs."""
        if self.scaled and self.target_replicas is not None:
            return self.target_replicas
        if self.autoscaling is not None:
            a = self.autoscaling
            return min(max(self.replicas, a.min_replicas), a.max_replicas)
        return self.replicas

    @property
    def wakes(self) -> bool:
        """It may scale to zero, and a call wakes it (the gateway holds the call)."""
        return self.autoscaling is not None and self.autoscaling.min_replicas == 0

    def replica_spec(self) -> dict[str, Any]:
        """The fields a replica is started from: changing any of them rolls the replicas over
        (weight, replica count and the rest never restart one)."""
        return {
            "model_id": self.model_id,
            "runtime_id": self.runtime_id,
            "env": dict(self.env),
            "command": list(self.command) if self.command is not None else None,
            "health_path": self.health_path,
            "cpu": self.cpu,
            "memory": self.memory,
            "gpu": self.gpu,
        }

    @property
    def template(self) -> str:
        """Which spec a replica runs (`Replica.template`): see `template_of`."""
        return template_of(self.replica_spec())


SPEC_FIELDS = ("model_id", "runtime_id", "env", "command", "health_path", "cpu", "memory", "gpu")


def spec_fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded spec (`Deployment.previous`) as `Deployment` field values, to roll back to."""
    return {
        "model_id": ModelId(spec["model_id"]) if spec.get("model_id") else None,
        "runtime_id": RuntimeId(spec["runtime_id"]),
        "version": str(spec.get("version", "1")),
        "env": dict(spec.get("env") or {}),
        "command": list(spec["command"]) if spec.get("command") is not None else None,
        "health_path": spec.get("health_path"),
        "cpu": float(spec["cpu"]),
        "memory": int(spec["memory"]),
        "gpu": int(spec["gpu"]),
    }


def template_of(spec: Mapping[str, Any]) -> str:
    """A short hash of a replica spec (`Deployment.replica_spec()`, or a recorded
    `Deployment.previous`, whose other keys are ignored)."""
    canonical = json.dumps({k: spec.get(k) for k in SPEC_FIELDS}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Service:
    id: ServiceId
    project_id: ProjectId
    name: str
    description: str
    owner: str
    workspace: str
    infer_type: str
    auth_type: AuthType
    lb_policy: LbPolicy
    tags: dict[str, str]
    desired_state: DesiredState
    deployments: tuple[Deployment, ...] = ()
    traffic: TrafficPolicy = field(default_factory=TrafficPolicy)
    # derived by the controller
    status: Status = Status.DEPLOYING
    status_reason: str = ""
    progress: int = 0
    invocation_count: int = 0
    failure_count: int = 0
    stop_at: datetime | None = None  # when the controller stops it (auto stop)
    stop_after: float | None = None  # seconds: each start sets `stop_at` this far ahead
    transition_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    revision: int = 1

    @property
    def desired_replicas(self) -> int:
        if self.desired_state != DesiredState.RUNNING:
            return 0
        return sum(d.wanted for d in self.deployments)

    @property
    def ready_replicas(self) -> int:
        return sum(d.ready_replicas for d in self.deployments)
