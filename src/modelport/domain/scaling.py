"""How many replicas a deployment runs, when it is not a fixed count: autoscaling on requests
in flight, and scheduled scaling by cron jobs (TI-ONE's `HorizontalPodAutoscaler` and
`CronScaleJobs`). Pure: the controller's `Autoscaler` keeps the history the delays need.

- `Autoscaling`: between `min_replicas` and `max_replicas`, one replica per `target` requests
  in flight (the mean over the load window of every gateway together); a higher count is
  taken once it was wanted for `scale_up_delay` seconds, a lower one once it was wanted for
  `scale_down_delay` seconds (the Kubernetes HPA's stabilization windows). `min_replicas`
  0 lets the deployment scale to zero: the gateway then holds a call until a replica is ready.
- `ScaleJob`: at each time its cron `schedule` fires (UTC), the job sets the count
  (`replicas`), or with autoscaling the bounds (`min_replicas`, `max_replicas`). The job that
  fired last since the deployment's scaling was last set (`Deployment.scale_set_at`) is in
  force, so a manual scale holds until the next job fires, and two jobs make a window
  ("4 replicas from 09:00, 1 from 18:00").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from croniter import CroniterBadCronError, croniter

from modelport.domain.errors import Invalid

MAX_REPLICAS = 64
MAX_DELAY = 86_400.0  # a day
MAX_JOBS = 16
# how far back a job's last firing is looked for past excluded dates (a year of daily runs)
_MAX_SKIPS = 366


@dataclass(frozen=True, slots=True)
class Autoscaling:
    min_replicas: int = 1
    max_replicas: int = 1
    target: float = 1.0  # requests in flight per replica
    scale_up_delay: float = 0.0  # seconds
    scale_down_delay: float = 60.0  # seconds


@dataclass(frozen=True, slots=True)
class ScaleJob:
    schedule: str  # five-field cron expression, UTC
    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    name: str = ""
    exclude_dates: tuple[str, ...] = ()  # ISO dates (UTC) on which the job does not fire

    @property
    def count(self) -> int:
        """The count the job sets without autoscaling."""
        for n in (self.replicas, self.min_replicas, self.max_replicas):
            if n is not None:
                return n
        return 0  # `check_jobs` refuses such a job


@dataclass(frozen=True, slots=True)
class Bounds:
    low: int
    high: int

    def clamp(self, n: int) -> int:
        return min(max(n, self.low), self.high)


def check_autoscaling(field: str, a: Autoscaling) -> Autoscaling:
    """`a` if every value is in range, else `Invalid` naming the first that is not."""
    for name, n in (("min_replicas", a.min_replicas), ("max_replicas", a.max_replicas)):
        if not 0 <= n <= MAX_REPLICAS:
            raise Invalid(f"{field}.{name}", f"must be between 0 and {MAX_REPLICAS}")
    if a.max_replicas < max(a.min_replicas, 1):
        raise Invalid(f"{field}.max_replicas", "must be at least min_replicas and at least 1")
    if not 0 < a.target <= 100_000:  # NaN fails too
        raise Invalid(f"{field}.target", "requests in flight per replica: > 0 and <= 100000")
    for name, s in (("scale_up_delay", a.scale_up_delay), ("scale_down_delay", a.scale_down_delay)):
        if not 0 <= s <= MAX_DELAY:
            raise Invalid(f"{field}.{name}", f"seconds, between 0 and {MAX_DELAY:g}")
    return a


def check_jobs(field: str, jobs: Sequence[ScaleJob]) -> tuple[ScaleJob, ...]:
    if len(jobs) > MAX_JOBS:
        raise Invalid(field, f"at most {MAX_JOBS} jobs")
    for i, job in enumerate(jobs):
        where = f"{field}[{i}]"
        if not croniter.is_valid(job.schedule) or len(job.schedule.split()) != 5:
            raise Invalid(f"{where}.schedule", "a five-field cron expression (UTC)")
        counts = (job.replicas, job.min_replicas, job.max_replicas)
        if all(n is None for n in counts):
            raise Invalid(f"{where}.replicas", "give replicas, or min_replicas/max_replicas")
        for name, n in zip(("replicas", "min_replicas", "max_replicas"), counts, strict=True):
            if n is not None and not 0 <= n <= MAX_REPLICAS:
                raise Invalid(f"{where}.{name}", f"must be between 0 and {MAX_REPLICAS}")
        low, high = job.min_replicas, job.max_replicas
        if low is not None and high is not None and high < low:
            raise Invalid(f"{where}.max_replicas", "must be at least min_replicas")
        if len(job.name) > 64:
            raise Invalid(f"{where}.name", "at most 64 characters")
        for j, day in enumerate(job.exclude_dates):
            try:
                date.fromisoformat(day)
            except (TypeError, ValueError):
                raise Invalid(f"{where}.exclude_dates[{j}]", "a date: YYYY-MM-DD") from None
    return tuple(jobs)


def last_fired(job: ScaleJob, now: datetime) -> datetime | None:
    """When `job` last fired at or before `now`, passing over its excluded dates."""
    try:
        times = croniter(job.schedule, now, ret_type=datetime)
    except CroniterBadCronError:
        return None
    excluded = set(job.exclude_dates)
    for _ in range(_MAX_SKIPS):
        when: datetime = times.get_prev()
        if when.date().isoformat() not in excluded:
            return when
    return None


def job_in_force(
    jobs: Sequence[ScaleJob], since: datetime | None, now: datetime
) -> ScaleJob | None:
    """The job that fired last after `since` (None: ever), or None if none did."""
    best: tuple[datetime, ScaleJob] | None = None
    for job in jobs:
        when = last_fired(job, now)
        if when is None or (since is not None and when <= since):
            continue
        if best is None or when > best[0]:
            best = (when, job)
    return best[1] if best else None


def bounds(
    replicas: int,
    autoscaling: Autoscaling | None,
    jobs: Sequence[ScaleJob],
    since: datetime | None,
    now: datetime,
) -> Bounds:
    """The replica counts allowed now: one count (low == high) without autoscaling."""
    job = job_in_force(jobs, since, now) if jobs else None
    if autoscaling is None:
        n = job.count if job is not None else replicas
        return Bounds(n, n)
    if job is None:
        return Bounds(autoscaling.min_replicas, autoscaling.max_replicas)
    low = job.min_replicas if job.min_replicas is not None else job.count
    high = job.max_replicas if job.max_replicas is not None else autoscaling.max_replicas
    return Bounds(low, max(high, low))


def recommend(in_flight: float, target: float, held: int) -> int:
    """Replicas for `in_flight` requests at `target` each; one at least while calls are held."""
    want = math.ceil(in_flight / target - 1e-9) if in_flight > 0 else 0
    return max(want, 1) if held else want
