"""A real server, a real scikit-learn model, real replica processes: the whole lifecycle."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from tests.e2e.conftest import Serve, replica_processes, wait_for

pytestmark = pytest.mark.e2e

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture
def iris(tmp_path: Path) -> tuple[Path, LogisticRegression]:
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    path = tmp_path / "iris.joblib"
    joblib.dump(model, path)
    return path, model


def deploy(serve: Serve, model_path: Path, replicas: int = 1, **extra: Any) -> dict[str, Any]:
    r = serve.api("POST", "/models", json={"name": "iris", "uri": str(model_path)})
    assert r.status_code == 201, r.text
    model = r.json()
    assert model["framework"] == "sklearn"
    body = {
        "name": "iris-svc",
        "deployments": [{"model_id": model["id"], "replicas": replicas, **extra}],
    }
    r = serve.api("POST", "/services", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def call(serve: Serve, service_id: str, path: str, body: Any, key: str | None = None) -> Any:
    key = key or serve.api("GET", f"/services/{service_id}/key").json()["key"]
    r = serve.http.post(
        f"{serve.gateway}/services/{service_id}/{path}",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def pid_of(replica: dict[str, Any]) -> int:
    return int(replica["handle"].split(":")[0]) if "handle" in replica else -1


def test_deploy_call_scale_heal_stop_start_delete(serve_factory, iris) -> None:
    path, model = iris
    serve = serve_factory()
    serve.start()
    svc = deploy(serve, path, replicas=1)
    sid = svc["id"]
    assert svc["status"] == "deploying"
    serve.wait_status(sid, "running", ready=1)

    # the answer is exactly what the model gives in-process
    expected = model.predict(np.array(ROWS)).tolist()
    v1 = call(serve, sid, "v1/models/iris:predict", {"instances": ROWS})
    assert v1["predictions"] == expected
    v2 = call(
        serve,
        sid,
        "v2/models/iris/infer",
        {"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": ROWS}]},
    )
    assert v2["outputs"][0]["data"] == expected

    # auth: no key, wrong key
    assert (
        serve.http.post(f"{serve.gateway}/services/{sid}/v1/models/iris:predict").status_code == 401
    )
    wrong = {"Authorization": "Bearer sk_wrong"}
    r = serve.http.post(f"{serve.gateway}/services/{sid}/v1/models/iris:predict", headers=wrong)
    assert r.status_code == 401

    # rotate the key: the old one stops working
    old = serve.api("GET", f"/services/{sid}/key").json()["key"]
    new = serve.api("POST", f"/services/{sid}/key/rotate").json()["key"]
    assert new != old
    wait_for(
        lambda: (
            serve.http.post(
                f"{serve.gateway}/services/{sid}/v1/models/iris:predict",
                json={"instances": ROWS},
                headers={"Authorization": f"Bearer {old}"},
            ).status_code
            == 401
        ),
        what="old key rejected",
    )
    assert call(serve, sid, "v1/models/iris:predict", {"instances": ROWS}, key=new)

    # scale to 2
    assert serve.api("POST", f"/services/{sid}/scale", json={"replicas": 2}).status_code == 200
    serve.wait_status(sid, "running", ready=2)
    assert len(replica_processes(serve.home)) == 2

    # kill -9 one replica: restarted, counted, an event recorded, back to running
    replicas = serve.api("GET", f"/services/{sid}/replicas").json()["data"]
    victim = replicas[0]
    pids = {p.pid for p in replica_processes(serve.home)}
    port = int(victim["address"].rsplit(":", 1)[1])
    victim_pid = next(p.pid for p in replica_processes(serve.home) if _listens(p.pid, port))
    os.kill(victim_pid, signal.SIGKILL)

    def restarted() -> bool:
        rs = serve.api("GET", f"/services/{sid}/replicas").json()["data"]
        me = next(r for r in rs if r["id"] == victim["id"])
        return me["restarts"] == 1 and me["state"] == "ready"

    wait_for(restarted, what="replica restarted")
    serve.wait_status(sid, "running", ready=2)
    events = serve.api("GET", f"/services/{sid}/events").json()["data"]
    assert any(e["reason"] == "ReplicaFailed" for e in events)
    assert any(e["reason"] == "ReplicaRestarted" for e in events)
    now = {p.pid for p in replica_processes(serve.home)}
    assert len(now) == 2 and victim_pid not in now and len(now & pids) == 1

    # logs of the replicas
    logs = serve.api("GET", f"/services/{sid}/logs").json()["replicas"]
    assert set(logs) == {r["id"] for r in replicas}

    # invocations are counted
    wait_for(lambda: serve.service(sid)["invocation_count"] >= 3, what="invocations counted")

    # stop: replicas 0, status stopped, config kept
    serve.api("POST", f"/services/{sid}/stop").raise_for_status()
    stopped = serve.wait_status(sid, "stopped")
    assert stopped["deployments"][0]["replicas"] == 2
    wait_for(lambda: not replica_processes(serve.home), what="replicas gone after stop")
    assert serve.http.post(
        f"{serve.gateway}/services/{sid}/v1/models/iris:predict"
    ).status_code in (
        401,
        503,
    )

    # start again
    serve.api("POST", f"/services/{sid}/start").raise_for_status()
    serve.wait_status(sid, "running", ready=2)

    # delete: replicas stopped, then rows removed
    assert serve.api("DELETE", f"/services/{sid}").status_code == 202
    wait_for(lambda: serve.api("GET", f"/services/{sid}").status_code == 404, what="deleted")
    assert not replica_processes(serve.home)


def _listens(pid: int, port: int) -> bool:
    import psutil

    try:
        return any(c.laddr and c.laddr.port == port for c in psutil.Process(pid).net_connections())
    except psutil.Error:
        return False


def test_sigterm_stops_replicas_and_kill9_adopts_them(serve_factory, iris) -> None:
    path, _ = iris
    serve = serve_factory()
    serve.start()
    sid = deploy(serve, path, replicas=2)["id"]
    serve.wait_status(sid, "running", ready=2)

    # SIGTERM: every replica stops with the server
    serve.stop(signal.SIGTERM)
    assert not replica_processes(serve.home)

    # the next start brings the service back
    serve.start()
    serve.wait_status(sid, "running", ready=2)
    before = {p.pid for p in replica_processes(serve.home)}
    assert len(before) == 2

    # kill -9: replicas outlive the server; the next start adopts them, starts none twice
    serve.stop(signal.SIGKILL)
    assert {p.pid for p in replica_processes(serve.home)} == before
    serve.start()
    serve.wait_status(sid, "running", ready=2)
    assert {p.pid for p in replica_processes(serve.home)} == before
    rs = serve.api("GET", f"/services/{sid}/replicas").json()["data"]
    assert len(rs) == 2 and all(r["restarts"] == 0 for r in rs)


def test_failed_start_shows_reason_and_unfit_stays_pending(serve_factory, tmp_path) -> None:
    serve = serve_factory()
    serve.start()
    bad = {
        "name": "broken",
        "deployments": [
            {
                "runtime": "command",
                "command": ["{python}", "-c", "import sys; sys.exit('cannot load weights.bin')"],
            }
        ],
    }
    sid = serve.api("POST", "/services", json=bad).json()["id"]
    failed = serve.wait_status(sid, "failed")
    assert "cannot load weights.bin" in failed["status_reason"]
    rs = serve.api("GET", f"/services/{sid}/replicas").json()["data"]
    assert rs[0]["state"] in ("failed", "starting", "pending")
    assert "cannot load weights.bin" in rs[0]["last_error"] or rs[0]["restarts"] > 0

    huge = {
        "name": "huge",
        "deployments": [
            {"runtime": "command", "command": ["{python}", "-m", "http.server"], "cpu": 4096}
        ],
    }
    sid2 = serve.api("POST", "/services", json=huge).json()["id"]
    pending = serve.wait_status(sid2, "pending")
    assert "insufficient cpu" in pending["status_reason"]
    for s in (sid, sid2):
        serve.api("DELETE", f"/services/{s}")
    wait_for(lambda: serve.api("GET", "/services").json()["total"] == 0, what="all deleted")
