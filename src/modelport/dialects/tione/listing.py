"""`DescribeModelServiceGroups` parameters → a native `ListQuery` over services.

- Scope: the services of the caller's project in one TI workspace (`TiProjectId`, default
  `"0"`), less those being deleted (a deleted group is gone for TI-ONE at once).
- `Filters`: each `{Name, Values, Negative, Fuzzy}` is one condition; its values are OR-ed,
  separate filters (even two with the same name) are AND-ed. `Fuzzy` matches a value as a
  substring: of the name ignoring case, with `%` and `_` taken literally (`name_contains`);
  of the other fields by SQL `LIKE '%value%'`. `Negative` negates the whole filter.
- `TagFilters`: each `{TagKey, TagValues}` requires the tag with one of the values (any value
  when `TagValues` is empty or absent); separate tag filters are AND-ed.
- `OrderField` `CreateTime` (default) | `UpdateTime`, `Order` `DESC` (default) | `ASC` (any case);
  ties are broken by id.
- `Offset` default 0; `Limit` default 20, at most 100; 0 means the default (Tencent's backends
  read a zero value as unset).

Filter names and the native field each reads:

    ServiceGroupId   id
    ServiceGroupName name
    CreatedBy        owner
    Status           status (TI-ONE names mapped back, see `status.py`)
    ServiceId        deployment_id (a deployment of the service has that id)
    ModelVersionId   model_id (a deployment of the service serves that model)
    ClusterId        none: groups show no ClusterId, so the filter matches no group
                     (and, with Negative, every group)

Pure; called by the HTTP handler, which runs the queries through `ServiceOps.list`.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelport.dialects.tione import status
from modelport.dialects.tione.errors import Code, TioneError
from modelport.dialects.tione.params import Reader
from modelport.domain.services import Status
from modelport.query.ast import And, Cond, Filter, ListQuery, Not, Op, Or, Sort, all_of

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
DEFAULT_WORKSPACE = "0"

REQUEST_FIELDS = frozenset(
    {
        "TiProjectId",
        "Offset",
        "Limit",
        "Order",
        "OrderField",
        "Filters",
        "TagFilters",
        "ServiceCategory",
    }
)
FILTER_KEYS = frozenset({"Name", "Values", "Negative", "Fuzzy"})
TAG_FILTER_KEYS = frozenset({"TagKey", "TagValues"})

FILTER_FIELDS: dict[str, str | None] = {
    "ServiceGroupId": "id",
    "ServiceGroupName": "name",
    "CreatedBy": "owner",
    "Status": "status",
    "ServiceId": "deployment_id",
    "ModelVersionId": "model_id",
    "ClusterId": None,
}
# Fuzzy filters with a native substring field of their own
CONTAINS_FIELDS = {"ServiceGroupName": "name_contains"}
ORDER_FIELDS = {"CreateTime": "created_at", "UpdateTime": "updated_at"}

NOTHING: Filter = Cond("id", Op.IN, ())  # a condition no row meets


@dataclass(frozen=True, slots=True)
class GroupsQuery:
    page: ListQuery  # the filtered, ordered page
    everything: ListQuery  # the whole scope, counted only (GlobalTotalCount)


def scope(workspace: str) -> Filter:
    """The groups TI-ONE sees in one workspace: not those being deleted. (A deleted service's
    status is `deleting` from the moment it is deleted; filtering on status rather than
    `desired_state` keeps the whole condition inside the (project, workspace, status) index.)"""
    return And(
        (
            Cond("workspace", Op.EQ, workspace),
            Cond("status", Op.NE, Status.DELETING.value),
        )
    )


def workspace_of(r: Reader) -> str:
    ws = r.string("TiProjectId")
    return DEFAULT_WORKSPACE if ws is None or ws == "" else ws


def groups_query(r: Reader) -> GroupsQuery:
    r.check_known(REQUEST_FIELDS)
    offset = r.integer("Offset")
    limit = r.integer("Limit")
    if offset is not None and offset < 0:
        raise TioneError(Code.INVALID_PARAMETER_VALUE, "Offset must be 0 or more.")
    if limit is not None and limit < 0:
        raise TioneError(Code.INVALID_PARAMETER_VALUE, "Limit must be 0 or more.")
    if limit is not None and limit > MAX_LIMIT:
        raise TioneError(Code.PAGE_LIMIT_EXCEEDED, f"Limit must be at most {MAX_LIMIT}.")
    where = scope(workspace_of(r))
    conds = [_filter(f) for f in r.objects("Filters") or []]
    conds += [_tag_filter(t) for t in r.objects("TagFilters") or []]
    return GroupsQuery(
        page=ListQuery(
            filter=all_of(where, *conds),
            sort=(_sort(r),),
            offset=offset or 0,
            limit=limit or DEFAULT_LIMIT,
        ),
        everything=ListQuery(filter=where, limit=0),
    )


def _sort(r: Reader) -> Sort:
    order = (r.string("Order") or "DESC").upper()
    if order not in ("ASC", "DESC"):
        raise TioneError(Code.INVALID_PARAMETER_VALUE, "Order must be ASC or DESC.")
    name = r.string("OrderField") or "CreateTime"
    if name not in ORDER_FIELDS:
        raise TioneError(
            Code.INVALID_PARAMETER_VALUE,
            f"OrderField must be one of {', '.join(ORDER_FIELDS)}, not {name!r}.",
        )
    return Sort(ORDER_FIELDS[name], descending=order == "DESC")


def _invalid_filter(message: str) -> TioneError:
    return TioneError(Code.INVALID_FILTER, message)


def _filter(f: Reader) -> Filter:
    f.check_known(FILTER_KEYS)
    name = f.string("Name", required=True)
    values = f.strings("Values", required=True)
    assert name is not None and values is not None
    if name not in FILTER_FIELDS:
        raise _invalid_filter(
            f"{f.path}.Name: {name!r} is not a filter; use one of {', '.join(FILTER_FIELDS)}."
        )
    if not values:
        raise _invalid_filter(f"{f.path}.Values must not be empty.")
    fuzzy = bool(f.boolean("Fuzzy"))
    cond = _condition(name, values, fuzzy)
    return Not(cond) if f.boolean("Negative") else cond


def _condition(name: str, values: list[str], fuzzy: bool) -> Filter:
    field = FILTER_FIELDS[name]
    if field is None:
        return NOTHING
    if name == "Status":
        if fuzzy:
            names = set().union(*(status.matching_names(v) for v in values))
        else:
            unknown = sorted(set(values) - set(status.TIONE_VALUES))
            if unknown:
                raise _invalid_filter(
                    f"Status {unknown[0]!r} is not one of {', '.join(status.TIONE_VALUES)}."
                )
            names = set(values)
        natives = status.native_statuses(names)
        return Cond("status", Op.IN, natives) if natives else NOTHING
    if fuzzy:
        parts = tuple(_contains(name, field, v) for v in values)
        return parts[0] if len(parts) == 1 else Or(parts)
    return Cond(field, Op.EQ, values[0]) if len(values) == 1 else Cond(field, Op.IN, values)


def _contains(name: str, field: str, value: str) -> Filter:
    if name in CONTAINS_FIELDS:  # case-insensitive, wildcards escaped
        return Cond(CONTAINS_FIELDS[name], Op.EQ, value)
    return Cond(field, Op.LIKE, f"%{value}%")


def _tag_filter(t: Reader) -> Filter:
    t.check_known(TAG_FILTER_KEYS)
    key = t.string("TagKey", required=True)
    assert key is not None
    if not key:
        raise _invalid_filter(f"{t.path}.TagKey must not be empty.")
    values = t.strings("TagValues") or []
    field = f"tag:{key}"
    if not values:
        return Cond(field, Op.NOT_NULL)
    return Cond(field, Op.EQ, values[0]) if len(values) == 1 else Cond(field, Op.IN, values)
