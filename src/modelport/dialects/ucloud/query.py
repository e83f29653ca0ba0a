"""`GetUMInferService` parameters → a native `ListQuery` over the caller's services (spec A.6).

- `ProjectId`: a Modelport project id; must be the access key's own project (else RetCode
  292); empty or absent means that project.
- `UminferID`: an exact service id (`svc-...`); an unknown id matches nothing (an empty page).
- `UminferType`: `private` (default) and/or `preDeploy`, comma-separated. Every Modelport
  service is a private deployment, so `preDeploy` alone matches nothing.
- `Offset`: records to skip, 0-based (default 0).
- `Limit`: records per page, 0 to 100 (default 20); 0 answers only `TotalCount`.
- `Region`, `Zone` and any other name: accepted (and signed), not used.

Pages are newest first (`created_at` descending, then id). A bad value is RetCode 230
`Params [<name>] not available`. Called by the HTTP handler; pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from modelport.dialects.ucloud import errors
from modelport.query.ast import Cond, ListQuery, Op, Sort

ACTION = "GetUMInferService"

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 2**31 - 1
PRIVATE = "private"
PRE_DEPLOY = "preDeploy"
UMINFER_TYPES = (PRIVATE, PRE_DEPLOY)
ORDER = (Sort("created_at", descending=True),)

_DIGITS = re.compile(r"[0-9]{1,10}")


def parse(params: Mapping[str, str], project_id: str) -> ListQuery | None:
    """The query for `params`, asked by a key of `project_id`; `None` when nothing can match
    (only `preDeploy` asked for), so the caller answers an empty page without a lookup."""
    asked_project = params.get("ProjectId", "")
    if asked_project and asked_project != project_id:
        raise errors.no_such_project(asked_project)
    types = _uminfer_types(params.get("UminferType", ""))
    offset = _count(params, "Offset", 0, MAX_OFFSET)
    limit = _count(params, "Limit", DEFAULT_LIMIT, MAX_LIMIT)
    if PRIVATE not in types:
        return None
    service_id = params.get("UminferID", "")
    where = Cond("id", Op.EQ, service_id) if service_id else None
    return ListQuery(filter=where, sort=ORDER, offset=offset, limit=limit)


def _uminfer_types(text: str) -> set[str]:
    asked = {t.strip() for t in text.split(",")} - {""}
    if not asked:
        return {PRIVATE}
    if not asked <= set(UMINFER_TYPES):
        raise errors.param("UminferType")
    return asked


def _count(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """A non-negative integer given as text (the doc types Offset and Limit as strings);
    empty or absent → `default`."""
    text = params.get(name, "")
    if not text:
        return default
    if not _DIGITS.fullmatch(text) or int(text) > maximum:
        raise errors.param(name)
    return int(text)
