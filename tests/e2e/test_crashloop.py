"""A runtime that crashes at once, over and over, next to a healthy service, with real
processes: the crasher backs off (exponential, capped at `MODELPORT_BACKOFF_MAX`) and shows
`failed` with its last log line, and the healthy service deploys, scales and answers every
call meanwhile: one crash-looping service starves no other.

The backoff is read from what the server reports, never from the wall clock: the delays in
the `ReplicaFailed` events ("restarting in Xs"), in order, and the replica's restart count.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.e2e.conftest import Serve, wait_for
from tests.e2e.test_gateway import Load
from tests.e2e.test_lifecycle import deploy, iris  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

LINE = "crasher: cannot open weights.bin (corrupt header)"
CRASH = ["{python}", "-c", f"import sys; print({LINE!r}, flush=True); sys.exit(3)"]
BASE, CAP = 0.2, 1.6  # delays 0.2, 0.4, 0.8, 1.6, 1.6, …
LOOPS = 6  # failures to watch: the cap is reached at the 4th and held after
DELAY = re.compile(r"restarting in ([0-9.]+)s$")


def _delay(message: str) -> float:
    found = DELAY.search(message)
    assert found, message
    return float(found.group(1))


def _events(serve: Serve, sid: str) -> list[dict[str, Any]]:
    events = serve.api("GET", f"/services/{sid}/events?limit=1000").json()["data"]
    return sorted(events, key=lambda e: e["at"])  # oldest first


def test_a_crash_loop_backs_off_fails_and_starves_no_one(
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
) -> None:
    serve: Serve = serve_factory(MODELPORT_BACKOFF_BASE=str(BASE), MODELPORT_BACKOFF_MAX=str(CAP))
    serve.start()
    deps = [{"runtime": "command", "command": CRASH, "replicas": 1}]
    r = serve.api("POST", "/services", json={"name": "crasher", "deployments": deps})
    assert r.status_code == 201, r.text
    crasher = r.json()["id"]

    def failed() -> dict[str, Any] | None:
        s = serve.service(crasher)
        return s if s["status"] == "failed" else None

    shown = wait_for(failed, what="the crasher failed")
    assert LINE in shown["status_reason"] and "exited with code 3" in shown["status_reason"]

    # the healthy service deploys, takes calls and scales while the crasher loops
    svc = deploy(serve, iris[0], replicas=1)
    sid = svc["id"]
    serve.wait_status(sid, "running", ready=1)
    key = serve.api("GET", f"/services/{sid}/key").json()["key"]
    with Load(svc["url"], key) as load:
        load.more(50)
        assert serve.api("POST", f"/services/{sid}/scale", json={"replicas": 2}).status_code == 200
        serve.wait_status(sid, "running", ready=2)

        def looped() -> dict[str, Any] | None:
            rs = serve.api("GET", f"/services/{crasher}/replicas").json()["data"]
            return rs[0] if rs and rs[0]["restarts"] >= LOOPS else None

        replica = wait_for(looped, what=f"the crasher restarted {LOOPS} times")
        load.more(50)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}

    # the crasher: still failed, its last log line in its status and its replica
    assert serve.service(crasher)["status"] == "failed"
    assert LINE in replica["last_error"] and replica["state"] in ("failed", "starting")
    events = _events(serve, crasher)
    fails = [e for e in events if e["reason"] == "ReplicaFailed"]
    restarts = [e for e in events if e["reason"] == "ReplicaRestarted"]
    assert all(LINE in e["message"] for e in fails)
    assert len(restarts) >= replica["restarts"] >= LOOPS

    # the delays, in order: base, doubling, capped, never shorter than the one before
    delays = [_delay(e["message"]) for e in fails]
    assert delays == pytest.approx([min(CAP, BASE * 2**i) for i in range(len(delays))])
    assert delays == sorted(delays) and delays[3:] == [CAP] * (len(delays) - 3)
    print(
        f"backoff {delays} s over {replica['restarts']} restarts; healthy service: "
        f"{load.sent} calls, 0 failed"
    )
