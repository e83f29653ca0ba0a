"""Rolling updates of real replicas under a bounded load: a new spec replaces every replica
with no failed call, a new spec whose replicas never get ready is rolled back with no failed
call, and changing only the replica count restarts nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import Serve, wait_for
from tests.e2e.test_gateway import Load, running
from tests.e2e.test_lifecycle import iris  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e


def replicas_of(serve: Serve, sid: str) -> list[dict[str, Any]]:
    return list(serve.api("GET", f"/services/{sid}/replicas").json()["data"])


def deployment(serve: Serve, sid: str) -> dict[str, Any]:
    return dict(serve.service(sid)["deployments"][0])


def test_a_new_spec_rolls_every_replica_over_without_a_dropped_call(
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
) -> None:
    serve, svc, key = running(serve_factory, iris[0], replicas=2)
    sid, dep = svc["id"], svc["deployments"][0]["id"]
    before = {r["id"] for r in replicas_of(serve, sid)}

    # the replica count alone restarts nothing
    assert serve.api("POST", f"/services/{sid}/scale", json={"replicas": 3}).status_code == 200
    serve.wait_status(sid, "running", ready=3)
    kept = [r for r in replicas_of(serve, sid) if r["id"] in before]
    assert len(kept) == 2 and all(r["restarts"] == 0 for r in kept)
    assert serve.api("POST", f"/services/{sid}/scale", json={"replicas": 2}).status_code == 200
    serve.wait_status(sid, "running", ready=2)
    before = {r["id"] for r in replicas_of(serve, sid)}

    with Load(svc["url"], key) as load:
        load.more(50)
        begun = time.monotonic()
        patch = {"env": {"ROLL": "2"}}
        r = serve.api("PATCH", f"/services/{sid}/deployments/{dep}", json=patch)
        assert r.status_code == 200, r.text
        assert r.json()["deployments"][0]["rollout_started_at"] is not None

        def rolled() -> dict[str, Any] | None:
            d = deployment(serve, sid)
            return d if d["rollout"] == "complete" else None

        done = wait_for(rolled, what="the rollout complete")
        took = time.monotonic() - begun
        load.more(50)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}
    assert done["updated_replicas"] == 2 and done["ready_replicas"] == 2
    after = {r["id"] for r in replicas_of(serve, sid) if r["state"] == "ready"}
    assert len(after) == 2 and not after & before
    reasons = [
        e["reason"] for e in serve.api("GET", "/events", params={"limit": 100}).json()["data"]
    ]
    assert "RolloutStarted" in reasons and "RolloutComplete" in reasons
    print(f"rollout of 2 replicas: {took:.1f} s, {load.sent} calls, 0 failed")


def test_a_spec_that_never_gets_ready_is_rolled_back_without_a_dropped_call(
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    serve, svc, key = running(serve_factory, iris[0], replicas=1)
    sid, dep = svc["id"], svc["deployments"][0]["id"]
    good = svc["deployments"][0]["model_id"]
    (old,) = replicas_of(serve, sid)
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"not a model")
    r = serve.api(
        "POST", "/models", json={"name": "broken", "uri": str(broken), "framework": "sklearn"}
    )
    assert r.status_code == 201, r.text

    with Load(svc["url"], key) as load:
        load.more(50)
        patch = {"model_id": r.json()["id"], "rollout_timeout": 3}
        r = serve.api("PATCH", f"/services/{sid}/deployments/{dep}", json=patch)
        assert r.status_code == 200, r.text

        def rolled_back() -> dict[str, Any] | None:
            d = deployment(serve, sid)
            return d if d["rollout"] == "rolled_back" and d["model_id"] == good else None

        wait_for(rolled_back, what="the roll-back")
        wait_for(lambda: len(replicas_of(serve, sid)) == 1, what="the new replica gone")
        load.more(50)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}
    (now,) = replicas_of(serve, sid)
    assert (now["id"], now["restarts"], now["state"]) == (old["id"], 0, "ready")
    events = serve.api("GET", "/events", params={"limit": 100}).json()["data"]
    assert any(e["reason"] == "RolledBack" and "3s" in e["message"] for e in events)
