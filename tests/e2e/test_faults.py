"""Faults injected under a bounded load, against real replicas: a replica that hangs (its
process stopped with SIGSTOP: connections are accepted by the kernel, never answered) is taken
out of rotation, replaced, and costs no call; `kill -9` of the control plane stops no call
through a separate gateway, and its restart adopts the replicas."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import Serve, replica_processes, wait_for
from tests.e2e.test_gateway import BODY, Load, _listens, separate_gateway
from tests.e2e.test_lifecycle import deploy, iris  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e


def test_a_hung_replica_is_replaced_without_a_failed_call(
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
) -> None:
    serve: Serve = serve_factory(MODELPORT_UNHEALTHY_TIMEOUT="2", MODELPORT_PROBE_TIMEOUT="0.5")
    serve.start()
    svc = deploy(serve, iris[0], replicas=2, grace_period=1)
    sid = svc["id"]
    r = serve.api("PATCH", f"/services/{sid}", json={"traffic": {"timeout": 1}})
    assert r.status_code == 200, r.text
    serve.wait_status(sid, "running", ready=2)
    key = serve.api("GET", f"/services/{sid}/key").json()["key"]

    victim = serve.api("GET", f"/services/{sid}/replicas").json()["data"][0]
    port = int(victim["address"].rsplit(":", 1)[1])
    hung = next(p for p in replica_processes(serve.home) if _listens(p.pid, port))
    try:
        with Load(svc["url"], key) as load:
            load.more(50)
            os.kill(hung.pid, signal.SIGSTOP)
            begun = time.monotonic()

            def replaced() -> dict[str, Any] | None:
                rs = serve.api("GET", f"/services/{sid}/replicas").json()["data"]
                me = next(r for r in rs if r["id"] == victim["id"])
                ok = me["restarts"] == 1 and me["state"] == "ready"
                return me if ok and not hung.is_running() else None

            back = wait_for(replaced, what="the hung replica replaced")
            took = time.monotonic() - begun
            load.more(100)
    finally:
        if hung.is_running():
            hung.kill()
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}
    assert back["address"] != victim["address"]
    events = serve.api("GET", f"/services/{sid}/events").json()["data"]
    assert any("health probe failing for 2s" in e["message"] for e in events)
    print(f"hung replica replaced and ready in {took:.1f} s; {load.sent} calls, 0 failed")


def test_killing_the_control_plane_stops_no_call_through_a_separate_gateway(
    database_url: str,  # first: its database is dropped only after the server stops
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
) -> None:
    """kill -9 of `serve` while a separate gateway carries the calls: they keep flowing, and the
    restarted control plane adopts the live replicas (none started twice, no record lost)."""
    serve: Serve = serve_factory(MODELPORT_DATABASE_URL=database_url)
    serve.start()
    svc = deploy(serve, iris[0], replicas=2)
    sid = svc["id"]
    serve.wait_status(sid, "running", ready=2)
    key = serve.api("GET", f"/services/{sid}/key").json()["key"]
    replicas = {r["id"]: r for r in serve.api("GET", f"/services/{sid}/replicas").json()["data"]}
    pids = {p.pid for p in replica_processes(serve.home)}

    with separate_gateway(serve) as gateway:
        wait_for(lambda: _answers(f"{gateway}/services/{sid}", key), what="the gateway up")
        with Load(f"{gateway}/services/{sid}", key) as load:
            load.more(50)
            serve.stop(signal.SIGKILL)
            load.more(200)  # the data plane serves on its last routes
            begun = time.monotonic()
            serve.start()  # answers once it has adopted the replicas and reconciled once
            took = time.monotonic() - begun
            serve.wait_status(sid, "running", ready=2)
            load.more(50)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}
    assert {p.pid for p in replica_processes(serve.home)} == pids
    after = {r["id"]: r for r in serve.api("GET", f"/services/{sid}/replicas").json()["data"]}
    assert after.keys() == replicas.keys()
    assert all(
        r["restarts"] == 0 and r["address"] == replicas[i]["address"] for i, r in after.items()
    )
    print(f"control plane back and reconciled in {took:.1f} s; {load.sent} calls, 0 failed")


def _answers(url: str, key: str) -> bool:
    try:
        r = httpx.post(
            f"{url}/v1/models/iris:predict",
            json=BODY,
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
        )
    except httpx.HTTPError:
        return False
    return r.status_code == 200
