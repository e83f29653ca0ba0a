"""Wire models of the native API: `XCreate`, `XPatch`, `XPublic`, `XsPublic(data, total)`.

They are not tables and not domain objects; `from_domain` converters live beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from modelport.domain.events import Event
from modelport.domain.models import Framework, Model
from modelport.domain.replicas import Replica
from modelport.domain.runtimes import Runtime
from modelport.domain.scaling import Autoscaling, ScaleJob
from modelport.domain.services import Deployment, LbPolicy, Service, TrafficPolicy
from modelport.services.services import DeploymentSpec
from modelport.services.stats import DeploymentStats, MinuteSummary, ServiceStats

T = TypeVar("T")


class Strict(BaseModel):
    """A request body: unknown fields, NaN and infinities are refused, and so is a NUL
    character in any text (no stored text can hold one), each naming its field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise PydanticCustomError("nul", "a text cannot contain a NUL character")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class Page(BaseModel, Generic[T]):
    data: list[T]
    total: int


# -- models ---------------------------------------------------------------------------------
class ModelCreate(Strict):
    name: str = Field(description="Model name; letters, digits, '.', '_', '-'.")
    uri: str | None = Field(
        default=None, description="Absolute path of the artifact on the server's machine."
    )
    framework: Framework | None = Field(default=None, description="Detected when left out.")
    version: str = "1"
    description: str = ""


class ModelPublic(BaseModel):
    id: str
    name: str
    version: str
    framework: Framework
    uri: str | None
    size: int
    description: str
    created_at: datetime

    @classmethod
    def of(cls, m: Model) -> ModelPublic:
        return cls(
            id=m.id,
            name=m.name,
            version=m.version,
            framework=m.framework,
            uri=m.uri,
            size=m.size,
            description=m.description,
            created_at=m.created_at,
        )


# -- runtimes -------------------------------------------------------------------------------
class RuntimeCreate(Strict):
    name: str
    command: list[str] = Field(description="Arguments; {port}, {host}, {model_uri} are filled.")
    health_path: str = "/"
    framework: Framework = Framework.CUSTOM
    env: dict[str, str] = {}
    request_cpu: float = 0.5
    request_memory: int = 256
    gpu: int = 0
    readme: str = ""


class RuntimePublic(BaseModel):
    id: str
    name: str
    framework: Framework
    command: list[str]
    health_path: str
    env: dict[str, str]
    request_cpu: float
    request_memory: int
    gpu: int
    supports_distributed: bool
    readme: str
    system: bool

    @classmethod
    def of(cls, r: Runtime) -> RuntimePublic:
        return cls(
            id=r.id,
            name=r.name,
            framework=r.framework,
            command=r.command,
            health_path=r.health_path,
            env=r.env,
            request_cpu=r.request_cpu,
            request_memory=r.request_memory,
            gpu=r.gpu,
            supports_distributed=r.supports_distributed,
            readme=r.readme,
            system=r.system,
        )


# -- services -------------------------------------------------------------------------------
class AutoscalingSpec(Strict):
    """Autoscaling on requests in flight (docs/operations.md, "Autoscaling")."""

    min_replicas: int = Field(default=1, description="0 lets the deployment scale to zero.")
    max_replicas: int = 1
    target: float = Field(default=1.0, description="Requests in flight per replica.")
    scale_up_delay: float = Field(
        default=0.0, description="Seconds more replicas must be wanted before they start."
    )
    scale_down_delay: float = Field(
        default=60.0, description="Seconds fewer replicas must be wanted before some stop."
    )

    def to_domain(self) -> Autoscaling:
        return Autoscaling(**self.model_dump())

    @classmethod
    def of(cls, a: Autoscaling) -> AutoscalingSpec:
        return cls(
            min_replicas=a.min_replicas,
            max_replicas=a.max_replicas,
            target=a.target,
            scale_up_delay=a.scale_up_delay,
            scale_down_delay=a.scale_down_delay,
        )


