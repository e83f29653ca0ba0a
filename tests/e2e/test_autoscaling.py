"""Autoscaling with a real server, real iris replicas and real load through the gateway: load
scales the deployment up, idleness takes it to zero, a call wakes it (held by the gateway
until a replica is ready), and an auto-stop time stops the service. No call fails."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import Serve, wait_for
from tests.e2e.test_gateway import BODY, Load
from tests.e2e.test_lifecycle import deploy, iris  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

AUTOSCALING = {
    "min_replicas": 0,
    "max_replicas": 2,
    "target": 0.25,  # requests in flight per replica: any steady load wants both
    "scale_up_delay": 0,
    "scale_down_delay": 2,
}


def test_load_scales_up_idleness_scales_to_zero_and_a_call_wakes_it(
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
) -> None:
    serve: Serve = serve_factory(MODELPORT_AUTOSCALE_WINDOW="2")
    serve.start()
    svc = deploy(serve, iris[0], replicas=1, autoscaling=AUTOSCALING, grace_period=1)
    sid = svc["id"]
    key = serve.api("GET", f"/services/{sid}/key").json()["key"]

    def deployment() -> dict[str, Any]:
        return dict(serve.service(sid)["deployments"][0])

    # the gateway learns of the service at the controller's next pass (until then: 404)
    wait_for(lambda: sid in serve.http.get(f"{serve.gateway}/metrics").text, what="its route")
    # calls from the start: the first ones wait in the gateway for the first replica
    with Load(svc["url"], key) as load:
        begun = time.monotonic()
        wait_for(lambda: deployment()["ready_replicas"] == 2, what="a second replica")
        scaled_up = time.monotonic() - begun
        load.more(50)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}

    begun = time.monotonic()
    asleep = serve.wait_status(sid, "running", ready=0)
    to_zero = time.monotonic() - begun
    assert asleep["status_reason"] == "scaled to zero: a call wakes it"
    assert asleep["deployments"][0]["target_replicas"] == 0
    wait_for(lambda: not serve.api("GET", f"/services/{sid}/replicas").json()["data"])

    begun = time.monotonic()
    woken = httpx.post(
        f"{svc['url']}/v1/models/iris:predict",
        json=BODY,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    cold_start = time.monotonic() - begun
    assert woken.status_code == 200, woken.text
    assert deployment()["target_replicas"] == 1

    events = serve.api("GET", f"/services/{sid}/events").json()["data"]
    scaled = {e["message"].split(" autoscaled ")[1] for e in events if e["reason"] == "Autoscaled"}
    assert {"from 1 to 2 replicas", "from 0 to 1 replicas"} <= scaled
    assert any(s.endswith("to 0 replicas") for s in scaled)

    r = serve.api("PATCH", f"/services/{sid}", json={"stop_after": 1})
    assert r.status_code == 200, r.text
    assert r.json()["stop_at"] is not None
    stopped = serve.wait_status(sid, "stopped")
    assert (stopped["desired_state"], stopped["stop_at"]) == ("stopped", None)
    events = serve.api("GET", f"/services/{sid}/events").json()["data"]
    assert any(e["reason"] == "AutoStopped" for e in events)
    print(
        f"scaled up in {scaled_up:.1f}s, to zero in {to_zero:.1f}s, "
        f"cold start {cold_start:.2f}s, calls {load.sent}, failed 0"
    )
