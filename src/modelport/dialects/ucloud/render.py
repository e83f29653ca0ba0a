"""Native services → `GetUMInferServiceResponse` with its `UMInferServiceData` (spec A.6).

The field-by-field table, the status table and the reasons behind them are in
docs/dialects/ucloud.md. Called by the HTTP handler, which looks up what a `Service` does not
carry (its model's name, its key); pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelport.dialects.ucloud.query import PRIVATE
from modelport.domain.services import Service, Status

# Modelport's derived status → UMInferServiceData.Status (upstream does not document its enum)
STATUS: dict[Status, str] = {
    Status.PENDING: "Pending",
    Status.DEPLOYING: "Deploying",
    Status.RUNNING: "Running",
    Status.DEGRADED: "Degraded",
    Status.FAILED: "Failed",
    Status.STOPPING: "Stopping",
    Status.STOPPED: "Stopped",
    Status.DELETING: "Deleting",
}


def model_id(service: Service) -> str:
    """The model of the first deployment; "" for a custom command without a model."""
    first = service.deployments[0] if service.deployments else None
    return (first.model_id or "") if first else ""


def computing_units(service: Service) -> int:
    """GPUs the service holds at its desired replicas (0 for CPU-only or stopped services)."""
    if service.desired_replicas == 0:
        return 0
    return sum(d.replicas * d.gpu for d in service.deployments)


def epoch_seconds(at: datetime | None) -> int:
    """Unix seconds (UCloud's time format), a naive time read as UTC; 0 when unknown."""
    if at is None:
        return 0
    return int((at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp())


def service_data(service: Service, *, url: str, model_name: str, key: str) -> dict[str, Any]:
    """One `UMInferServiceData`; `model_name` and `key` are "" when unknown or not shown."""
    return {
        "UminferID": service.id,
        "UminferType": PRIVATE,
        "Name": service.name,
        "Describe": service.description,
        "Status": STATUS[service.status],
        "Replicas": service.desired_replicas,
        "ReadyReplicas": service.ready_replicas,
        "ComputingUnit": computing_units(service),
        "URL": url,
        "CreateTime": epoch_seconds(service.created_at),
        "ModelID": model_id(service),
        "ModelName": model_name,
        "Key": key,
    }


def response(action: str, data: Sequence[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"Action": f"{action}Response", "RetCode": 0, "Data": list(data), "TotalCount": total}
