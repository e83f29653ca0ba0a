"""Row ⇄ domain converters: the only place where ORM rows and domain objects meet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from typing import Any, TypeVar

from modelport.domain.auth import ApiKey, Project, Role
from modelport.domain.events import Event, EventType
from modelport.domain.ids import (
    ApiKeyId,
    DeploymentId,
    EventId,
    ModelId,
    ProjectId,
    ReplicaId,
    RuntimeId,
    ServiceId,
)
from modelport.domain.models import Framework, Model
from modelport.domain.replicas import Replica, ReplicaState
from modelport.domain.runtimes import Runtime
from modelport.domain.scaling import Autoscaling, ScaleJob
from modelport.domain.services import (
    AuthType,
    Deployment,
    DesiredState,
    LbPolicy,
    Rollout,
    Service,
    Status,
    TrafficPolicy,
)
from modelport.store import tables as t


def project(row: t.ProjectRow) -> Project:
    return Project(ProjectId(row.id), row.name, row.created_at)


def api_key(row: t.ApiKeyRow) -> ApiKey:
    return ApiKey(
        ApiKeyId(row.id),
        ProjectId(row.project_id),
        row.name,
        Role(row.role),
        row.created_at,
        row.expires_at,
    )


def model(row: t.ModelRow) -> Model:
    return Model(
        id=ModelId(row.id),
        project_id=ProjectId(row.project_id),
        name=row.name,
        version=row.version,
        framework=Framework(row.framework),
        uri=row.uri,
        size=row.size,
        description=row.description,
        created_at=row.created_at,
        revision=row.revision,
    )


def model_row(m: Model) -> t.ModelRow:
    return t.ModelRow(
        id=m.id,
        project_id=m.project_id,
        name=m.name,
        version=m.version,
        framework=m.framework.value,
        uri=m.uri,
        size=m.size,
        description=m.description,
        created_at=m.created_at,
    )


def runtime(row: t.RuntimeRow) -> Runtime:
    return Runtime(
        id=RuntimeId(row.id),
        project_id=ProjectId(row.project_id) if row.project_id else None,
        name=row.name,
        framework=Framework(row.framework),
        command=list(row.command),
        health_path=row.health_path,
        env=dict(row.env),
        request_cpu=row.request_cpu,
        request_memory=row.request_memory,
        gpu=row.gpu,
        supports_distributed=row.supports_distributed,
        readme=row.readme,
        system=row.system,
        created_at=row.created_at,
        revision=row.revision,
    )


def fill_runtime_row(row: t.RuntimeRow, rt: Runtime) -> None:
    row.id = rt.id
    row.project_id = rt.project_id
    row.name = rt.name
    row.framework = rt.framework.value
    row.command = list(rt.command)
    row.health_path = rt.health_path
    row.env = dict(rt.env)
    row.request_cpu = rt.request_cpu
    row.request_memory = rt.request_memory
    row.gpu = rt.gpu
    row.supports_distributed = rt.supports_distributed
    row.readme = rt.readme
    row.system = rt.system


def deployment(row: t.DeploymentRow) -> Deployment:
    return Deployment(
        id=DeploymentId(row.id),
        service_id=ServiceId(row.service_id),
        model_id=ModelId(row.model_id) if row.model_id else None,
        runtime_id=RuntimeId(row.runtime_id),
        version=row.version,
        weight=row.weight,
        replicas=row.replicas,
        cpu=row.cpu,
        memory=row.memory,
        gpu=row.gpu,
        env=dict(row.env),
        command=list(row.command) if row.command is not None else None,
        health_path=row.health_path,
        max_surge=row.max_surge,
        max_unavailable=row.max_unavailable,
        grace_period=row.grace_period,
        rollout_timeout=row.rollout_timeout,
        previous=dict(row.previous) if row.previous is not None else None,
        rollout_started_at=row.rollout_started_at,
        autoscaling=_known(Autoscaling, row.autoscaling) if row.autoscaling else None,
        schedules=tuple(scale_job(j) for j in row.schedules or ()),
        scale_set_at=row.scale_set_at,
        status=Status(row.status),
        status_reason=row.status_reason,
        ready_replicas=row.ready_replicas,
        ever_ready=row.ever_ready,
        rollout=Rollout(row.rollout),
        updated_replicas=row.updated_replicas,
        target_replicas=row.target_replicas,
        invocation_count=row.invocation_count,
        failure_count=row.failure_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def fill_deployment_spec(row: t.DeploymentRow, d: Deployment) -> None:
    """Copy the user-owned (spec) fields of `d` onto `row`."""
    row.model_id = d.model_id
    row.runtime_id = d.runtime_id
    row.version = d.version
    row.weight = d.weight
    row.replicas = d.replicas
    row.cpu = d.cpu
    row.memory = d.memory
    row.gpu = d.gpu
    row.env = dict(d.env)
    row.command = list(d.command) if d.command is not None else None
    row.health_path = d.health_path
    row.max_surge = d.max_surge
    row.max_unavailable = d.max_unavailable
    row.grace_period = d.grace_period
    row.rollout_timeout = d.rollout_timeout
    row.previous = dict(d.previous) if d.previous is not None else None
    row.rollout_started_at = d.rollout_started_at
    row.autoscaling = asdict(d.autoscaling) if d.autoscaling is not None else None
    row.schedules = [asdict(j) for j in d.schedules]
    row.scale_set_at = d.scale_set_at


def scale_job(data: dict[str, Any]) -> ScaleJob:
    job = _known(ScaleJob, data)
    return replace(job, exclude_dates=tuple(job.exclude_dates))


def service(row: t.ServiceRow, deployments: Sequence[t.DeploymentRow]) -> Service:
    return Service(
        id=ServiceId(row.id),
        project_id=ProjectId(row.project_id),
        name=row.name,
        description=row.description,
        owner=row.owner,
        workspace=row.workspace,
        infer_type=row.infer_type,
        auth_type=AuthType(row.auth_type),
        lb_policy=LbPolicy(row.lb_policy),
        tags=dict(row.tags),
        desired_state=DesiredState(row.desired_state),
        deployments=tuple(deployment(d) for d in sorted(deployments, key=lambda d: d.created_at)),
        traffic=traffic(row.traffic),
        status=Status(row.status),
        status_reason=row.status_reason,
        progress=row.progress,
        invocation_count=row.invocation_count,
        failure_count=row.failure_count,
        stop_at=row.stop_at,
        stop_after=row.stop_after,
        transition_at=row.transition_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        revision=row.revision,
    )


def replica(row: t.ReplicaRow) -> Replica:
    return Replica(
        id=ReplicaId(row.id),
        deployment_id=DeploymentId(row.deployment_id or ""),  # "": its deployment is gone
        backend=row.backend,
        state=ReplicaState(row.state),
        node=row.node,
        address=row.address,
        handle=row.handle,
        restarts=row.restarts,
        failures=row.failures,
        last_error=row.last_error,
        started_at=row.started_at,
        ready_at=row.ready_at,
        next_start_at=row.next_start_at,
        created_at=row.created_at,
        unhealthy_at=row.unhealthy_at,
        template=row.template,
    )


def replica_values(r: Replica) -> dict[str, object]:
    return {
        "backend": r.backend,
        "state": r.state.value,
        "node": r.node,
        "address": r.address,
        "handle": r.handle,
        "restarts": r.restarts,
        "failures": r.failures,
        "last_error": r.last_error,
        "started_at": r.started_at,
        "ready_at": r.ready_at,
        "next_start_at": r.next_start_at,
        "unhealthy_at": r.unhealthy_at,
        "template": r.template,
    }


def event(row: t.EventRow) -> Event:
    return Event(
        id=EventId(row.id),
        project_id=ProjectId(row.project_id),
        object_kind=row.object_kind,
        object_id=row.object_id,
        service_id=row.service_id,
        type=EventType(row.type),
        reason=row.reason,
        message=row.message,
        at=row.at,
    )


def traffic(data: dict[str, Any]) -> TrafficPolicy:
    """A stored traffic policy; keys it lacks (rows older than the field) take the defaults."""
    return _known(TrafficPolicy, data)


_T = TypeVar("_T")


def _known(cls: type[_T], data: dict[str, Any]) -> _T:
    """A dataclass from stored JSON: keys it does not have are dropped, missing ones default."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})
