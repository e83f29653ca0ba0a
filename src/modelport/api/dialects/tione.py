"""HTTP handler of the TI-ONE dialect: `POST /` (or `GET /`) with an `X-TC-Action` header.

Called by `modelport.api.dialects.routes` for every root request that carries `X-TC-Action`.
The checks run in the vendor's order, each failure its own code:

1. `Authorization` parses (`AuthFailure.InvalidAuthorization`);
2. its SecretId is a Modelport access key (`AuthFailure.SecretIdNotFound`);
3. `X-TC-Timestamp` lies within 300 s of the server clock (`AuthFailure.SignatureExpire`);
4. the TC3-HMAC-SHA256 signature matches (`AuthFailure.SignatureFailure`);
5. `X-TC-Version` is `2021-11-11` (`NoSuchVersion`), `X-TC-Action` is one we answer
   (`InvalidAction`);
6. the parameters parse, and the action runs as the key's principal.

Every answer is HTTP 200 with `Content-Type: application/json` exactly; domain errors become
vendor codes (`dialects.tione.errors.of_domain`). Unexpected exceptions are caught here only,
logged with their traceback and answered `InternalError` — never a 500.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from modelport.api.deps import ApiContext
from modelport.dialects.tione import (
    commands,
    envelope,
    listing,
    params,
    protocol,
    render,
    signature,
)
from modelport.dialects.tione.errors import Code, TioneError, not_found, of_domain
from modelport.domain.auth import Principal
from modelport.domain.errors import ModelportError, NotFound, Unauthorized
from modelport.domain.models import Model
from modelport.domain.runtimes import Runtime
from modelport.domain.services import AuthType, Deployment, DesiredState, Service
from modelport.query.ast import And, Cond, ListQuery, Op
from modelport.services import credentials, models, runtimes
from modelport.services.services import DeploymentPatch, DeploymentSpec, ServicePatch, ServiceSpec

log = logging.getLogger(__name__)

Action = Callable[[ApiContext, Principal, params.Reader], Awaitable[dict[str, Any]]]

SERVER_SIDE = {Code.INTERNAL_ERROR, Code.PROCESSING, Code.RESOURCE_UNAVAILABLE}
NEW_VERSION_WEIGHT = 0  # a version added to a group gets no traffic until reweighted


async def handle(request: Request, ctx: ApiContext) -> Response:
    request_id = str(uuid.uuid4())
    action = request.headers.get("x-tc-action", "")
    try:
        answer = envelope.success(await _serve(request, ctx), request_id)
    except TioneError as err:
        answer = envelope.error(err, request_id)
    except ModelportError as exc:
        translated = of_domain(exc)
        if translated.code in SERVER_SIDE:
            log.error("tione action %s failed (request %s): %s", action, request_id, exc.message)
        answer = envelope.error(translated, request_id)
    except Exception:  # the top-level handler: log it, answer InternalError, never a 500
        log.exception("tione action %s failed (request %s)", action, request_id)
        answer = envelope.error(TioneError(Code.INTERNAL_ERROR, "internal error"), request_id)
    return Response(
        envelope.body(answer), status_code=envelope.STATUS, media_type=envelope.CONTENT_TYPE
    )


async def _serve(request: Request, ctx: ApiContext) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in request.headers.items()}
    auth = signature.parse_authorization(headers.get("authorization"))
    try:
        key = await credentials.access_key(ctx.store, ctx.cipher, auth.secret_id)
    except Unauthorized as exc:
        raise TioneError(
            Code.SECRET_ID_NOT_FOUND, f"The SecretId {auth.secret_id!r} is not found."
        ) from exc
    timestamp = signature.check_timestamp(headers.get("x-tc-timestamp"), ctx.clock().timestamp())
    body = await request.body()
    query = request.scope.get("query_string", b"").decode("latin-1")
    signed = signature.SignedRequest(request.method, request.url.path, query, headers, body)
    signature.verify(auth, signed, key.secret, timestamp)
    who = credentials.principal_of_key(key)
    protocol.check_version(headers.get("x-tc-version"))
    name = protocol.action_of(headers.get("x-tc-action"))
    data, loose = params.decode(request.method, headers.get("content-type", ""), query, body)
    return await ACTIONS[name](ctx, who, params.Reader(data, loose))


# -- reading ---------------------------------------------------------------------------------
def _visible(svc: Service, workspace: str | None) -> bool:
    if svc.desired_state == DesiredState.DELETED:
        return False
    return workspace is None or svc.workspace == workspace


async def _group(ctx: ApiContext, who: Principal, target: commands.ById) -> Service:
    try:
        svc = await ctx.ops.get(who, target.id)
    except NotFound as exc:
        raise not_found("ServiceGroup", target.id) from exc
    if not _visible(svc, target.workspace):
        raise not_found("ServiceGroup", target.id)
    return svc


async def _service(
    ctx: ApiContext, who: Principal, target: commands.ById
) -> tuple[Service, Deployment]:
    query = ListQuery(
        filter=And(
            (
                Cond("deployment_id", Op.EQ, target.id),
                Cond("desired_state", Op.NE, DesiredState.DELETED.value),
            )
        ),
        limit=1,
        count=False,
    )
    found, _ = await ctx.ops.list(who, query)
    if not found or not _visible(found[0], target.workspace):
        raise not_found("Service", target.id)
    return found[0], _deployment(found[0], target.id)


def _deployment(svc: Service, deployment_id: str) -> Deployment:
    for d in svc.deployments:
        if d.id == deployment_id:
            return d
    raise not_found("Service", deployment_id)


async def _catalog(ctx: ApiContext, who: Principal, services: Iterable[Service]) -> render.Catalog:
    """The runtimes and models the services' deployments use: one query each."""
    deps = [d for s in services for d in s.deployments]
    runtime_ids = sorted({d.runtime_id for d in deps})
    model_ids = sorted({d.model_id for d in deps if d.model_id})
    found_runtimes: dict[str, Runtime] = {}
    found_models: dict[str, Model] = {}
    if runtime_ids:
        query = ListQuery(
            filter=Cond("id", Op.IN, runtime_ids), limit=len(runtime_ids), count=False
        )
        items, _ = await runtimes.list_runtimes(ctx.store, who, query)
        found_runtimes = {r.id: r for r in items}
    if model_ids:
        found_models = await models.by_ids(ctx.store, who, model_ids)
    return render.Catalog(found_runtimes, found_models)


