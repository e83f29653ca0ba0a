"""Native services → TI-ONE structures (`ServiceGroup`, `Service`, `ServiceInfo`, call info).

A TI-ONE service group is a Modelport service; a TI-ONE service is one of its deployments.
Ids are shown unchanged. Times are RFC 3339 in UTC (`2024-01-10T10:02:35Z`). Fields Modelport
has no value for (billing, clusters, regions, VPCs…) are left out, which the SDK reads as
null, as the vendor documents them nullable. Only field names of the SDK's models appear:
an unknown one would make the SDK warn.

`Catalog` carries the runtimes and models the deployments refer to, read by the handler in
one query each. The field-by-field tables are in `docs/dialects/tione.md`. Pure.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelport.dialects.tione import scaling
from modelport.dialects.tione.status import to_tione
from modelport.domain.models import Model
from modelport.domain.runtimes import Runtime
from modelport.domain.services import AuthType, Deployment, DesiredState, Service, Status

CUSTOM_IMAGE = "CUSTOM"
PRESET_IMAGE = "PreSet"


@dataclass(frozen=True, slots=True)
class Catalog:
    """The runtimes and models that the rendered deployments refer to, by id."""

    runtimes: Mapping[str, Runtime] = field(default_factory=dict)
    models: Mapping[str, Model] = field(default_factory=dict)


def rfc3339(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _tags(svc: Service) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in sorted(svc.tags.items())]


def desired(svc: Service, dep: Deployment) -> int:
    """Replicas the deployment should run now: 0 while its service is stopped."""
    return dep.wanted if svc.desired_state == DesiredState.RUNNING else 0


def latest_version(svc: Service) -> str | None:
    if not svc.deployments:
        return None
    newest = max(svc.deployments, key=lambda d: d.created_at or datetime.min.replace(tzinfo=UTC))
    return newest.version


def service_group(svc: Service, catalog: Catalog) -> dict[str, Any]:
    return _clean(
        {
            "ServiceGroupId": svc.id,
            "ServiceGroupName": svc.name,
            "CreatedBy": svc.owner,
            "CreateTime": rfc3339(svc.created_at),
            "UpdateTime": rfc3339(svc.updated_at),
            "Uin": svc.project_id,
            "SubUin": svc.owner,
            "ServiceCount": len(svc.deployments),
            "RunningServiceCount": sum(1 for d in svc.deployments if d.status == Status.RUNNING),
            "Services": [service(svc, d, catalog) for d in svc.deployments],
            "Status": to_tione(svc.status),
            "Tags": _tags(svc),
            "LatestVersion": latest_version(svc),
            "CreateSource": "DEFAULT",
            "WeightUpdateStatus": "UPDATED",
            "ReplicasCount": svc.ready_replicas,
            "AvailableReplicasCount": svc.desired_replicas,
            "AuthorizationEnable": svc.auth_type == AuthType.KEY,
        }
    )


def _business_status(dep: Deployment) -> str:
    if dep.ever_ready:
        return "CREATE_SUCCEED"
    if dep.status == Status.FAILED:
        return "CREATE_FAILED"
    if dep.status in (Status.STOPPED, Status.STOPPING):
        return "CREATE_SUCCEED"
    return "CREATING"


def service(svc: Service, dep: Deployment, catalog: Catalog) -> dict[str, Any]:
    failed = dep.status == Status.FAILED and not dep.ever_ready
    return _clean(
        {
            "ServiceGroupId": svc.id,
            "ServiceId": dep.id,
            "ServiceGroupName": svc.name,
            "ServiceDescription": svc.description,
            "ServiceInfo": service_info(svc, dep, catalog),
            "Tags": _tags(svc),
            "CreatedBy": svc.owner,
            "CreateTime": rfc3339(dep.created_at),
            "UpdateTime": rfc3339(dep.updated_at),
            "Uin": svc.project_id,
            "SubUin": svc.owner,
            "BusinessStatus": _business_status(dep),
            "CreateFailedReason": (dep.status_reason or "CREATE_FAILED")
            if failed
            else "CREATE_SUCCEED",
            "Status": to_tione(dep.status),
            "Weight": dep.weight,
            "CreateSource": "DEFAULT",
            "Version": dep.version,
            "LatestVersion": latest_version(svc),
            "DeployType": "STANDARD",
            "ProjectId": svc.workspace,
        }
    )


def resources(cpu: float, memory: int, gpu: int) -> dict[str, Any]:
    """TI-ONE units: milli-cores, MB (Modelport's MiB shown as is), 1/100 GPU."""
    return {"Cpu": round(cpu * 1000), "Memory": memory, "Gpu": gpu * 100}


def image_info(dep: Deployment, catalog: Catalog) -> dict[str, Any]:
    runtime = catalog.runtimes.get(dep.runtime_id)
    if runtime is None:
        return {"ImageType": CUSTOM_IMAGE, "ImageUrl": dep.runtime_id}
    kind = PRESET_IMAGE if runtime.system and not dep.command else CUSTOM_IMAGE
    return {"ImageType": kind, "ImageUrl": runtime.name, "ImageName": runtime.name}


def model_info(dep: Deployment, catalog: Catalog) -> dict[str, Any] | None:
    if dep.model_id is None:
        return None
    model = catalog.models.get(dep.model_id)
    if model is None:
        return {"ModelVersionId": dep.model_id, "ModelId": dep.model_id}
    return {
        "ModelVersionId": model.id,
        "ModelId": model.id,
        "ModelName": model.name,
        "ModelVersion": model.version,
        "AlgorithmFramework": model.framework.value,
        "ModelType": "NORMAL",
    }


def service_info(svc: Service, dep: Deployment, catalog: Catalog) -> dict[str, Any]:
    want = desired(svc, dep)
    ready = dep.ready_replicas
    stopped = svc.desired_state != DesiredState.RUNNING
    return _clean(
        {
            "Replicas": want,
            "ImageInfo": image_info(dep, catalog),
            "Env": [
                {"Name": k, "Value": v, "IsPrivate": False} for k, v in sorted(dep.env.items())
            ],
            "Resources": resources(dep.cpu, dep.memory, dep.gpu),
            "ModelInfo": model_info(dep, catalog),
            "LogEnable": False,
            "AuthorizationEnable": svc.auth_type == AuthType.KEY,
            "Status": _clean(
                {
                    "Replicas": want,
                    "UpdatedReplicas": ready,
                    "ReadyReplicas": ready,
                    "AvailableReplicas": ready,
                    "UnavailableReplicas": max(want - ready, 0),
                    "Status": to_tione(dep.status),
                    "Reason": dep.status_reason or None,
                }
            ),
            "Weight": dep.weight,
            "ResourceTotal": resources(dep.cpu * want, dep.memory * want, dep.gpu * want),
            "OldReplicas": dep.replicas if stopped else None,
            **scaling.render(dep.autoscaling, dep.schedules),
            "ScheduledAction": _scheduled_stop(svc),
            "Command": shlex.join(dep.command) if dep.command else None,
            "TerminationGracePeriodSeconds": round(dep.grace_period),
        }
    )


def _scheduled_stop(svc: Service) -> dict[str, Any] | None:
    if svc.stop_at is None:
        return None
    return {"ScheduleStop": True, "ScheduleStopTime": rfc3339(svc.stop_at)}


def call_info(svc: Service, url: str, token: str | None) -> dict[str, Any]:
    """`DescribeModelServiceCallInfo`'s answer: the gateway URL and, for admins, the key."""
    auth = svc.auth_type == AuthType.KEY
    https = url.startswith("https://")
    return {
        "ServiceCallInfo": _clean(
            {
                "ServiceGroupId": svc.id,
                "InnerHttpAddr": None if https else url,
                "InnerHttpsAddr": url if https else None,
                "OuterHttpAddr": None if https else url,
                "OuterHttpsAddr": url if https else None,
                "AuthorizationEnable": auth,
            }
        ),
        "ServiceCallInfoV2": _clean(
            {
                "ServiceGroupId": svc.id,
                "InternetEndpoint": url,
                "AuthorizationEnable": auth,
                "AuthToken": token if auth else None,
            }
        ),
    }
