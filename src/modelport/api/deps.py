"""FastAPI dependencies: the caller, the use cases, and list-query parsing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modelport.domain.auth import Principal
from modelport.domain.errors import Invalid, NotFound
from modelport.query.ast import MAX_LIMIT, Cond, ListQuery, Op, Sort, all_of
from modelport.services import auth
from modelport.services.secrets import Cipher
from modelport.services.services import ServiceOps
from modelport.services.throttle import LoginThrottle
from modelport.store import Store


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ApiContext:
    store: Store
    ops: ServiceOps
    base_url: str  # of this API
    cipher: Cipher
    gateway_url: str = ""  # where callers reach services; default: `base_url`
    # the time signed requests are checked against (their clock-skew windows)
    clock: Callable[[], datetime] = _utcnow
    logins: LoginThrottle = field(default_factory=LoginThrottle)  # failed password logins

    @property
    def gateway(self) -> str:
        return self.gateway_url or self.base_url

    def service_url(self, service_id: str) -> str:
        return f"{self.gateway}/services/{service_id}"


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[ApiContext, Depends(context)]


# declares the scheme in the OpenAPI document; `principal` reads the header itself, so that
# a missing or malformed one is our 401, not FastAPI's 403
BEARER = HTTPBearer(
    auto_error=False, scheme_name="apiKey", description="`Authorization: Bearer <api key>`"
)


async def principal(
    request: Request,
    ctx: ContextDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> Principal:
    return await auth.authenticate(ctx.store, request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(principal)]


def real_path(request: Request) -> None:
    """No id or name holds a NUL character: a path with one names nothing (404), and never
    reaches the database (PostgreSQL refuses such text)."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\0" in value:
            raise NotFound(name.removesuffix("_id"), value)


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


def list_parameters(fields: set[str], default_sort: str = "-created_at") -> dict[str, Any]:
    """The `openapi_extra` of a list route: the query parameters `list_query` reads (the
    route reads them from the request itself, so FastAPI cannot see them)."""
    ops = ", ".join(f"`__{s}`" for s in SUFFIXES)
    limit = {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": 100}
    parameters = [
        _query("limit", limit, "Page size."),
        _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Rows to skip."),
        _query("sort", {"type": "string", "default": default_sort}, "Keys; `-`: descending."),
    ]
    for name in sorted(f for f in fields if not f.endswith(":")):
        about = f"Rows whose `{name}` is the value (or one of a comma-separated list); {ops}"
        parameters.append(_query(name, {"type": "string"}, about + " after the name compare."))
    return {"parameters": parameters}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


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
