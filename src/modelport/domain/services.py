"""Services (what callers reach) and deployments (one model version served by one runtime).

A service has one URL, one auth mode and key, a load-balancing policy and one or more
deployments. Status fields are derived by the controller (see `status.py`) and never set by
hand; spec fields are written by users. The two sets of columns never overlap, so the
controller's status writes cannot lose a user's update (and do not bump `revision`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from modelport.domain.ids import DeploymentId, ModelId, ProjectId, RuntimeId, ServiceId
from modelport.domain.resources import Resources


class Status(enum.StrEnum):
    PENDING = "pending"
    DEPLOYING = "deploying"
    RUNNING = "running"
    DEGRADED = "degraded"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DELETING = "deleting"


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
    # derived by the controller
    status: Status = Status.DEPLOYING
    status_reason: str = ""
    ready_replicas: int = 0
    ever_ready: bool = False
    invocation_count: int = 0
    failure_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def resources(self) -> Resources:
        return Resources(self.cpu, self.memory, self.gpu)


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
    stop_at: datetime | None = None
    transition_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    revision: int = 1

    @property
    def desired_replicas(self) -> int:
        if self.desired_state != DesiredState.RUNNING:
            return 0
        return sum(d.replicas for d in self.deployments)

    @property
    def ready_replicas(self) -> int:
        return sum(d.ready_replicas for d in self.deployments)
