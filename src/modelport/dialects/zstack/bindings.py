"""A model service's bindings: the deployments that serve a model with a runtime.

ZStack lists, on each model service, the models bound to it (`modelServiceRefs`). In Modelport
a runtime is bound to a model by a deployment: one entry per deployment of the caller's
services that names the runtime. `bindings_by_runtime` picks them from a list of services; the
HTTP handler fetches the services.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelport.dialects.zstack.times import format_time
from modelport.domain.services import Deployment, Service

_EPOCH = datetime.min


@dataclass(frozen=True, slots=True)
class Binding:
    service: Service
    deployment: Deployment


def bindings_by_runtime(
    services: Iterable[Service], runtime_ids: Iterable[str]
) -> dict[str, tuple[Binding, ...]]:
    """The bindings of each runtime in `runtime_ids`, oldest deployment first."""
    found: dict[str, list[Binding]] = {rid: [] for rid in runtime_ids}
    for svc in services:
        for dep in svc.deployments:
            if dep.runtime_id in found:
                found[dep.runtime_id].append(Binding(svc, dep))
    return {
        rid: tuple(sorted(refs, key=lambda b: (_at(b.deployment.created_at), b.deployment.id)))
        for rid, refs in found.items()
    }


def render_ref(b: Binding) -> dict[str, Any]:
    """A `ModelServiceRefInventory`: `uuid` is the deployment, `modelUuid` its model (absent for
    a command without a model), `modelServiceUuid` the runtime; `name`, `description` and
    `serviceUuid` name the service that holds the deployment."""
    dep, svc = b.deployment, b.service
    ref: dict[str, Any] = {
        "uuid": dep.id,
        "modelUuid": dep.model_id,
        "modelServiceUuid": dep.runtime_id,
        "name": svc.name,
        "description": svc.description or None,
        "serviceUuid": svc.id,
        "createDate": format_time(dep.created_at) if dep.created_at else None,
        "lastOpDate": format_time(dep.updated_at) if dep.updated_at else None,
    }
    return {k: v for k, v in ref.items() if v is not None}


def _at(when: datetime | None) -> datetime:
    return when.replace(tzinfo=None) if when else _EPOCH
