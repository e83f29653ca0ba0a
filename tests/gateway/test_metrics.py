"""Metrics: a worker's scrape adds its siblings' running totals (files in a shared folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from modelport.gateway.metrics import Collector, Recorder, SharedTotals
from modelport.gateway.routing import RoutingTable


def scrape(recorder: Recorder, shared: SharedTotals) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(recorder, lambda: RoutingTable({}), shared))
    return generate_latest(registry).decode()


def test_a_scrape_adds_up_every_worker(tmp_path: Path) -> None:
    sibling = Recorder()
    for _ in range(3):
        sibling.started("svc-a")
        sibling.finished("svc-a", "dep-a", failed=False, seconds=0.002)
    sibling.started("svc-a")  # still in flight
    sibling.rejected_call("svc-a", "rate_limited")
    # a sibling that still runs (this test's parent) and one that has exited
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    for pid in (os.getppid(), int(exited.stdout)):
        (tmp_path / f"{pid}.json").write_text(json.dumps(sibling.running.to_json()))

    mine = Recorder()
    mine.started("svc-a")
    mine.finished("svc-a", "dep-a", failed=True, seconds=0.5)
    text = scrape(mine, SharedTotals(tmp_path, mine))

    ok = 'modelport_gateway_requests_total{deployment="dep-a",outcome="ok",service="svc-a"} 6.0'
    failed = (
        'modelport_gateway_requests_total{deployment="dep-a",outcome="failed",service="svc-a"} 1.0'
    )
    assert ok in text and failed in text
    assert 'modelport_gateway_rejected_total{reason="rate_limited",service="svc-a"} 2.0' in text
    assert 'modelport_gateway_in_flight{service="svc-a"} 1.0' in text  # the exited one's is gone
    count = 'modelport_gateway_request_duration_seconds_count{deployment="dep-a",service="svc-a"}'
    assert f"{count} 7.0" in text


def test_a_worker_publishes_its_totals(tmp_path: Path) -> None:
    mine = Recorder()
    mine.started("svc-a")
    mine.finished("svc-a", "dep-a", failed=False, seconds=0.01)
    shared = SharedTotals(tmp_path, mine)
    shared.publish()
    assert [p.name for p in tmp_path.iterdir()] == [f"{os.getpid()}.json"]
    assert list(shared.siblings()) == []  # its own file is not a sibling's
    data = json.loads((tmp_path / f"{os.getpid()}.json").read_text())
    assert data["totals"][0][:4] == ["svc-a", "dep-a", 1, 0]