class ScaleJobSpec(Strict):
    """A scheduled scaling job (TI-ONE `CronScaleJob`): when `schedule` fires, it sets the
    count, or with autoscaling the bounds, until another job fires or the count is set again."""

    schedule: str = Field(description="Five-field cron expression, UTC: '0 9 * * 1-5'.")
    replicas: int | None = Field(default=None, description="The count it sets.")
    min_replicas: int | None = Field(default=None, description="With autoscaling: the floor.")
    max_replicas: int | None = Field(default=None, description="With autoscaling: the ceiling.")
    name: str = ""
    exclude_dates: list[str] = Field(
        default=[], description="Dates (YYYY-MM-DD, UTC) on which it does not fire."
    )

    def to_domain(self) -> ScaleJob:
        return ScaleJob(**{**self.model_dump(), "exclude_dates": tuple(self.exclude_dates)})

    @classmethod
    def of(cls, j: ScaleJob) -> ScaleJobSpec:
        return cls(
            schedule=j.schedule,
            replicas=j.replicas,
            min_replicas=j.min_replicas,
            max_replicas=j.max_replicas,
            name=j.name,
            exclude_dates=list(j.exclude_dates),
        )


class DeploymentCreate(Strict):
    model_id: str | None = None
    runtime: str | None = Field(default=None, description="Runtime id or name.")
    replicas: int = 1
    cpu: float | None = None
    memory: int | None = Field(default=None, description="MiB")
    gpu: int | None = None
    env: dict[str, str] = {}
    weight: int = 100
    command: list[str] | None = None
    health_path: str | None = None
    grace_period: float = 10.0
    max_surge: int = Field(default=1, description="Replicas above `replicas` during a rollout.")
    max_unavailable: int = Field(
        default=0, description="Ready replicas a rollout may go below `replicas`."
    )
    rollout_timeout: float = Field(
        default=600.0, description="Seconds new replicas have to be ready before a roll-back."
    )
    autoscaling: AutoscalingSpec | None = Field(
        default=None, description="Set the count from the load; `replicas` is where it starts."
    )
    schedules: list[ScaleJobSpec] = Field(default=[], description="Scheduled scaling jobs.")

    def to_spec(self) -> DeploymentSpec:
        values = self.model_dump(exclude={"autoscaling", "schedules"})
        return DeploymentSpec(
            **values,
            autoscaling=self.autoscaling.to_domain() if self.autoscaling else None,
            schedules=[j.to_domain() for j in self.schedules],
        )


class DeploymentPatch(Strict):
    """A change to one deployment; fields left out keep their value. A new model, runtime,
    env, command, health path or resources rolls the replicas over."""

    model_id: str | None = None
    runtime: str | None = Field(default=None, description="Runtime id or name.")
    cpu: float | None = None
    memory: int | None = Field(default=None, description="MiB")
    gpu: int | None = None
    env: dict[str, str] | None = None
    command: list[str] | None = None
    health_path: str | None = None
    grace_period: float | None = None
    max_surge: int | None = None
    max_unavailable: int | None = None
    rollout_timeout: float | None = None
    autoscaling: AutoscalingSpec | None = Field(
        default=None, description="Replaces the autoscaling settings; null turns it off."
    )
    schedules: list[ScaleJobSpec] | None = Field(
        default=None, description="Replaces the scheduled scaling jobs; [] removes them."
    )
    revision: int | None = Field(default=None, description="Fail with 409 unless current.")


class Traffic(Strict):
    """A service's traffic policy, in and out; fields left out take the defaults."""

    timeout: float = Field(
        default=60.0, description="Seconds to wait for a replica's answer; 0 < timeout <= 3600."
    )
    rate_limit: float | None = Field(
        default=None, description="Requests per second each gateway admits; null: no limit."
    )
    max_concurrency: int | None = Field(
        default=None, description="Requests in flight per replica; null: no limit."
    )
    retry: bool = Field(
        default=True, description="Calls are safe to repeat on another replica after a failure."
    )

    def to_domain(self) -> TrafficPolicy:
        return TrafficPolicy(self.timeout, self.rate_limit, self.max_concurrency, self.retry)

    @classmethod
    def of(cls, t: TrafficPolicy) -> Traffic:
        return cls(
            timeout=t.timeout,
            rate_limit=t.rate_limit,
            max_concurrency=t.max_concurrency,
            retry=t.retry,
        )


