"""The v1 service list (C.6): one `ListService` item per service, and the page body
`{"total_count", "count", "services"}` (`count` = items on this page).

`item` is also the common core of the service details (`details.py` adds the rest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from modelport.dialects.modelarts import status
from modelport.dialects.modelarts.times import epoch_ms
from modelport.domain.services import Service


def schedule(svc: Service) -> list[dict[str, Any]]:
    """An automatic stop as ModelArts states it: stop N minutes after each start (`stop_after`),
    or, for a one-off stop time, N minutes after publishing."""
    if svc.stop_after:
        seconds = svc.stop_after
    elif svc.stop_at is not None and svc.created_at is not None:
        seconds = (svc.stop_at - svc.created_at).total_seconds()
    else:
        return []
    if seconds % 3600 == 0:
        return [{"type": "stop", "time_unit": "HOURS", "duration": int(seconds // 3600)}]
    minutes = math.ceil(seconds / 60)
    return [{"type": "stop", "time_unit": "MINUTES", "duration": max(1, minutes)}]


def item(svc: Service) -> dict[str, Any]:
    out: dict[str, Any] = {
        "service_id": svc.id,
        "service_name": svc.name,
        "description": svc.description,
        "tenant": svc.project_id,
        "project": svc.project_id,
        "owner": svc.owner,
        "publish_at": epoch_ms(svc.created_at),
        "infer_type": svc.infer_type,
        "workspace_id": svc.workspace,
        "status": status.v1(svc.status),
        "progress": svc.progress,
        "invocation_times": svc.invocation_count,
        "failed_times": svc.failure_count,
        "is_shared": False,
        "shared_count": 0,
        "schedule": schedule(svc),
        "operation_time": epoch_ms(svc.updated_at),
        "transition_at": epoch_ms(svc.transition_at),
        "is_free": False,
        "additional_properties": {},
    }
    if svc.stop_at is not None:
        out["due_time"] = epoch_ms(svc.stop_at)
    return out


def list_item(svc: Service) -> dict[str, Any]:
    return {**item(svc), "is_opened_sample_collection": "false"}


def page(services: Sequence[Service], total: int) -> dict[str, Any]:
    return {
        "total_count": total,
        "count": len(services),
        "services": [list_item(s) for s in services],
    }
