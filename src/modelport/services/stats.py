"""A service's request stats over a window of minutes, summed from the gateways' minute rows.

The gateway writes one `MinuteStats` row per (gateway process, deployment, minute) at each
flush (`store/repos/traffic.py`). `summarize` adds up the rows of a window: counts and latency
buckets per service, per deployment and per minute, with p50/p99 read from the summed
buckets (`domain/stats.py`). Pure: `ServiceOps.stats` reads the rows and the clock and calls
it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from modelport.domain.services import Service
from modelport.domain.stats import MinuteStats, merge, quantile

MAX_MINUTES = 60  # the gateway keeps an hour of minute rows


@dataclass(frozen=True, slots=True)
class DeploymentStats:
    deployment_id: str
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class MinuteSummary:
    minute: datetime  # the start of the minute, UTC
    requests: int
    failures: int
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """`window_seconds` is the whole minutes of the window; the current minute counts as a
    whole one, so `requests_per_second` reads low while it is young."""

    service_id: str
    window_seconds: int
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    deployments: tuple[DeploymentStats, ...]
    minutes: tuple[MinuteSummary, ...]


def summarize(service: Service, rows: Iterable[MinuteStats], first: int, last: int) -> ServiceStats:
    """Sum `rows` over the minutes `first`..`last` (Unix time // 60, both included); rows
    outside them are left out. Every deployment of `service` and every minute of the window is
    listed, with zeros (and null quantiles) where nothing was counted; a deployment removed
    since still shows while its rows are in the window, after the current ones."""
    kept = [r for r in rows if first <= r.minute <= last and r.service_id == service.id]
    window = (last - first + 1) * 60
    by_deployment: dict[str, list[MinuteStats]] = {d.id: [] for d in service.deployments}
    by_minute: dict[int, list[MinuteStats]] = {m: [] for m in range(first, last + 1)}
    for row in sorted(kept, key=lambda r: r.deployment_id):
        by_deployment.setdefault(row.deployment_id, []).append(row)
        by_minute[row.minute].append(row)
    requests, failures = _counts(kept)
    p50, p99 = _quantiles(kept)
    return ServiceStats(
        service_id=service.id,
        window_seconds=window,
        requests=requests,
        failures=failures,
        requests_per_second=requests / window,
        p50_ms=p50,
        p99_ms=p99,
        deployments=tuple(
            _deployment(dep_id, dep_rows, window) for dep_id, dep_rows in by_deployment.items()
        ),
        minutes=tuple(_minute(m, minute_rows) for m, minute_rows in by_minute.items()),
    )


def _counts(rows: Sequence[MinuteStats]) -> tuple[int, int]:
    return sum(r.requests for r in rows), sum(r.failures for r in rows)


def _quantiles(rows: Sequence[MinuteStats]) -> tuple[float | None, float | None]:
    buckets = merge(rows)
    return quantile(buckets, 0.5), quantile(buckets, 0.99)


def _deployment(deployment_id: str, rows: Sequence[MinuteStats], window: int) -> DeploymentStats:
    requests, failures = _counts(rows)
    p50, p99 = _quantiles(rows)
    return DeploymentStats(deployment_id, requests, failures, requests / window, p50, p99)


def _minute(minute: int, rows: Sequence[MinuteStats]) -> MinuteSummary:
    requests, failures = _counts(rows)
    p50, p99 = _quantiles(rows)
    return MinuteSummary(datetime.fromtimestamp(minute * 60, UTC), requests, failures, p50, p99)
