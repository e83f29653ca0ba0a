"""`/runtimes`: built-in model servers and the project's own command templates."""

from __future__ import annotations

from fastapi import APIRouter, Request

from modelport.api.deps import ContextDep, PrincipalDep, list_parameters, list_query
from modelport.api.errors import responses
from modelport.api.schemas import Page, RuntimeCreate, RuntimePublic
from modelport.services import runtimes

router = APIRouter(prefix="/runtimes", tags=["runtimes"])
FIELDS = {"id", "name", "framework"}


@router.post(
    "", status_code=201, operation_id="runtimes-create", responses=responses("invalid", "conflict")
)
async def create(body: RuntimeCreate, ctx: ContextDep, who: PrincipalDep) -> RuntimePublic:
    rt = await runtimes.create(ctx.store, who, **body.model_dump())
    return RuntimePublic.of(rt)


@router.get(
    "",
    operation_id="runtimes-list",
    responses=responses("invalid"),
    openapi_extra=list_parameters(FIELDS, default_sort="name"),
)
async def list_(request: Request, ctx: ContextDep, who: PrincipalDep) -> Page[RuntimePublic]:
    query = list_query(request, FIELDS, default_sort="name")
    items, total = await runtimes.list_runtimes(ctx.store, who, query)
    return Page(data=[RuntimePublic.of(r) for r in items], total=total)


@router.get("/{ref}", operation_id="runtimes-get", responses=responses("not_found"))
async def get(ref: str, ctx: ContextDep, who: PrincipalDep) -> RuntimePublic:
    return RuntimePublic.of(await runtimes.get(ctx.store, who, ref))
