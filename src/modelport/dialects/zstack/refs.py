"""A model service's `modelServiceRefs`: the models that a runtime serves (spec B.6).

ZStack lists, on each model service, the models bound to it (`ModelServiceRefInventory`). In
Modelport a runtime serves the models of its framework, so the refs of a runtime are the
caller's project's models whose framework is the runtime's: newest first (`created_at`
descending, then model id), at most `MAX_REFS` per runtime.

The HTTP handler fetches them for a whole page of runtimes at once: `query` is one indexed
query over every framework on the page, bounded at `MAX_REFS` per framework. When that answer
is full, a framework may have been crowded out by other frameworks' newer models; `short`
names the frameworks that got fewer than `MAX_REFS`, and the handler asks again for those
only. Each new question is smaller (a full answer gives some framework its `MAX_REFS`), so
a page costs one query, and at most one per framework. `by_runtime` sorts the models out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from modelport.dialects.zstack.times import format_time
from modelport.domain.models import Framework, Model
from modelport.domain.runtimes import Runtime
from modelport.query.ast import MAX_LIMIT, Cond, ListQuery, Op, Sort

# per runtime: one query holds every framework's share (their sum is the largest page)
MAX_REFS = MAX_LIMIT // len(Framework)
NEWEST_FIRST = (Sort("created_at", descending=True),)
# ref uuids are uuid5(NAMESPACE, "<runtime id>/<model id>"): stable, 32 hex like ZStack's
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "modelport:zstack:modelServiceRef")


@dataclass(frozen=True, slots=True)
class Ref:
    """One model served by one runtime."""

    runtime_id: str
    model: Model


def frameworks(runtimes: Iterable[Runtime]) -> list[Framework]:
    """The frameworks of `runtimes`, each once, in the order first seen."""
    return list(dict.fromkeys(rt.framework for rt in runtimes))


def query(wanted: Sequence[Framework]) -> ListQuery:
    """The newest models of the frameworks `wanted`: room for `MAX_REFS` of each."""
    return ListQuery(
        filter=Cond("framework", Op.IN, [f.value for f in wanted]),
        sort=NEWEST_FIRST,
        limit=MAX_REFS * len(wanted),
        count=False,
    )


def short(wanted: Sequence[Framework], answer: Sequence[Model], limit: int) -> list[Framework]:
    """The frameworks of `wanted` that may have more models than `answer` (the answer to a
    query for `wanted` of `limit` models) holds: none unless it is full; else each that got
    fewer than `MAX_REFS`."""
    if len(answer) < limit:
        return []
    got = dict.fromkeys(wanted, 0)
    for m in answer:
        got[m.framework] = got.get(m.framework, 0) + 1
    return [f for f in wanted if got[f] < MAX_REFS]


def by_runtime(runtimes: Iterable[Runtime], found: Iterable[Model]) -> dict[str, tuple[Ref, ...]]:
    """The refs of each runtime: the models of `found` (several answers; repeats count once)
    of its framework, newest first, at most `MAX_REFS`."""
    unique = {m.id: m for m in found}
    ordered = sorted(unique.values(), key=lambda m: m.id)
    ordered.sort(key=lambda m: m.created_at, reverse=True)  # stable: ties stay in id order
    of: dict[Framework, list[Model]] = {}
    for m in ordered:
        kept = of.setdefault(m.framework, [])
        if len(kept) < MAX_REFS:
            kept.append(m)
    return {rt.id: tuple(Ref(rt.id, m) for m in of.get(rt.framework, ())) for rt in runtimes}


def ref_uuid(runtime_id: str, model_id: str) -> str:
    return uuid.uuid5(NAMESPACE, f"{runtime_id}/{model_id}").hex


def render_ref(ref: Ref) -> dict[str, Any]:
    """A `ModelServiceRefInventory`: `uuid` names the pair (`ref_uuid`), `modelUuid` the model,
    `modelServiceUuid` the runtime; `name`, `description` and the times are the model's."""
    m = ref.model
    out: dict[str, Any] = {
        "uuid": ref_uuid(ref.runtime_id, m.id),
        "modelUuid": m.id,
        "modelServiceUuid": ref.runtime_id,
        "name": m.name,
        "description": m.description or None,
        "createDate": format_time(m.created_at),
        "lastOpDate": format_time(m.created_at),
    }
    return {k: v for k, v in out.items() if v is not None}
