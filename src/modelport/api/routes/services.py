"""`/services`: deploy, read, list, update, scale, stop, start, delete; keys, replicas, logs,
events, request stats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from modelport.api.deps import ContextDep, PrincipalDep, list_parameters, list_query
from modelport.api.errors import responses
from modelport.api.schemas import (
    DeploymentCreate,
    DeploymentPatch,
    EventPublic,
    LogsPublic,
    Page,
    ReplicaPublic,
    ScaleRequest,
    ServiceCreate,
    ServiceKey,
    ServicePatch,
    ServicePublic,
    ServiceStatsPublic,
    WeightsRequest,
)
from modelport.domain.errors import Invalid
from modelport.query.ast import Cond, ListQuery, Op, Sort
from modelport.services import services
from modelport.services.services import DeploymentPatch as DeploymentChange
from modelport.services.services import ServicePatch as Patch
from modelport.services.services import ServiceSpec

router = APIRouter(prefix="/services", tags=["services"])
FIELDS = {
    "id",
    "name",
    "status",
    "owner",
    "workspace",
    "infer_type",
    "auth_type",
    "lb_policy",
    "desired_state",
    "model_id",
    "tag:",
    "progress",
    "invocation_count",
    "failure_count",
    "created_at",
    "updated_at",
}
# the error answers of the routes (besides 401, 500 and 503, which any route may give)
READ = responses("not_found")
ASK = responses("invalid", "not_found")  # reads with parameters
STATE = responses("not_found", "conflict")  # stop, start, remove a deployment
CHANGE = responses("invalid", "not_found", "conflict")
KEY = responses("forbidden", "not_found", "permanent")


@router.post("", status_code=201, operation_id="services-create", responses=CHANGE)
async def create(body: ServiceCreate, ctx: ContextDep, who: PrincipalDep) -> ServicePublic:
    spec = ServiceSpec(
        name=body.name,
        description=body.description,
        tags=body.tags,
        auth=body.auth,
        lb_policy=body.lb_policy,
        workspace=body.workspace,
        traffic=body.traffic.to_domain(),
        stop_after=body.stop_after,
        stop_at=body.stop_at,
        deployments=[d.to_spec() for d in body.deployments],
    )
    return ServicePublic.of(await ctx.ops.create(who, spec), ctx.service_url)


@router.get(
    "",
    operation_id="services-list",
    responses=responses("invalid"),
    openapi_extra=list_parameters(FIELDS),
)
async def list_(request: Request, ctx: ContextDep, who: PrincipalDep) -> Page[ServicePublic]:
    items, total = await ctx.ops.list(who, list_query(request, FIELDS))
    return Page(data=[ServicePublic.of(s, ctx.service_url) for s in items], total=total)


@router.get("/{service_id}", operation_id="services-get", responses=READ)
async def get(service_id: str, ctx: ContextDep, who: PrincipalDep) -> ServicePublic:
    return ServicePublic.of(await ctx.ops.get(who, service_id), ctx.service_url)


def _revision(body_revision: int | None, if_match: str | None) -> int | None:
    if if_match is None:
        return body_revision
    try:
        return int(if_match.strip('W/"'))
    except ValueError as exc:
        raise Invalid("If-Match", "must be the service's revision number") from exc


@router.patch("/{service_id}", operation_id="services-update", responses=CHANGE)
async def update(
    service_id: str,
    body: ServicePatch,
    ctx: ContextDep,
    who: PrincipalDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ServicePublic:
    patch = Patch(
        description=body.description,
        tags=body.tags,
        lb_policy=body.lb_policy,
        auth=body.auth,
        traffic=body.traffic.to_domain() if body.traffic is not None else None,
        stop_after=body.stop_after,
    )
    svc = await ctx.ops.update(who, service_id, patch, _revision(body.revision, if_match))
    return ServicePublic.of(svc, ctx.service_url)


@router.delete("/{service_id}", status_code=202, operation_id="services-delete", responses=READ)
async def delete(service_id: str, ctx: ContextDep, who: PrincipalDep) -> ServicePublic:
    return ServicePublic.of(await ctx.ops.delete(who, service_id), ctx.service_url)


@router.post("/{service_id}/scale", operation_id="services-scale", responses=CHANGE)
async def scale(
    service_id: str,
    body: ScaleRequest,
    ctx: ContextDep,
    who: PrincipalDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ServicePublic:
    svc = await ctx.ops.scale(
        who, service_id, body.replicas, body.deployment_id, _revision(body.revision, if_match)
    )
    return ServicePublic.of(svc, ctx.service_url)


@router.post("/{service_id}/weights", operation_id="services-weights", responses=CHANGE)
async def weights(
    service_id: str,
    body: WeightsRequest,
    ctx: ContextDep,
    who: PrincipalDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ServicePublic:
    """Shift traffic between deployments (a canary's share); no replica restarts."""
    revision = _revision(body.revision, if_match)
    svc = await ctx.ops.set_weights(who, service_id, body.weights, revision)
    return ServicePublic.of(svc, ctx.service_url)


@router.post(
    "/{service_id}/deployments",
    status_code=201,
    operation_id="services-add-deployment",
    responses=CHANGE,
)
async def add_deployment(
    service_id: str, body: DeploymentCreate, ctx: ContextDep, who: PrincipalDep
) -> ServicePublic:
    """Add a deployment (a new model version) beside the service's others."""
    svc, _ = await ctx.ops.add_deployment(who, service_id, body.to_spec())
    return ServicePublic.of(svc, ctx.service_url)


@router.patch(
    "/{service_id}/deployments/{deployment_id}",
    operation_id="services-update-deployment",
    responses=CHANGE,
)
async def update_deployment(
    service_id: str,
    deployment_id: str,
    body: DeploymentPatch,
    ctx: ContextDep,
    who: PrincipalDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ServicePublic:
    """Change a deployment. A new model, runtime, env, command, health path or resources
    rolls its replicas over, new ones ready before old ones stop, and rolls back when the new
    ones are not ready within `rollout_timeout`."""
    fields = body.model_dump(exclude={"revision", "autoscaling", "schedules"})
    change = DeploymentChange(
        **fields,
        autoscaling=body.autoscaling.to_domain() if body.autoscaling else None,
        no_autoscaling="autoscaling" in body.model_fields_set and body.autoscaling is None,
        schedules=None if body.schedules is None else [j.to_domain() for j in body.schedules],
    )
    revision = _revision(body.revision, if_match)
    svc = await ctx.ops.update_deployment(who, service_id, deployment_id, change, revision)
    return ServicePublic.of(svc, ctx.service_url)


@router.delete(
    "/{service_id}/deployments/{deployment_id}",
    operation_id="services-remove-deployment",
    responses=STATE,
)
async def remove_deployment(
    service_id: str, deployment_id: str, ctx: ContextDep, who: PrincipalDep
) -> ServicePublic:
    """Remove a deployment; its replicas drain and stop. The last one stays."""
    svc = await ctx.ops.remove_deployment(who, service_id, deployment_id)
    return ServicePublic.of(svc, ctx.service_url)


@router.post("/{service_id}/stop", operation_id="services-stop", responses=STATE)
async def stop(service_id: str, ctx: ContextDep, who: PrincipalDep) -> ServicePublic:
    return ServicePublic.of(await ctx.ops.stop(who, service_id), ctx.service_url)


@router.post("/{service_id}/start", operation_id="services-start", responses=STATE)
async def start(service_id: str, ctx: ContextDep, who: PrincipalDep) -> ServicePublic:
    return ServicePublic.of(await ctx.ops.start(who, service_id), ctx.service_url)


@router.get("/{service_id}/key", operation_id="services-key", responses=KEY)
async def key(service_id: str, ctx: ContextDep, who: PrincipalDep) -> ServiceKey:
    return ServiceKey(service_id=service_id, key=await ctx.ops.key(who, service_id))


@router.post("/{service_id}/key/rotate", operation_id="services-rotate-key", responses=KEY)
async def rotate_key(service_id: str, ctx: ContextDep, who: PrincipalDep) -> ServiceKey:
    return ServiceKey(service_id=service_id, key=await ctx.ops.rotate_key(who, service_id))


@router.get("/{service_id}/replicas", operation_id="services-replicas", responses=READ)
async def replicas(service_id: str, ctx: ContextDep, who: PrincipalDep) -> Page[ReplicaPublic]:
    items = await ctx.ops.replicas(who, service_id)
    return Page(data=[ReplicaPublic.of(r) for r in items], total=len(items))


@router.get("/{service_id}/logs", operation_id="services-logs", responses=ASK)
async def logs(
    service_id: str,
    ctx: ContextDep,
    who: PrincipalDep,
    replica: str | None = None,
    tail: Annotated[int, Query()] = 100,
) -> LogsPublic:
    out = await ctx.ops.logs(who, service_id, replica, tail)
    return LogsPublic(service_id=service_id, replicas=out)


@router.get("/{service_id}/stats", operation_id="services-stats", responses=ASK)
async def stats(
    service_id: str,
    ctx: ContextDep,
    who: PrincipalDep,
    minutes: Annotated[
        int, Query(description="Minutes to sum, 1 to 60, the current one included.")
    ] = 5,
) -> ServiceStatsPublic:
    return ServiceStatsPublic.of(await ctx.ops.stats(who, service_id, minutes))


@router.get("/{service_id}/events", operation_id="services-events", responses=ASK)
async def events(
    service_id: str, ctx: ContextDep, who: PrincipalDep, limit: int = 100, offset: int = 0
) -> Page[EventPublic]:
    await ctx.ops.get(who, service_id)
    query = ListQuery(
        filter=Cond("service_id", Op.EQ, service_id),
        sort=(Sort("at", descending=True),),
        limit=limit,
        offset=offset,
    )
    items, total = await services.events(ctx.store, who, query)
    return Page(data=[EventPublic.of(e) for e in items], total=total)
