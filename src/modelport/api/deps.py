"""FastAPI dependencies: the caller, the use cases, and list-query parsing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from modelport.domain.auth import Principal
from modelport.domain.errors import Invalid
from modelport.query.ast import Cond, ListQuery, Op, Sort, all_of
from modelport.services import auth
from modelport.services.secrets import Cipher
from modelport.services.services import ServiceOps
from modelport.store import Store


@dataclass(frozen=True, slots=True)
class ApiContext:
    store: Store
    ops: ServiceOps
    base_url: str
    cipher: Cipher


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[ApiContext, Depends(context)]


async def principal(
    ctx: ContextDep, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    return await auth.authenticate(ctx.store, authorization)


PrincipalDep = Annotated[Principal, Depends(principal)]

PAGING = {"limit", "offset", "sort"}


def list_query(request: Request, fields: set[str], default_sort: str = "-created_at") -> ListQuery:
    """`?limit=&offset=&sort=-created_at,name&<field>=<value>[,<value>…]` → `ListQuery`.

    A field registered as `prefix:` (e.g. `tag:`) stands for a family: `tag:team=search`."""
    params = request.query_params
    conds = []
    for key in params:
        if key in PAGING:
            continue
        keyed = key.partition(":")[0] + ":"
        if key not in fields and not (keyed in fields and key != keyed):
            raise Invalid(key, f"unknown filter; filterable fields: {', '.join(sorted(fields))}")
        values = params.getlist(key)
        flat = [v for value in values for v in value.split(",")]
        conds.append(Cond(key, Op.EQ, flat[0]) if len(flat) == 1 else Cond(key, Op.IN, flat))
    return ListQuery(
        filter=all_of(*conds),
        sort=tuple(Sort.parse(s) for s in params.get("sort", default_sort).split(",") if s),
        offset=_int(params.get("offset", "0"), "offset"),
        limit=_int(params.get("limit", "100"), "limit"),
    )


def _int(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise Invalid(field, f"not an integer: {text!r}") from exc
