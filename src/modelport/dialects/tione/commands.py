"""Parameters of the actions that read one object or change something → plain intents.

`CreateModelService`, `ModifyModelService`, `ModifyServiceGroupWeights` and the by-id actions
are parsed here into frozen dataclasses; the HTTP handler resolves their references (runtime,
model) and calls `ServiceOps`. Each action rejects parameters its SDK model does not have
(`UnknownParameter`); parameters that have no Modelport meaning (billing, logs, VPCs, volume
mounts…) are accepted and ignored, as listed in `docs/dialects/tione.md`.

Mapping of one TI-ONE service (a Modelport deployment):

- `ImageInfo.ImageUrl` names a Modelport runtime (id or name), whatever `ImageType`. An image
  that is no runtime is served by the `command` runtime when `Command`/`CommandBase64` is
  given (the image itself is not kept), else it is `InvalidParameterValue.ImageNotFound`.
- `Command` (or `CommandBase64`, which wins) is split like a POSIX shell would
  (`shlex.split`) and run without a shell; it must listen on `$PORT` (or `{port}`).
- `ModelInfo` names a registered model: `ModelVersionId`, else `ModelId`, else
  `ModelName` + `ModelVersion` (default `"1"`).
- `Resources`: `Cpu` milli-cores → cores, `Memory` MB → MiB, `Gpu` in 1/100 → whole GPUs.
- `Replicas` default 1; `ScaleMode`, `ScaleStrategy`, `HorizontalPodAutoscaler`,
  `CronScaleJobs` and (Create only) `ScheduledAction`: see `scaling.py`.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime

from modelport.dialects.tione.errors import Code, TioneError, missing
from modelport.dialects.tione.params import Reader
from modelport.dialects.tione.scaling import Scaling, scaling, stop_at

GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")

BY_GROUP = frozenset({"ServiceGroupId", "TiProjectId", "ServiceCategory"})
BY_SERVICE = frozenset({"ServiceId", "TiProjectId", "ServiceCategory"})
DELETE_GROUP = frozenset({"ServiceGroupId", "TiProjectId"})
WEIGHTS = frozenset({"ServiceGroupId", "Weights", "TiProjectId"})

# the fields both CreateModelService and ModifyModelService share with a meaning here
_VERSION_FIELDS = {
    "ModelInfo",
    "ImageInfo",
    "Env",
    "Resources",
    "ScaleMode",
    "ScaleStrategy",
    "HorizontalPodAutoscaler",
    "CronScaleJobs",
    "Replicas",
    "Command",
    "CommandBase64",
    "TerminationGracePeriodSeconds",
    "ServiceDescription",
}
# accepted and ignored (no Modelport meaning)
_CREATE_IGNORED = {
    "ChargeType",
    "ResourceGroupId",
    "InstanceType",
    "LogEnable",
    "LogConfig",
    "NewVersion",
    "HybridBillingPrepaidReplicas",
    "CreateSource",
    "ModelHotUpdateEnable",
    "VolumeMount",
    "ServiceLimit",
    "CallbackUrl",
    "ModelTurboEnable",
    "ServiceCategory",
    "ServiceEIP",
    "ServicePort",
    "DeployType",
    "InstancePerReplicas",
    "PreStopCommand",
    "GrpcEnable",
    "HealthProbe",
    "RollingUpdate",
    "Sidecar",
    "VolumeMounts",
    "SchedulingStrategy",
    "GatewayLogConfig",
    "GatewayConfig",
    "ResourceSupplyAttribute",
    "InferTemplateId",
    "Priority",
}
CREATE = frozenset(
    {
        "TiProjectId",
        "ServiceGroupId",
        "ServiceGroupName",
        "AuthorizationEnable",
        "Tags",
        "ScheduledAction",
        *_VERSION_FIELDS,
        *_CREATE_IGNORED,
    }
)
_MODIFY_IGNORED = {
    "InstanceType",
    "LogEnable",
    "LogConfig",
    "HybridBillingPrepaidReplicas",
    "ModelHotUpdateEnable",
    "ScheduledAction",
    "ServiceLimit",
    "VolumeMount",
    "ModelTurboEnable",
    "ServiceEIP",
    "ServicePort",
    "InstancePerReplicas",
    "PreStopCommand",
    "GrpcEnable",
    "HealthProbe",
    "RollingUpdate",
    "Sidecar",
    "ResourceGroupId",
    "VolumeMounts",
    "SchedulingStrategy",
    "InferTemplateId",
    "Priority",
    "TargetProjectId",
}
MODIFY = frozenset(
    {"ServiceId", "TiProjectId", "ServiceAction", *_VERSION_FIELDS, *_MODIFY_IGNORED}
)
# Modify fields that would change a running deployment's spec: not available in place
MODIFY_UNSUPPORTED = (
    "ModelInfo",
    "ImageInfo",
    "Env",
    "Resources",
    "Command",
    "CommandBase64",
    "TerminationGracePeriodSeconds",
)
SERVICE_ACTIONS = ("STOP", "RESUME", "SCALE")


def _value_error(message: str) -> TioneError:
    return TioneError(Code.INVALID_PARAMETER_VALUE, message)


@dataclass(frozen=True, slots=True)
class ById:
    """The target of a by-id action and the workspace it was asked in (None: any)."""

    id: str
    workspace: str | None


def _by(r: Reader, key: str, known: frozenset[str]) -> ById:
    r.check_known(known)
    value = r.string(key, required=True)
    assert value is not None
    if not value:
        raise missing(key)
    ws = r.string("TiProjectId")
    return ById(value, ws or None)


def by_group(r: Reader, known: frozenset[str] = BY_GROUP) -> ById:
    return _by(r, "ServiceGroupId", known)


def by_service(r: Reader) -> ById:
    return _by(r, "ServiceId", BY_SERVICE)


@dataclass(frozen=True, slots=True)
class ModelRef:
    id: str | None = None
    name: str | None = None
    version: str = "1"


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """One TI-ONE service to create (a Modelport deployment spec, unresolved)."""

    image: str | None = None
    model: ModelRef | None = None
    command: list[str] | None = None
    replicas: int = 1
    cpu: float | None = None
    memory: int | None = None
    gpu: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    grace_period: float | None = None
    scaling: Scaling | None = None


@dataclass(frozen=True, slots=True)
class CreateService:
    group_id: str | None  # add a version to this group; None: a new group
    name: str | None
    description: str
    tags: dict[str, str]
    auth: bool | None
    workspace: str | None  # TiProjectId as given
    version: VersionSpec
    stop_at: datetime | None = None


def create_service(r: Reader) -> CreateService:
    r.check_known(CREATE)
    group_id = r.string("ServiceGroupId") or None
    name = r.string("ServiceGroupName")
    if group_id is None:
        if not name:
            raise missing("ServiceGroupName")
        if not GROUP_NAME.match(name):
            raise TioneError(
                Code.BAD_NAME,
                "ServiceGroupName: 1-60 characters, letters, digits, '_' and '-', "
                "starting with a letter or digit.",
            )
    return CreateService(
        group_id=group_id,
        name=name,
        description=r.string("ServiceDescription") or "",
        tags=_tags(r),
        auth=r.boolean("AuthorizationEnable"),
        workspace=r.string("TiProjectId") or None,
        version=_version(r),
        stop_at=stop_at(r),
    )


def _tags(r: Reader) -> dict[str, str]:
    out: dict[str, str] = {}
    for t in r.objects("Tags") or []:
        t.check_known({"TagKey", "TagValue"})
        key = t.string("TagKey", required=True)
        assert key is not None
        out[key] = t.string("TagValue") or ""
    return out


def _version(r: Reader) -> VersionSpec:
    replicas = r.integer("Replicas")
    if replicas is not None and replicas < 0:
        raise _value_error("Replicas must be 0 or more.")
    cpu, memory, gpu = _resources(r.obj("Resources"))
    grace = r.integer("TerminationGracePeriodSeconds")
    if grace is not None and grace < 0:
        raise _value_error("TerminationGracePeriodSeconds must be 0 or more.")
    return VersionSpec(
        image=_image(r.obj("ImageInfo")),
        model=_model(r.obj("ModelInfo")),
        command=command_of(r),
        replicas=1 if replicas is None else replicas,
        cpu=cpu,
        memory=memory,
        gpu=gpu,
        env=_env(r),
        grace_period=None if grace is None else float(grace),
        scaling=scaling(r),
    )


def _image(image: Reader | None) -> str | None:
    if image is None:
        return None
    url = image.string("ImageUrl")
    image.string("ImageType")  # checked for type; any value
    return url or None


def _model(model: Reader | None) -> ModelRef | None:
    if model is None:
        return None
    ref = ModelRef(
        id=model.string("ModelVersionId") or model.string("ModelId") or None,
        name=model.string("ModelName") or None,
        version=model.string("ModelVersion") or "1",
    )
    if ref.id is None and ref.name is None:
        raise missing(f"{model.path}.ModelVersionId")
    return ref


def command_of(r: Reader) -> list[str] | None:
    text = r.string("Command")
    encoded = r.string("CommandBase64")
    if encoded:
        try:
            text = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError) as exc:  # binascii.Error; non-ASCII text
            raise _value_error("CommandBase64 is not base64 of UTF-8 text.") from exc
    if not text or not text.strip():
        return None
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise _value_error(f"Command cannot be split into arguments: {exc}.") from exc


def _resources(res: Reader | None) -> tuple[float | None, int | None, int | None]:
    if res is None:
        return None, None, None
    milli = res.integer("Cpu")
    memory = res.integer("Memory")
    gpu = res.integer("Gpu")
    if milli is not None and milli <= 0:
        raise _value_error("Resources.Cpu must be more than 0 (milli-cores).")
    if memory is not None and memory <= 0:
        raise _value_error("Resources.Memory must be more than 0 (MB).")
    if gpu is not None and (gpu < 0 or gpu % 100):
        raise _value_error("Resources.Gpu must be a multiple of 100 (whole GPUs).")
    return (
        None if milli is None else milli / 1000,
        memory,
        None if gpu is None else gpu // 100,
    )


def _env(r: Reader) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in r.objects("Env") or []:
        e.check_known({"Name", "Value", "IsPrivate"})
        name = e.string("Name", required=True)
        assert name is not None
        out[name] = e.string("Value") or ""
    return out


@dataclass(frozen=True, slots=True)
class ModifyService:
    target: ById
    action: str | None  # STOP | RESUME | SCALE | None
    replicas: int | None
    description: str | None
    scaling: Scaling | None = None  # None: as it is


def modify_service(r: Reader) -> ModifyService:
    target = _by(r, "ServiceId", MODIFY)
    action = r.string("ServiceAction") or None
    if action is not None and action not in SERVICE_ACTIONS:
        raise _value_error(f"ServiceAction must be one of {', '.join(SERVICE_ACTIONS)}.")
    replicas = r.integer("Replicas")
    if replicas is not None and replicas < 0:
        raise _value_error("Replicas must be 0 or more.")
    if action == "SCALE" and replicas is None:
        raise missing("Replicas")
    if action is None:
        given = [k for k in MODIFY_UNSUPPORTED if r.has(k)]
        if given:
            raise TioneError(
                Code.UNSUPPORTED_OPERATION,
                f"{given[0]} cannot be changed in place; create a new version "
                "(CreateModelService with ServiceGroupId) and move the weights to it.",
            )
    return ModifyService(
        target=target,
        action=action,
        replicas=replicas,
        description=None if action else r.string("ServiceDescription"),
        scaling=None if action else scaling(r),
    )


@dataclass(frozen=True, slots=True)
class SetWeights:
    target: ById
    weights: dict[str, int]


def set_weights(r: Reader) -> SetWeights:
    target = by_group(r, WEIGHTS)
    entries = r.objects("Weights", required=True)
    assert entries is not None
    if not entries:
        raise _value_error("Weights must not be empty.")
    weights: dict[str, int] = {}
    for e in entries:
        e.check_known({"ServiceId", "Weight"})
        service_id = e.string("ServiceId", required=True)
        weight = e.integer("Weight", required=True)
        assert service_id is not None and weight is not None
        if service_id in weights:
            raise _value_error(f"{e.path}.ServiceId {service_id!r} is given twice.")
        weights[service_id] = weight
    return SetWeights(target, weights)
