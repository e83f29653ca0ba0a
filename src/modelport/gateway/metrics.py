"""What the gateway counts, kept in memory: per-minute stats waiting for the next flush to the
store, running totals for Prometheus, and requests in flight.

The hot path only adds to dicts and lists (`started`, `finished`, `rejected`, `retried`);
Prometheus families are built from these at scrape time (`Collector`), so a request pays no
metric-library locks. `drain()`/`restore()` hand the pending minutes to the flush and take
them back if the flush failed, so no count is lost.

The workers of one `modelport gateway` share a port, so a scrape reaches any one of them:
each worker writes its running totals to a file in a directory they share, once a second
(`SharedTotals.publish`), and answers a scrape with its own totals plus its siblings' (the
counters of a worker that exited stay in the sum, so no counter goes down; its in-flight
gauge does not).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector as _Collector

from modelport.domain.stats import BOUNDS_MS, MinuteStats
from modelport.gateway.routing import RoutingTable


@dataclass(slots=True)
class Totals:
    requests: int = 0
    failures: int = 0
    seconds: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS_MS) + 1))


@dataclass
class Snapshot:
    """Running totals of one gateway process, or of several added up."""

    totals: dict[tuple[str, str], Totals] = field(default_factory=lambda: defaultdict(Totals))
    rejected: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    retries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: Snapshot, *, live: bool = True) -> None:
        for key, t in other.totals.items():
            mine = self.totals[key]
            mine.requests += t.requests
            mine.failures += t.failures
            mine.seconds += t.seconds
            mine.buckets = [a + b for a, b in zip(mine.buckets, t.buckets, strict=True)]
        for rkey, n in other.rejected.items():
            self.rejected[rkey] += n
        for service, n in other.retries.items():
            self.retries[service] += n
        if live:
            for service, n in other.in_flight.items():
                self.in_flight[service] += n

    def to_json(self) -> dict[str, Any]:
        return {
            "totals": [
                [s, d, t.requests, t.failures, t.seconds, t.buckets]
                for (s, d), t in self.totals.items()
            ],
            "rejected": [[s, reason, n] for (s, reason), n in self.rejected.items()],
            "retries": dict(self.retries),
            "in_flight": dict(self.in_flight),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        snap = cls()
        for s, d, requests, failures, seconds, buckets in data["totals"]:
            snap.totals[(s, d)] = Totals(requests, failures, seconds, list(buckets))
        for s, reason, n in data["rejected"]:
            snap.rejected[(s, reason)] = n
        snap.retries.update(data["retries"])
        snap.in_flight.update(data["in_flight"])
        return snap


class Recorder:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.pending: dict[tuple[str, str, int], MinuteStats] = {}
        self.running = Snapshot()
        # the hot path's handles on the running totals
        self.totals = self.running.totals
        self.in_flight = self.running.in_flight
        self.rejected = self.running.rejected  # (service, reason) → calls
        self.retries = self.running.retries

    def started(self, service_id: str) -> None:
        self.in_flight[service_id] += 1

    def finished(self, service_id: str, deployment_id: str, failed: bool, seconds: float) -> None:
        self.in_flight[service_id] -= 1
        minute = int(self._clock()) // 60
        key = (service_id, deployment_id, minute)
        stats = self.pending.get(key)
        if stats is None:
            stats = self.pending[key] = MinuteStats(service_id, deployment_id, minute)
        bucket = stats.add(failed, seconds * 1000.0)
        totals = self.totals[(service_id, deployment_id)]
        totals.requests += 1
        totals.failures += failed
        totals.seconds += seconds
        totals.buckets[bucket] += 1

    def rejected_call(self, service_id: str, reason: str) -> None:
        """A call answered by the gateway itself (auth, rate limit, overload, no replica)."""
        self.rejected[(service_id, reason)] += 1

    def retried(self, service_id: str) -> None:
        self.retries[service_id] += 1

    def drain(self) -> list[MinuteStats]:
        batch = list(self.pending.values())
        self.pending = {}
        return batch

    def restore(self, batch: list[MinuteStats]) -> None:
        for stats in batch:
            key = (stats.service_id, stats.deployment_id, stats.minute)
            mine = self.pending.get(key)
            if mine is None:
                self.pending[key] = stats
                continue
            mine.requests += stats.requests
            mine.failures += stats.failures
            mine.buckets = [a + b for a, b in zip(mine.buckets, stats.buckets, strict=True)]


class SharedTotals:
    """The running totals of a multi-worker gateway's workers, through `directory`."""

    def __init__(self, directory: Path, recorder: Recorder) -> None:
        self.directory = directory
        self.recorder = recorder
        self.mine = directory / f"{os.getpid()}.json"

    def publish(self) -> None:
        tmp = self.mine.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.recorder.running.to_json()))
        tmp.replace(self.mine)

    def siblings(self) -> Iterable[tuple[Snapshot, bool]]:
        """Each other worker's last totals, and whether that worker still runs."""
        for path in self.directory.glob("*.json"):
            if path == self.mine:
                continue
            try:
                snap = Snapshot.from_json(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being replaced, or unreadable: the next scrape sees it
            yield snap, _alive(int(path.stem))


def _alive(pid: int) -> bool:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, 0)
        return True
    return False