class ServiceCreate(Strict):
    name: str
    description: str = ""
    tags: dict[str, str] = {}
    auth: bool = Field(default=True, description="Callers need the service key.")
    lb_policy: LbPolicy = LbPolicy.ROUND_ROBIN
    workspace: str = "0"
    traffic: Traffic = Field(default_factory=Traffic)
    stop_after: float | None = Field(
        default=None, description="Stop the service this many seconds after each start."
    )
    stop_at: datetime | None = Field(
        default=None, description="Stop the service once at this time (with its time zone)."
    )
    deployments: list[DeploymentCreate]


class ServicePatch(Strict):
    description: str | None = None
    tags: dict[str, str] | None = None
    lb_policy: LbPolicy | None = None
    auth: bool | None = None
    traffic: Traffic | None = Field(
        default=None, description="Replaces the whole policy; fields left out take defaults."
    )
    stop_after: float | None = Field(
        default=None,
        description="Stop the service this many seconds after each start, counted from now "
        "if it runs; 0 turns auto stop off.",
    )
    revision: int | None = Field(default=None, description="Fail with 409 unless current.")


class ScaleRequest(Strict):
    replicas: int
    deployment_id: str | None = None
    revision: int | None = None


class WeightsRequest(Strict):
    weights: dict[str, int] = Field(
        description="Deployment id → traffic weight (0-100); deployments left out keep theirs."
    )
    revision: int | None = None


class DeploymentPublic(BaseModel):
    id: str
    model_id: str | None
    runtime_id: str
    version: str
    weight: int
    replicas: int
    ready_replicas: int
    cpu: float
    memory: int
    gpu: int
    env: dict[str, str]
    command: list[str] | None
    health_path: str | None
    grace_period: float
    max_surge: int
    max_unavailable: int
    rollout_timeout: float
    status: str
    status_reason: str
    rollout: str = Field(description='"", "progressing", "complete" or "rolled_back".')
    rollout_started_at: datetime | None
    updated_replicas: int = Field(description="Replicas running the current spec.")
    autoscaling: AutoscalingSpec | None
    schedules: list[ScaleJobSpec]
    target_replicas: int = Field(
        description="Replicas the controller aims for now: `replicas`, or what autoscaling "
        "or the schedule set."
    )
    invocation_count: int
    failure_count: int

    @classmethod
    def of(cls, d: Deployment) -> DeploymentPublic:
        return cls(
            id=d.id,
            model_id=d.model_id,
            runtime_id=d.runtime_id,
            version=d.version,
            weight=d.weight,
            replicas=d.replicas,
            ready_replicas=d.ready_replicas,
            cpu=d.cpu,
            memory=d.memory,
            gpu=d.gpu,
            env=d.env,
            command=d.command,
            health_path=d.health_path,
            grace_period=d.grace_period,
            max_surge=d.max_surge,
            max_unavailable=d.max_unavailable,
            rollout_timeout=d.rollout_timeout,
            status=d.status.value,
            status_reason=d.status_reason,
            rollout=d.rollout.value,
            rollout_started_at=d.rollout_started_at,
            updated_replicas=d.updated_replicas,
            autoscaling=AutoscalingSpec.of(d.autoscaling) if d.autoscaling else None,
            schedules=[ScaleJobSpec.of(j) for j in d.schedules],
            target_replicas=d.wanted,
            invocation_count=d.invocation_count,
            failure_count=d.failure_count,
        )