# -- actions ---------------------------------------------------------------------------------
async def describe_groups(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    q = listing.groups_query(r)
    items, total = await ctx.ops.list(who, q.page)
    _, everything = await ctx.ops.list(who, q.everything)
    catalog = await _catalog(ctx, who, items)
    return {
        "TotalCount": total,
        "ServiceGroups": [render.service_group(s, catalog) for s in items],
        "GlobalTotalCount": everything,
    }


async def describe_group(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    svc = await _group(ctx, who, commands.by_group(r))
    return {"ServiceGroup": render.service_group(svc, await _catalog(ctx, who, [svc]))}


async def describe_service(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    svc, dep = await _service(ctx, who, commands.by_service(r))
    return {"Service": render.service(svc, dep, await _catalog(ctx, who, [svc]))}


async def _deployment_spec(
    ctx: ApiContext, who: Principal, v: commands.VersionSpec, weight: int
) -> DeploymentSpec:
    runtime: str | None = None
    if v.image is not None:
        try:
            runtime = (await runtimes.get(ctx.store, who, v.image)).id
        except NotFound as exc:
            if v.command is None:
                raise TioneError(
                    Code.IMAGE_NOT_FOUND,
                    f"The image {v.image!r} is no Modelport runtime; name a runtime, or give "
                    "a Command to run it with the `command` runtime.",
                ) from exc
            runtime = "command"
    elif v.model is None and v.command is None:
        raise TioneError(Code.MISSING_PARAMETER, "The parameter `ImageInfo` is required.")
    model_id = await _model_id(ctx, who, v.model) if v.model else None
    spec = DeploymentSpec(
        model_id=model_id,
        runtime=runtime,
        replicas=v.replicas,
        cpu=v.cpu,
        memory=v.memory,
        gpu=v.gpu,
        env=dict(v.env),
        weight=weight,
        command=v.command,
    )
    if v.grace_period is not None:
        spec = replace(spec, grace_period=v.grace_period)
    if v.scaling is not None:
        spec = replace(spec, autoscaling=v.scaling.autoscaling, schedules=v.scaling.schedules)
    return spec


async def _model_id(ctx: ApiContext, who: Principal, ref: commands.ModelRef) -> str:
    if ref.id is not None:
        return (await models.get(ctx.store, who, ref.id)).id
    query = ListQuery(
        filter=And((Cond("name", Op.EQ, ref.name), Cond("version", Op.EQ, ref.version))),
        limit=1,
        count=False,
    )
    found, _ = await models.list_models(ctx.store, who, query)
    if not found:
        raise TioneError(
            Code.NO_MODEL, f"model {ref.name!r} version {ref.version!r} does not exist."
        )
    return found[0].id


async def create_service(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    cmd = commands.create_service(r)
    if cmd.group_id is not None:
        group = await _group(ctx, who, commands.ById(cmd.group_id, cmd.workspace))
        spec = await _deployment_spec(ctx, who, cmd.version, NEW_VERSION_WEIGHT)
        svc, dep = await ctx.ops.add_deployment(who, group.id, spec)
    else:
        assert cmd.name is not None
        spec = await _deployment_spec(ctx, who, cmd.version, 100)
        svc = await ctx.ops.create(
            who,
            ServiceSpec(
                name=cmd.name,
                deployments=[spec],
                description=cmd.description,
                tags=cmd.tags,
                auth=True if cmd.auth is None else cmd.auth,
                workspace=cmd.workspace or listing.DEFAULT_WORKSPACE,
                stop_at=cmd.stop_at,
            ),
        )
        dep = svc.deployments[0]
    return {"Service": render.service(svc, dep, await _catalog(ctx, who, [svc]))}


async def modify_service(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    m = commands.modify_service(r)
    svc, dep = await _service(ctx, who, m.target)
    if m.action == "STOP":
        if len(svc.deployments) > 1:
            raise TioneError(
                Code.UNSUPPORTED_OPERATION,
                "STOP stops a whole group in Modelport, and this group has several services; "
                "SCALE this one to 0 Replicas instead.",
            )
        svc = await ctx.ops.stop(who, svc.id)
    elif m.action == "RESUME":
        svc = await ctx.ops.start(who, svc.id)
    elif m.replicas is not None:  # SCALE, or Replicas without an action
        svc = await ctx.ops.scale(who, svc.id, m.replicas, dep.id)
    if m.scaling is not None:
        a = m.scaling.autoscaling
        patch = DeploymentPatch(
            autoscaling=a, no_autoscaling=a is None, schedules=m.scaling.schedules
        )
        svc = await ctx.ops.update_deployment(who, svc.id, dep.id, patch)
    if m.description is not None:
        svc = await ctx.ops.update(who, svc.id, ServicePatch(description=m.description))
    dep = _deployment(svc, dep.id)
    return {"Service": render.service(svc, dep, await _catalog(ctx, who, [svc]))}


async def delete_service(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    svc, dep = await _service(ctx, who, commands.by_service(r))
    if len(svc.deployments) == 1:  # the last service of a group takes the group with it
        await ctx.ops.delete(who, svc.id)
    else:
        await ctx.ops.remove_deployment(who, svc.id, dep.id)
    return {}


async def delete_group(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    svc = await _group(ctx, who, commands.by_group(r, commands.DELETE_GROUP))
    await ctx.ops.delete(who, svc.id)
    return {}


async def set_weights(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    w = commands.set_weights(r)
    svc = await _group(ctx, who, w.target)
    unknown = sorted(set(w.weights) - {d.id for d in svc.deployments})
    if unknown:
        raise not_found("Service", unknown[0])
    svc = await ctx.ops.set_weights(who, svc.id, w.weights)
    return {"ServiceGroup": render.service_group(svc, await _catalog(ctx, who, [svc]))}


async def call_info(ctx: ApiContext, who: Principal, r: params.Reader) -> dict[str, Any]:
    svc = await _group(ctx, who, commands.by_group(r))
    token = None
    if svc.auth_type == AuthType.KEY and who.is_admin:
        token = await ctx.ops.key(who, svc.id)
    return render.call_info(svc, ctx.service_url(svc.id), token)


ACTIONS: dict[str, Action] = {
    "DescribeModelServiceGroups": describe_groups,
    "DescribeModelServiceGroup": describe_group,
    "DescribeModelService": describe_service,
    "CreateModelService": create_service,
    "ModifyModelService": modify_service,
    "DeleteModelService": delete_service,
    "DeleteModelServiceGroup": delete_group,
    "ModifyServiceGroupWeights": set_weights,
    "DescribeModelServiceCallInfo": call_info,
}
