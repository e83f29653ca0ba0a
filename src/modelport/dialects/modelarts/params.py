"""Query parameters of the two list APIs → `ListQuery` (filtering and paging happen in SQL).

v1 `GET /v1/{project_id}/services` (C.6): `service_id`, `service_name` (exact), `model_id`,
`model_name` (exact model name; the handler resolves it to model ids, see `V1List.query`),
`workspace_id` (default `0`), `infer_type`, `status` (C.7 values), `tags` (`k1|v1,k2|v2`;
a bare `k` means "has tag k"; all must hold), `cluster_id` (Modelport has no dedicated
clusters: matches nothing), `search` (case-insensitive substring of the service name),
`offset` (a **page index**, as the v1 docs say: records skipped = offset * limit), `limit`
(1-1000, default 1000), `sort_by` (`publish_at` | `service_name` | `transition_at`, default
`publish_at`), `order` (`asc` | `desc`, default `desc`).

MaaS `GET …/maas/services/custom-endpoint/services/{region_id}` (C.8): `workspace_id`
(default `0`), `name` (exact), `offset` (a **record** offset, v2 style), `limit` (1-1000,
default 1000); newest first; real-time services only.

An empty value counts as absent. An unknown or repeated parameter is an error, and so is a
value of the wrong type or outside its range: v1 answers `ModelArts.0101` (unknown, repeated)
or `ModelArts.0107` (bad value), MaaS `ModelArts.0104`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from modelport.dialects.modelarts import errors, status
from modelport.dialects.modelarts.errors import ModelArtsError
from modelport.query.ast import MAX_LIMIT, Cond, Filter, ListQuery, Op, Sort, all_of

MAX_INT = 2**31 - 1  # the docs type offset and limit as Integer (int32)
DEFAULT_LIMIT = 1000
DEFAULT_WORKSPACE = "0"
SORT_FIELDS = {"publish_at": "created_at", "service_name": "name", "transition_at": "transition_at"}
INFER_TYPES = ("real-time", "batch", "edge")
V1_PARAMS = frozenset(
    {
        "service_id",
        "service_name",
        "model_id",
        "model_name",
        "workspace_id",
        "infer_type",
        "status",
        "offset",
        "limit",
        "sort_by",
        "order",
        "tags",
        "cluster_id",
        "search",
    }
)
MAAS_PARAMS = frozenset({"workspace_id", "name", "offset", "limit"})
_DIGITS = re.compile(r"^[0-9]+$")
NOTHING = Cond("id", Op.IN, ())  # a filter no service passes


@dataclass(frozen=True, slots=True)
class V1List:
    """A parsed v1 list request. `model_name` needs the store to turn into model ids."""

    filters: tuple[Filter, ...]
    model_name: str | None
    sort: Sort
    page: int
    limit: int

    def query(self, model_ids: Iterable[str] = ()) -> ListQuery:
        conds = list(self.filters)
        if self.model_name is not None:
            ids = tuple(model_ids)
            conds.append(Cond("model_id", Op.IN, ids) if ids else NOTHING)
        return ListQuery(
            filter=all_of(*conds),
            sort=(self.sort,),
            offset=self.page * self.limit,
            limit=self.limit,
        )


def _single(
    pairs: Sequence[tuple[str, str]],
    known: frozenset[str],
    unknown: Callable[[str], ModelArtsError],
) -> dict[str, str]:
    """One value per known parameter, empty values dropped."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for key, value in pairs:
        if key not in known:
            raise unknown(f"unknown parameter {key!r}")
        if key in seen:
            raise unknown(f"parameter {key!r} is repeated")
        seen.add(key)
        if "\0" in value:  # no name, id or tag of Modelport's holds one
            raise unknown(f"parameter {key!r} contains a NUL character")
        if value != "":
            out[key] = value
    return out


def _int(
    params: dict[str, str],
    name: str,
    default: int,
    low: int,
    high: int,
    bad: Callable[[str, str], ModelArtsError],
) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not _DIGITS.match(text) or not low <= int(text) <= high:
        raise bad(name, text)
    return int(text)


def _tags(text: str) -> list[Filter]:
    conds: list[Filter] = []
    for item in text.split(","):
        key, sep, value = item.partition("|")
        if not key:
            raise errors.invalid_value("tags", text)
        conds.append(Cond(f"tag:{key}", Op.EQ, value) if sep else Cond(f"tag:{key}", Op.NOT_NULL))
    return conds


def parse_v1(pairs: Sequence[tuple[str, str]]) -> V1List:
    p = _single(pairs, V1_PARAMS, errors.invalid_argument)
    bad = errors.invalid_value
    conds: list[Filter] = [Cond("workspace", Op.EQ, p.get("workspace_id", DEFAULT_WORKSPACE))]
    for param, field in (("service_id", "id"), ("service_name", "name"), ("model_id", "model_id")):
        if param in p:
            conds.append(Cond(field, Op.EQ, p[param]))
    if "infer_type" in p:
        if p["infer_type"] not in INFER_TYPES:
            raise bad("infer_type", p["infer_type"])
        conds.append(Cond("infer_type", Op.EQ, p["infer_type"]))
    if "status" in p:
        if p["status"] not in status.V1_VALUES:
            raise bad("status", p["status"])
        native = status.native_of_v1(p["status"])
        conds.append(Cond("status", Op.IN, tuple(native)) if native else NOTHING)
    if "tags" in p:
        conds.extend(_tags(p["tags"]))
    if "cluster_id" in p:
        conds.append(NOTHING)
    if "search" in p:
        conds.append(Cond("name_contains", Op.LIKE, p["search"]))
    sort_by = p.get("sort_by", "publish_at")
    if sort_by not in SORT_FIELDS:
        raise bad("sort_by", sort_by)
    order = p.get("order", "desc")
    if order.lower() not in ("asc", "desc"):
        raise bad("order", order)
    limit = _int(p, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, bad)
    page = _int(p, "offset", 0, 0, MAX_INT, bad)
    return V1List(
        filters=tuple(conds),
        model_name=p.get("model_name"),
        sort=Sort(SORT_FIELDS[sort_by], descending=order.lower() == "desc"),
        page=page,
        limit=limit,
    )


def _maas_bad(name: str, value: str) -> ModelArtsError:
    return errors.parameter_error(f"invalid value {value!r} of {name}")


def parse_maas(pairs: Sequence[tuple[str, str]]) -> ListQuery:
    p = _single(pairs, MAAS_PARAMS, errors.parameter_error)
    conds: list[Filter] = [
        Cond("workspace", Op.EQ, p.get("workspace_id", DEFAULT_WORKSPACE)),
        Cond("infer_type", Op.EQ, "real-time"),
    ]
    if "name" in p:
        conds.append(Cond("name", Op.EQ, p["name"]))
    return ListQuery(
        filter=all_of(*conds),
        sort=(Sort("created_at", descending=True),),
        offset=_int(p, "offset", 0, 0, MAX_INT, _maas_bad),
        limit=_int(p, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, _maas_bad),
    )
