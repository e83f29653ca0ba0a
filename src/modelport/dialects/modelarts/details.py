"""Service details (C.5): the list item's fields plus `config[]` (one entry per deployment),
`access_address`, `error_msg` (when failed), `update_time`, `load_balancer_policy`, `priority`.

Fields ModelArts shows only when something is configured that Modelport does not have
(`cluster_id`, `pool_name`, `vpc_id`, `subnet_network_id`, `security_group_id`,
`bind_access_address`, `debug_url`) are left out, as the vendor leaves them out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from modelport.dialects.modelarts.listing import item
from modelport.dialects.modelarts.times import epoch_ms
from modelport.domain.models import Model
from modelport.domain.services import Deployment, Service, Status

PRIORITY = 1  # ModelArts' default preemption priority; Modelport does not preempt


def instance_status(d: Deployment) -> str:
    """`ready` when every desired replica is ready, else `notReady`."""
    return (
        "ready" if d.status == Status.RUNNING and d.ready_replicas >= d.replicas > 0 else "notReady"
    )


def config(d: Deployment, model: Model | None) -> dict[str, Any]:
    return {
        "model_id": d.model_id,
        "model_name": model.name if model else None,
        "model_version": model.version if model else d.version,
        "specification": "custom",
        "custom_spec": {"cpu": d.cpu, "memory": d.memory, "gpu_p4": float(d.gpu)},
        "weight": d.weight,
        "instance_count": d.replicas,
        "status": instance_status(d),
        "scaling": False,
        "envs": dict(d.env),
        "support_debug": False,
        "additional_properties": {
            "max_surge": d.max_surge,
            "max_unavailable": d.max_unavailable,
            "termination_grace_period_seconds": math.ceil(d.grace_period),
            "log_volume": [],
            "persistent_volumes": [],
        },
    }


def render(svc: Service, access_address: str, models: Mapping[str, Model]) -> dict[str, Any]:
    """`models` maps the model ids of `svc`'s deployments to models (a missing one shows
    `model_name: null`)."""
    out = item(svc)
    if svc.status == Status.FAILED:
        out["error_msg"] = svc.status_reason
    out.update(
        config=[config(d, models.get(d.model_id) if d.model_id else None) for d in svc.deployments],
        access_address=access_address,
        update_time=epoch_ms(svc.updated_at),
        load_balancer_policy=svc.lb_policy.value,
        priority=PRIORITY,
    )
    return out
