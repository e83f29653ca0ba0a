"""`/models`: register, list, get, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from modelport.api.deps import ContextDep, PrincipalDep, list_parameters, list_query
from modelport.api.errors import responses
from modelport.api.schemas import ModelCreate, ModelPublic, Page
from modelport.services import models

router = APIRouter(prefix="/models", tags=["models"])
FIELDS = {"id", "name", "version", "framework"}


@router.post(
    "", status_code=201, operation_id="models-register", responses=responses("invalid", "conflict")
)
async def register(body: ModelCreate, ctx: ContextDep, who: PrincipalDep) -> ModelPublic:
    m = await models.register(
        ctx.store,
        who,
        name=body.name,
        uri=body.uri,
        framework=body.framework,
        version=body.version,
        description=body.description,
    )
    return ModelPublic.of(m)


@router.get(
    "",
    operation_id="models-list",
    responses=responses("invalid"),
    openapi_extra=list_parameters(FIELDS),
)
async def list_(request: Request, ctx: ContextDep, who: PrincipalDep) -> Page[ModelPublic]:
    items, total = await models.list_models(ctx.store, who, list_query(request, FIELDS))
    return Page(data=[ModelPublic.of(m) for m in items], total=total)


@router.get("/{model_id}", operation_id="models-get", responses=responses("not_found"))
async def get(model_id: str, ctx: ContextDep, who: PrincipalDep) -> ModelPublic:
    return ModelPublic.of(await models.get(ctx.store, who, model_id))


@router.delete(
    "/{model_id}",
    status_code=204,
    operation_id="models-delete",
    responses=responses("not_found", "conflict"),
)
async def delete(model_id: str, ctx: ContextDep, who: PrincipalDep) -> Response:
    await models.delete(ctx.store, who, model_id)
    return Response(status_code=204)
