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
    base_url: str  # of this API
    cipher: Cipher
    gateway_url: str = ""  # where callers reach services; default: `base_url`

    @property
    def gateway(self) -> str:
        return self.gateway_url or self.base_url

    def service_url(self, service_id: str) -> str:
        return f"{self.gateway}/services/{service_id}"


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


# `?<field>__<suffix>=<value>`: the operator of a condition (none: equal, or one of a list)
SUFFIXES = {
    "ne": Op.NE,
    "lt": Op.LT,
    "le": Op.LE,
    "gt": Op.GT,
    "ge": Op.GE,
    "in": Op.IN,
    "nin": Op.NOT_IN,
    "like": Op.LIKE,
    "null": Op.IS_NULL,
}


def list_query(request: Request, fields: set[str], default_sort: str = "-created_at") -> ListQuery:
    """`?limit=&offset=&sort=-created_at,name&<field>[__<op>]=<value>[,<value>…]` → `ListQuery`.

    Operators (`SUFFIXES`): `ne lt le gt ge in nin like null`; `like` takes SQL wildcards
    (`%`, `_`), `null` takes `true`/`false`. A field registered as `prefix:` (e.g. `tag:`)
    stands for a family: `tag:team=search`."""
    params = request.query_params
    conds = []
    for key in dict.fromkeys(params.keys()):
        if key in PAGING:
            continue
        name, _, suffix = key.partition("__")
        keyed = name.partition(":")[0] + ":"
        if name not in fields and not (keyed in fields and name != keyed):
            raise Invalid(key, f"unknown filter; filterable fields: {', '.join(sorted(fields))}")
        if suffix and suffix not in SUFFIXES:
            raise Invalid(key, f"unknown operator {suffix!r}; operators: {', '.join(SUFFIXES)}")
        flat = [v for value in params.getlist(key) for v in value.split(",")]
        conds.append(_condition(key, name, suffix, flat))
    return ListQuery(
        filter=all_of(*conds),
        sort=tuple(Sort.parse(s) for s in params.get("sort", default_sort).split(",") if s),
        offset=_int(params.get("offset", "0"), "offset"),
        limit=_int(params.get("limit", "100"), "limit"),
    )


def _condition(key: str, name: str, suffix: str, values: list[str]) -> Cond:
    if not suffix:
        return Cond(name, Op.EQ, values[0]) if len(values) == 1 else Cond(name, Op.IN, values)
    op = SUFFIXES[suffix]
    if op in (Op.IN, Op.NOT_IN):
        return Cond(name, op, values)
    if len(values) != 1:
        raise Invalid(key, "takes one value")
    if op == Op.IS_NULL:
        if values[0] not in ("true", "false"):
            raise Invalid(key, "must be true or false")
        return Cond(name, Op.IS_NULL if values[0] == "true" else Op.NOT_NULL)
    return Cond(name, op, values[0])


def _int(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise Invalid(field, f"not an integer: {text!r}") from exc