class Collector(_Collector):
    """Prometheus families from a `Recorder` (plus its siblings' totals, when shared) and the
    routing table, built at scrape time."""

    def __init__(
        self,
        recorder: Recorder,
        table: Callable[[], RoutingTable],
        shared: SharedTotals | None = None,
    ) -> None:
        self.recorder = recorder
        self.table = table
        self.shared = shared

    def collect(self) -> Iterator[Metric]:
        rec = self.recorder.running
        if self.shared is not None:
            merged = Snapshot()
            merged.add(rec)
            for snap, alive in self.shared.siblings():
                merged.add(snap, live=alive)
            rec = merged
        requests = CounterMetricFamily(
            "modelport_gateway_requests",
            "Calls relayed to replicas, by service, deployment and outcome.",
            labels=["service", "deployment", "outcome"],
        )
        latency = HistogramMetricFamily(
            "modelport_gateway_request_duration_seconds",
            "Time from a call's arrival to the end of its answer.",
            labels=["service", "deployment"],
        )
        bounds = [str(b / 1000.0) for b in BOUNDS_MS] + ["+Inf"]
        for (service, deployment), t in sorted(rec.totals.items()):
            requests.add_metric([service, deployment, "ok"], t.requests - t.failures)
            requests.add_metric([service, deployment, "failed"], t.failures)
            cumulative, running = [], 0
            for bound, n in zip(bounds, t.buckets, strict=True):
                running += n
                cumulative.append((bound, running))
            latency.add_metric([service, deployment], cumulative, t.seconds)
        yield requests
        yield latency
        yield _family(
            CounterMetricFamily,
            "modelport_gateway_rejected",
            "Calls the gateway answered itself, by service and reason.",
            ["service", "reason"],
            rec.rejected.items(),
        )
        yield _family(
            CounterMetricFamily,
            "modelport_gateway_retries",
            "Calls retried on another replica after one failed before answering.",
            ["service"],
            (((service,), n) for service, n in rec.retries.items()),
        )
        yield _family(
            GaugeMetricFamily,
            "modelport_gateway_in_flight",
            "Calls in flight through this gateway process, by service.",
            ["service"],
            (((service,), n) for service, n in rec.in_flight.items()),
        )
        ready = GaugeMetricFamily(
            "modelport_service_ready_replicas",
            "Replicas in rotation, by service and deployment.",
            labels=["service", "deployment"],
        )
        for route in self.table().routes.values():
            for target in route.targets:
                ready.add_metric([route.service_id, target.deployment_id], len(target.addresses))
        yield ready


def _family(
    kind: type[CounterMetricFamily] | type[GaugeMetricFamily],
    name: str,
    documentation: str,
    labels: list[str],
    samples: Iterable[tuple[Sequence[str], float]],
) -> Metric:
    """One counter or gauge family: a sample per (label values, value), in a stable order."""
    family = kind(name, documentation, labels=labels)
    for label_values, value in sorted(samples):
        family.add_metric(list(label_values), value)
    return family
