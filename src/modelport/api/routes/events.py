"""`/events`: status changes and warnings of the project's services, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request

from modelport.api.deps import ContextDep, PrincipalDep, list_parameters, list_query
from modelport.api.errors import responses
from modelport.api.schemas import EventPublic, Page
from modelport.services import services

router = APIRouter(prefix="/events", tags=["events"])
FIELDS = {"service_id", "object_kind", "object_id", "type", "reason"}


@router.get(
    "",
    operation_id="events-list",
    responses=responses("invalid"),
    openapi_extra=list_parameters(FIELDS, default_sort="-at"),
)
async def list_(request: Request, ctx: ContextDep, who: PrincipalDep) -> Page[EventPublic]:
    query = list_query(request, FIELDS, default_sort="-at")
    items, total = await services.events(ctx.store, who, query)
    return Page(data=[EventPublic.of(e) for e in items], total=total)
