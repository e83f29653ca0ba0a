"""Request statistics: what a gateway counts per deployment and minute, and the quantiles read
back from them.

Latencies are counted in fixed buckets (`BOUNDS_MS`, then one for everything slower), so
counts from many gateway processes and minutes add up, and p50/p99 over any window come from
the summed buckets (linear within the bucket that holds the quantile, as Prometheus'
`histogram_quantile` does).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

BOUNDS_MS: tuple[float, ...] = (
    0.5, 1, 2, 3, 5, 7.5, 10, 15, 25, 50, 75, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
)  # fmt: skip


def bucket_of(ms: float) -> int:
    """The index of the bucket counting a latency of `ms` (len(BOUNDS_MS): slower than all)."""
    return bisect.bisect_left(BOUNDS_MS, ms)


@dataclass(slots=True)
class MinuteStats:
    """One gateway process's calls of one deployment within one minute (Unix time // 60)."""

    service_id: str
    deployment_id: str
    minute: int
    requests: int = 0
    failures: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS_MS) + 1))

    def add(self, failed: bool, ms: float) -> int:
        """Count one call; returns the index of the bucket its latency fell in."""
        self.requests += 1
        self.failures += failed
        bucket = bucket_of(ms)
        self.buckets[bucket] += 1
        return bucket


def merge(rows: Iterable[MinuteStats]) -> list[int]:
    """The buckets of `rows` summed."""
    total = [0] * (len(BOUNDS_MS) + 1)
    for row in rows:
        for i, n in enumerate(row.buckets):
            total[i] += n
    return total


def quantile(buckets: Sequence[int], q: float) -> float | None:
    """The `q` quantile (0..1) in milliseconds of the latencies counted in `buckets`; None when
    nothing was counted. A quantile in the last (open) bucket is given as its lower bound."""
    count = sum(buckets)
    if count == 0:
        return None
    rank = q * count
    seen = 0
    for i, n in enumerate(buckets):
        if n and seen + n >= rank:
            if i == len(BOUNDS_MS):
                return BOUNDS_MS[-1]
            low = BOUNDS_MS[i - 1] if i else 0.0
            return low + (BOUNDS_MS[i] - low) * (rank - seen) / n
        seen += n
    return BOUNDS_MS[-1]


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one gateway process measured between two flushes (`span` seconds): for each
    deployment that had calls, the mean requests in flight and the most calls held at once
    for want of a replica."""

    span: float
    deployments: dict[str, tuple[float, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeploymentLoad:
    """A deployment's load over the autoscaler's window, every gateway added up."""

    in_flight: float = 0.0
    held: int = 0
