"""TI-ONE's scaling parameters ⇄ Modelport's autoscaling, schedules and auto stop.

- `ScaleMode` `AUTO` with `ScaleStrategy` `HPA` (the default) takes `HorizontalPodAutoscaler`:
  `MinReplicas`, `MaxReplicas`, `ScaleUpStabilizationWindowSeconds` and
  `ScaleDownStabilizationWindowSeconds` (the delays), and one `HpaMetrics` option,
  `concurrency-util`, whose `Value` is the requests in flight per replica. The other metrics
  (`cpu-util`, `gpu-util`, `memory-util`, `service-qps`) are `UnsupportedOperation`.
- `ScaleMode` `AUTO` with `ScaleStrategy` `CRON` takes `CronScaleJobs`: `Schedule` (five
  fields, or six with a leading seconds field of `0`, UTC), `TargetReplicas`, `MinReplicas`,
  `MaxReplicas`, `Name`, `ExcludeDates` (`YYYY-MM-DD`).
- `ScaleMode` `MANUAL` (the default) is a fixed `Replicas`; the autoscaler and jobs given with
  it are accepted and unused, as TI-ONE does.
- `ScheduledAction` `{ScheduleStop: true, ScheduleStopTime}` (RFC 3339) stops the service then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from modelport.dialects.tione.errors import Code, TioneError, missing
from modelport.dialects.tione.params import Reader
from modelport.domain.errors import Invalid
from modelport.domain.scaling import Autoscaling, ScaleJob, check_autoscaling, check_jobs

METRIC = "concurrency-util"
OTHER_METRICS = ("cpu-util", "gpu-util", "memory-util", "service-qps")
HPA_FIELDS = {
    "MinReplicas",
    "MaxReplicas",
    "HpaMetrics",
    "ScaleUpStabilizationWindowSeconds",
    "ScaleDownStabilizationWindowSeconds",
}
JOB_FIELDS = {"Schedule", "Name", "TargetReplicas", "MinReplicas", "MaxReplicas", "ExcludeDates"}
# Modelport's field names in `Invalid` → TI-ONE's
_NAMES = {
    "min_replicas": "MinReplicas",
    "max_replicas": "MaxReplicas",
    "target": f"HpaMetrics.{METRIC}",
    "scale_up_delay": "ScaleUpStabilizationWindowSeconds",
    "scale_down_delay": "ScaleDownStabilizationWindowSeconds",
    "schedule": "Schedule",
    "replicas": "TargetReplicas",
    "name": "Name",
    "exclude_dates": "ExcludeDates",
}


@dataclass(frozen=True, slots=True)
class Scaling:
    """How one TI-ONE service (a deployment) scales: neither, or autoscaling, or jobs."""

    autoscaling: Autoscaling | None = None
    schedules: tuple[ScaleJob, ...] = ()


def scaling(r: Reader) -> Scaling | None:
    """The scaling a Create/Modify asks for; None when it names no `ScaleMode`."""
    mode = r.string("ScaleMode")
    if mode not in (None, "MANUAL", "AUTO"):
        raise _value("ScaleMode must be MANUAL or AUTO.")
    strategy = r.string("ScaleStrategy")
    if strategy not in (None, "HPA", "CRON"):
        raise _value("ScaleStrategy must be HPA or CRON.")
    if mode is None:
        return None
    if mode == "MANUAL":
        return Scaling()
    if strategy == "CRON":
        jobs = r.objects("CronScaleJobs")
        if not jobs:
            raise missing("CronScaleJobs")
        return Scaling(schedules=_jobs(jobs))
    hpa = r.obj("HorizontalPodAutoscaler")
    if hpa is None:
        raise missing("HorizontalPodAutoscaler")
    return Scaling(autoscaling=_autoscaling(hpa))


def _autoscaling(hpa: Reader) -> Autoscaling:
    hpa.check_known(HPA_FIELDS)
    target = 1.0
    for option in hpa.objects("HpaMetrics") or []:
        option.check_known({"Name", "Value"})
        name = option.string("Name", required=True)
        if name in OTHER_METRICS:
            raise TioneError(
                Code.UNSUPPORTED_OPERATION,
                f"HorizontalPodAutoscaler.HpaMetrics {name} is not available; autoscaling "
                f"follows requests in flight: use {METRIC}.",
            )
        if name != METRIC:
            raise _value(f"{option.path}.Name must be one of {METRIC}, {', '.join(OTHER_METRICS)}.")
        value = option.integer("Value", required=True)
        assert value is not None
        target = float(value)
    low = hpa.integer("MinReplicas")
    high = hpa.integer("MaxReplicas")
    up = hpa.integer("ScaleUpStabilizationWindowSeconds")
    down = hpa.integer("ScaleDownStabilizationWindowSeconds")
    default = Autoscaling()
    a = Autoscaling(
        min_replicas=default.min_replicas if low is None else low,
        max_replicas=max(default.max_replicas, low or 0) if high is None else high,
        target=target,
        scale_up_delay=default.scale_up_delay if up is None else float(up),
        scale_down_delay=default.scale_down_delay if down is None else float(down),
    )
    try:
        return check_autoscaling(hpa.path, a)
    except Invalid as exc:
        raise _invalid(exc) from None


def _jobs(readers: list[Reader]) -> tuple[ScaleJob, ...]:
    jobs = []
    for job in readers:
        job.check_known(JOB_FIELDS)
        schedule = job.string("Schedule", required=True)
        assert schedule is not None
        fields = schedule.split()
        if len(fields) == 6 and fields[0] == "0":  # Kubernetes CronHPA's leading seconds
            schedule = " ".join(fields[1:])
        jobs.append(
            ScaleJob(
                schedule=schedule,
                replicas=job.integer("TargetReplicas"),
                min_replicas=job.integer("MinReplicas"),
                max_replicas=job.integer("MaxReplicas"),
                name=job.string("Name") or "",
                exclude_dates=tuple(job.strings("ExcludeDates") or ()),
            )
        )
    try:
        return check_jobs("CronScaleJobs", jobs)
    except Invalid as exc:
        raise _invalid(exc) from None


def stop_at(r: Reader) -> datetime | None:
    """`ScheduledAction`: when to stop the service, if it asks for a stop."""
    action = r.obj("ScheduledAction")
    if action is None:
        return None
    action.check_known({"ScheduleStop", "ScheduleStopTime"})
    if not action.boolean("ScheduleStop"):
        return None
    text = action.string("ScheduleStopTime", required=True)
    assert text is not None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise _value(f"{action.path}.ScheduleStopTime must be RFC 3339: 2026-01-26T19:46:22+08:00.")
    return when


def render(autoscaling: Autoscaling | None, jobs: tuple[ScaleJob, ...]) -> dict[str, object]:
    """The `Service` fields that state how it scales."""
    if autoscaling is None and not jobs:
        return {"ScaleMode": "MANUAL"}
    out: dict[str, object] = {
        "ScaleMode": "AUTO",
        "ScaleStrategy": "HPA" if autoscaling else "CRON",
    }
    if autoscaling is not None:
        out["HorizontalPodAutoscaler"] = {
            "MinReplicas": autoscaling.min_replicas,
            "MaxReplicas": autoscaling.max_replicas,
            "HpaMetrics": [{"Name": METRIC, "Value": max(round(autoscaling.target), 1)}],
            "ScaleUpStabilizationWindowSeconds": round(autoscaling.scale_up_delay),
            "ScaleDownStabilizationWindowSeconds": round(autoscaling.scale_down_delay),
        }
    if jobs:
        out["CronScaleJobs"] = [
            {
                "Schedule": j.schedule,
                "Name": j.name,
                "TargetReplicas": j.replicas,
                "MinReplicas": j.min_replicas,
                "MaxReplicas": j.max_replicas,
                "ExcludeDates": list(j.exclude_dates),
            }
            for j in jobs
        ]
    return out


def _value(message: str) -> TioneError:
    return TioneError(Code.INVALID_PARAMETER_VALUE, message)


def _invalid(exc: Invalid) -> TioneError:
    """A domain check's failure, with TI-ONE's field names."""
    head, _, rest = exc.field.rpartition(".")
    key = rest.split("[", 1)[0]
    rest = _NAMES.get(key, key) + rest[len(key) :]
    name = f"{head}.{rest}" if head else rest
    reason = exc.message.split(": ", 1)[-1]
    return _value(f"{name}: {reason}")
