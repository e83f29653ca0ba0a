"""Query replies: runtimes rendered as `ModelServiceInventory` objects (spec B.4, B.6).

A reply is `{"inventories": [...]}`, plus `"total"` with `replyWithCount=true`, or only
`{"total": n}` with `count=true`. Fields without a value are left out, as Gson leaves out
nulls; with `fields=a,b` only those fields are rendered. Neither `schema` nor `success` is
sent: the open-source REST server sends no `success`, and the Java SDK's `schema` handling
needs ZStack's own class names, which a client can do without.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelport.dialects.zstack.fields import FIELDS, HostFacts, Subject
from modelport.dialects.zstack.grammar import QueryParams


def render(
    subject: Subject, host: HostFacts, fields: Sequence[str] | None = None
) -> dict[str, Any]:
    """One inventory, its fields in the order of spec B.6."""
    wanted = set(fields) if fields is not None else None
    out: dict[str, Any] = {}
    for f in FIELDS:
        if wanted is not None and f.name not in wanted:
            continue
        value = f.render(subject, host)
        if value is not None:
            out[f.name] = value
    return out


def wants(params: QueryParams, name: str) -> bool:
    """Will the reply render field `name`? (Spares fetching what is not shown.)"""
    return not params.count and (params.fields is None or name in params.fields)


def reply(params: QueryParams, inventories: list[dict[str, Any]], total: int) -> dict[str, Any]:
    if params.count:
        return {"total": total}
    out: dict[str, Any] = {"inventories": inventories}
    if params.reply_with_count:
        out["total"] = total
    return out