class ServicePublic(BaseModel):
    id: str
    name: str
    description: str
    owner: str
    workspace: str
    infer_type: str
    auth_type: str
    lb_policy: str
    traffic: Traffic
    tags: dict[str, str]
    desired_state: str
    status: str
    status_reason: str
    progress: int
    replicas: int
    ready_replicas: int
    invocation_count: int
    failure_count: int
    stop_after: float | None = Field(description="Seconds after each start it stops by itself.")
    stop_at: datetime | None = Field(description="When it stops by itself.")
    url: str
    created_at: datetime | None
    updated_at: datetime | None
    transition_at: datetime | None
    revision: int
    deployments: list[DeploymentPublic]

    @classmethod
    def of(cls, s: Service, service_url: Callable[[str], str]) -> ServicePublic:
        return cls(
            id=s.id,
            name=s.name,
            description=s.description,
            owner=s.owner,
            workspace=s.workspace,
            infer_type=s.infer_type,
            auth_type=s.auth_type.value,
            lb_policy=s.lb_policy.value,
            traffic=Traffic.of(s.traffic),
            tags=s.tags,
            desired_state=s.desired_state.value,
            status=s.status.value,
            status_reason=s.status_reason,
            progress=s.progress,
            replicas=sum(d.replicas for d in s.deployments),
            ready_replicas=s.ready_replicas,
            invocation_count=s.invocation_count,
            failure_count=s.failure_count,
            stop_after=s.stop_after,
            stop_at=s.stop_at,
            url=service_url(s.id),
            created_at=s.created_at,
            updated_at=s.updated_at,
            transition_at=s.transition_at,
            revision=s.revision,
            deployments=[DeploymentPublic.of(d) for d in s.deployments],
        )


class ServiceKey(BaseModel):
    service_id: str
    key: str


class ReplicaPublic(BaseModel):
    id: str
    deployment_id: str
    backend: str
    node: str
    address: str | None
    state: str
    restarts: int
    last_error: str
    started_at: datetime | None
    ready_at: datetime | None

    @classmethod
    def of(cls, r: Replica) -> ReplicaPublic:
        return cls(
            id=r.id,
            deployment_id=r.deployment_id,
            backend=r.backend,
            node=r.node,
            address=r.address,
            state=r.state.value,
            restarts=r.restarts,
            last_error=r.last_error,
            started_at=r.started_at,
            ready_at=r.ready_at,
        )


class EventPublic(BaseModel):
    id: str
    object_kind: str
    object_id: str
    service_id: str
    type: str
    reason: str
    message: str
    at: datetime

    @classmethod
    def of(cls, e: Event) -> EventPublic:
        return cls(
            id=e.id,
            object_kind=e.object_kind,
            object_id=e.object_id,
            service_id=e.service_id,
            type=e.type.value,
            reason=e.reason,
            message=e.message,
            at=e.at,
        )


class LogsPublic(BaseModel):
    service_id: str
    replicas: dict[str, str]


class DeploymentStatsPublic(BaseModel):
    deployment_id: str
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, d: DeploymentStats) -> DeploymentStatsPublic:
        return cls(
            deployment_id=d.deployment_id,
            requests=d.requests,
            failures=d.failures,
            requests_per_second=d.requests_per_second,
            p50_ms=d.p50_ms,
            p99_ms=d.p99_ms,
        )


class MinuteStatsPublic(BaseModel):
    minute: datetime = Field(description="The start of the minute.")
    requests: int
    failures: int
    p50_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, m: MinuteSummary) -> MinuteStatsPublic:
        return cls(
            minute=m.minute,
            requests=m.requests,
            failures=m.failures,
            p50_ms=m.p50_ms,
            p99_ms=m.p99_ms,
        )


class ServiceStatsPublic(BaseModel):
    service_id: str
    window_seconds: int
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    deployments: list[DeploymentStatsPublic]
    minutes: list[MinuteStatsPublic]

    @classmethod
    def of(cls, s: ServiceStats) -> ServiceStatsPublic:
        return cls(
            service_id=s.service_id,
            window_seconds=s.window_seconds,
            requests=s.requests,
            failures=s.failures,
            requests_per_second=s.requests_per_second,
            p50_ms=s.p50_ms,
            p99_ms=s.p99_ms,
            deployments=[DeploymentStatsPublic.of(d) for d in s.deployments],
            minutes=[MinuteStatsPublic.of(m) for m in s.minutes],
        )
