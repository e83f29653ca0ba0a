"""Tests of `modelport.client.Client` against a real server running in-process.

The `server` fixture runs `modelport.server.build(...)` under uvicorn in a background thread on
a free port; replicas are real processes (`python -m http.server` through the `command`
runtime), and teardown checks that every process a test started is gone. Wire details that a
real server cannot provoke (an answer without an envelope, a wait that times out) use
`httpx.MockTransport` and an injected clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import joblib
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest
import uvicorn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from tests.ports import free_port

from modelport.client import ApiError, Client
from modelport.client.client import WaitTimeout
from modelport.config import Settings
from modelport.server import build

HTTP_SERVER = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]
CRASHER = ["{python}", "-c", "raise SystemExit(3)"]
DEADLINE = 30.0


def live_children() -> set[int]:
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                pids.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return pids


@dataclass
class Running:
    url: str
    api_key: str
    home: Path
    settings: Settings
    thread: threading.Thread

    def client(self) -> Client:
        return Client(self.url, self.api_key)

    def eventually(self, check: Callable[[], bool], what: str) -> None:
        """Poll `check` until true; the pause between polls ends early if the server dies."""
        deadline = time.monotonic() + DEADLINE
        while not check():
            if not self.thread.is_alive():
                pytest.fail(f"the server died while waiting for {what}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            self.thread.join(timeout=0.05)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    for var in ("MODELPORT_URL", "MODELPORT_API_KEY", "MODELPORT_HOME"):
        monkeypatch.delenv(var, raising=False)
    before = live_children()
    home = tmp_path / "home"
    settings = Settings(
        home=home,
        port=free_port(),
        gateway_port=free_port(),
        resync_interval=0.2,
        probe_interval=0.1,
        backoff_base=0.1,
        backoff_max=0.5,
    )
    config = uvicorn.Config(
        build(settings), host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="modelport-server")
    thread.start()
    deadline = time.monotonic() + DEADLINE
    while not srv.started:
        if not thread.is_alive():
            pytest.fail("the server exited during startup")
        if time.monotonic() > deadline:
            pytest.fail("the server did not start")
        thread.join(timeout=0.02)
    creds = json.loads((home / "credentials").read_text())
    running = Running(creds["url"], creds["api_key"], home, settings, thread)
    try:
        yield running
    finally:
        srv.should_exit = True
        thread.join(timeout=DEADLINE)
        assert not thread.is_alive(), "the server did not stop"
        deadline = time.monotonic() + DEADLINE
        while live_children() - before:
            assert time.monotonic() < deadline, f"left running: {live_children() - before}"
            thread.join(timeout=0.05)  # returns at once: the pause between polls


@pytest.fixture
def client(server: Running) -> Iterator[Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def iris_path(tmp_path: Path) -> Path:
    X, y = load_iris(return_X_y=True)
    path = tmp_path / "iris.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(X, y), path)
    return path


def http_service(client: Client, name: str, replicas: int = 1) -> dict[str, Any]:
    return client.create_service(
        name, deployments=[{"runtime": "command", "command": HTTP_SERVER, "replicas": replicas}]
    )


def gone(client: Client, service_id: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            client.get_service(service_id)
        except ApiError as exc:
            return exc.status == 404
        return False

    return check


# -- against the real server ----------------------------------------------------------------
def test_health(server: Running, client: Client) -> None:
    assert client.health() == {
        "status": "ok",
        "version": "0.1.0",
        "gateway_url": server.settings.gateway_url,
    }


def test_from_settings_reads_the_credentials_file(server: Running) -> None:
    with Client.from_settings(Settings(home=server.home)) as c:
        assert c.url == server.url
        assert c.list_models()["total"] == 0


def test_from_settings_keeps_the_local_key_from_other_servers(server: Running) -> None:
    other = f"http://localhost:{server.settings.port}"
    with Client.from_settings(Settings(home=server.home, url=other)) as c:
        assert c.api_key is None
        with pytest.raises(ApiError) as err:
            c.list_models()
    assert (err.value.status, err.value.code) == (401, "unauthorized")


def test_from_settings_prefers_explicit_values(server: Running) -> None:
    settings = Settings(home=server.home, url=server.url, api_key="mp_wrong")
    with Client.from_settings(settings) as c, pytest.raises(ApiError) as err:
        c.list_models()
    assert err.value.code == "unauthorized"


def test_models_register_list_get_delete(
    client: Client, iris_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(iris_path.parent)
    model = client.register_model("iris.joblib", "iris", description="test")
    assert model["uri"] == str(iris_path.resolve())
    assert model["framework"] == "sklearn"
    assert model["size"] > 0
    other = client.register_model(iris_path, "iris", version="2")

    page = client.list_models()
    assert page["total"] == 2
    assert {m["id"] for m in page["data"]} == {model["id"], other["id"]}
    assert client.list_models(version="2")["data"] == [other]
    assert client.list_models(limit=1)["total"] == 2
    assert len(client.list_models(limit=1)["data"]) == 1
    assert client.get_model(model["id"]) == model

    client.delete_model(model["id"])
    with pytest.raises(ApiError) as err:
        client.get_model(model["id"])
    assert (err.value.status, err.value.code) == (404, "not_found")
    assert err.value.details == {"kind": "model", "id": model["id"]}


def test_register_errors_name_the_field(client: Client, tmp_path: Path) -> None:
    with pytest.raises(ApiError) as err:
        client.register_model(tmp_path / "missing.joblib", "m")
    assert (err.value.status, err.value.code) == (400, "invalid")
    assert err.value.details["field"] == "uri"
    assert "uri" in err.value.message

    with pytest.raises(ApiError) as err:
        client.list_models(colour="red")
    assert err.value.details["field"] == "colour"


def test_runtimes(client: Client) -> None:
    names = {r["name"] for r in client.list_runtimes()["data"]}
    assert {"sklearn", "onnx", "embeddings", "command"} <= names
    rt = client.create_runtime("web", HTTP_SERVER)
    assert rt["system"] is False
    assert client.get_runtime("web")["id"] == rt["id"]


def test_custom_service_lifecycle(server: Running, client: Client) -> None:
    svc = http_service(client, "web")
    sid = svc["id"]
    assert svc["status"] in ("deploying", "pending", "running")
    seen: list[str] = []
    ready = client.wait_ready(sid, timeout=DEADLINE, on_progress=lambda s: seen.append(s["status"]))
    assert ready["status"] == "running"
    assert ready["url"] == f"{server.settings.gateway_url}/services/{sid}"
    assert seen[-1] == "running"

    # the data plane: the key is fetched when not given; a wrong key is refused
    assert "Directory listing" in client.invoke(sid, "", method="GET")
    key = client.service_key(sid)["key"]
    assert "Directory listing" in client.invoke(sid, "/", key=key, method="GET")
    with pytest.raises(ApiError) as err:
        client.invoke(sid, "", key="sk_wrong", method="GET")
    assert (err.value.status, err.value.code) == (401, "unauthorized")
    with pytest.raises(ApiError) as err:
        client.invoke(sid, "missing.txt", method="GET")  # the model's own error, no envelope
    assert (err.value.status, err.value.code) == (404, "http_error")
    assert err.value.message.startswith("HTTP 404")

    replicas = client.replicas(sid)
    assert replicas["total"] == 1
    assert replicas["data"][0]["state"] == "ready"
    logs = client.logs(sid, tail=50)
    assert "Serving HTTP" in logs["replicas"][replicas["data"][0]["id"]]
    assert client.logs(sid, replica=replicas["data"][0]["id"])["replicas"].keys() == {
        replicas["data"][0]["id"]
    }
    reasons = {e["reason"] for e in client.events(sid)["data"]}
    assert "Created" in reasons

    updated = client.update_service(sid, description="web server", revision=ready["revision"])
    assert updated["description"] == "web server"
    with pytest.raises(ApiError) as err:
        client.update_service(sid, description="stale", revision=ready["revision"])
    assert (err.value.status, err.value.code) == (409, "conflict")

    assert client.scale(sid, 2)["replicas"] == 2
    assert client.wait_ready(sid, timeout=DEADLINE)["ready_replicas"] == 2

    old_key = key
    new_key = client.rotate_key(sid)["key"]
    assert new_key != old_key

    def old_key_refused() -> bool:  # the gateway's routing snapshot refreshes after a pass
        try:
            client.invoke(sid, "", key=old_key, method="GET")
        except ApiError as exc:
            return exc.status == 401
        return False

    server.eventually(old_key_refused, "the old key to stop working")
    assert "Directory listing" in client.invoke(sid, "", key=new_key, method="GET")

    assert client.stop(sid)["desired_state"] == "stopped"
    server.eventually(lambda: client.get_service(sid)["status"] == "stopped", "stopped")
    assert client.replicas(sid)["data"] == []
    with pytest.raises(ApiError) as err:
        client.wait_ready(sid, timeout=DEADLINE)
    assert err.value.code == "service_failed"

    assert client.start(sid)["desired_state"] == "running"
    assert client.wait_ready(sid, timeout=DEADLINE)["ready_replicas"] == 2

    assert client.delete_service(sid)["status"] == "deleting"
    server.eventually(gone(client, sid), "the service to go away")


def test_deploy_sends_one_deployment(server: Running, client: Client) -> None:
    svc = client.deploy(None, "web", replicas=1, command=HTTP_SERVER, env={"A": "1"}, auth=False)
    try:
        assert svc["auth_type"] == "none"
        (dep,) = svc["deployments"]
        assert dep["command"] == HTTP_SERVER
        assert dep["env"] == {"A": "1"}
        assert client.list_services(name="web")["total"] == 1
        assert client.list_services(status="stopped")["total"] == 0
        client.wait_ready(svc["id"], timeout=DEADLINE)
        with Client(server.url) as anonymous:  # no API key: the service's auth is off
            assert "Directory listing" in anonymous.invoke(svc["id"], "", method="GET")
    finally:
        client.delete_service(svc["id"])
    server.eventually(gone(client, svc["id"]), "the service to go away")


def test_update_deployment_changes_its_spec(client: Client) -> None:
    svc = client.create_service(
        "rolled", deployments=[{"runtime": "command", "command": HTTP_SERVER, "replicas": 0}]
    )
    try:
        dep = svc["deployments"][0]["id"]
        changed = client.update_deployment(svc["id"], dep, {"env": {"B": "2"}}, revision=1)
        assert changed["deployments"][0]["env"] == {"B": "2"}
        assert changed["deployments"][0]["rollout_started_at"] is not None
        with pytest.raises(ApiError) as err:
            client.update_deployment(svc["id"], dep, {"cpu": -1})
        assert err.value.details["field"] == "deployment.cpu"
    finally:
        client.delete_service(svc["id"])


def test_invalid_service_names_the_field(client: Client) -> None:
    with pytest.raises(ApiError) as err:
        client.create_service("web", deployments=[{"runtime": "command", "replicas": 1}])
    assert err.value.details["field"] == "deployments[0].command"
    with pytest.raises(ApiError) as err:
        client.create_service("web", deployments=[{"runtime": "command", "colour": "red"}])
    assert err.value.code == "invalid"
    assert "colour" in err.value.message


def test_wait_ready_fails_fast_when_the_service_fails(server: Running, client: Client) -> None:
    svc = client.create_service(
        "crash", deployments=[{"runtime": "command", "command": CRASHER, "replicas": 1}]
    )
    try:
        with pytest.raises(ApiError) as err:
            client.wait_ready(svc["id"], timeout=DEADLINE)
        assert err.value.code == "service_failed"
        assert err.value.details["status"] == "failed"
        assert svc["id"] in err.value.message
    finally:
        client.delete_service(svc["id"])
    server.eventually(gone(client, svc["id"]), "the service to go away")


def test_unreachable_server_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, "mp_x") as c, pytest.raises(ApiError) as err:
        c.health()
    assert (err.value.status, err.value.code) == (0, "unreachable")
    assert url in err.value.message
    assert isinstance(err.value.__cause__, httpx.ConnectError)


# -- wire details, with a mock transport ----------------------------------------------------
class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def service_answer(status: str, ready: int = 0, reason: str = "") -> dict[str, Any]:
    return {
        "id": "svc-1",
        "name": "web",
        "status": status,
        "status_reason": reason,
        "desired_state": "running",
        "replicas": 1,
        "ready_replicas": ready,
    }


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], fake: FakeTime | None = None
) -> Client:
    fake = fake or FakeTime()
    return Client(
        "http://modelport.test",
        "mp_key",
        transport=httpx.MockTransport(handler),
        clock=fake.clock,
        sleep=fake.sleep,
    )


def test_wait_ready_times_out_with_the_last_status() -> None:
    fake = FakeTime()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=service_answer("pending", reason="cpu: 2 > 1 free"))

    with mock_client(handler, fake) as c, pytest.raises(WaitTimeout) as err:
        c.wait_ready("svc-1", timeout=10, interval=1)
    assert isinstance(err.value, TimeoutError)
    assert isinstance(err.value, ApiError)
    assert err.value.details == {
        "service_id": "svc-1",
        "status": "pending",
        "reason": "cpu: 2 > 1 free",
    }
    assert "pending: cpu: 2 > 1 free" in err.value.message
    assert fake.now == 10


def test_wait_ready_keeps_waiting_through_deploying_and_degraded() -> None:
    answers = iter(
        [
            service_answer("deploying"),
            service_answer("degraded"),
            service_answer("running", ready=1),
        ]
    )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/services/svc-1"
        assert request.headers["authorization"] == "Bearer mp_key"
        return httpx.Response(200, json=next(answers))

    with mock_client(handler) as c:
        svc = c.wait_ready("svc-1", timeout=60, on_progress=lambda s: seen.append(s["status"]))
    assert svc["status"] == "running"
    assert seen == ["deploying", "degraded", "running"]


def test_non_envelope_answer_falls_back_to_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="Bad gateway from a proxy")

    with mock_client(handler) as c, pytest.raises(ApiError) as err:
        c.get_service("svc-1")
    assert (err.value.status, err.value.code) == (502, "http_error")
    assert "Bad gateway from a proxy" in err.value.message
    assert err.value.envelope()["error"]["code"] == "http_error"


def test_model_server_errors_keep_their_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/services/svc-1":
            return httpx.Response(200, json={"url": "http://gw/services/svc-1"})
        assert request.url == "http://gw/services/svc-1/v1/models/iris:predict"
        return httpx.Response(400, json={"error": "expected 4 features, got 3"})

    with mock_client(handler) as c, pytest.raises(ApiError) as err:
        c.invoke("svc-1", "v1/models/iris:predict", {"instances": [[1, 2, 3]]}, key="sk")
    assert (err.value.status, err.value.code) == (400, "http_error")
    assert err.value.message == "HTTP 400 Bad Request: expected 4 features, got 3"


def test_request_bodies() -> None:
    sent: list[tuple[str, str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        sent.append((request.method, request.url.path, body))
        return httpx.Response(200, json={})

    with mock_client(handler) as c:
        c.deploy("model-1", "web", replicas=2, memory=512)
        c.scale("svc-1", 3)
        c.update_service("svc-1", tags={"team": "a"})
        c.list_services(status=["running", "degraded"], name="web")
    assert sent[0] == (
        "POST",
        "/api/v1/services",
        {
            "name": "web",
            "description": "",
            "tags": {},
            "auth": True,
            "lb_policy": "ROUND_ROBIN",
            "deployments": [{"model_id": "model-1", "replicas": 2, "memory": 512}],
        },
    )
    assert sent[1] == ("POST", "/api/v1/services/svc-1/scale", {"replicas": 3})
    assert sent[2] == ("PATCH", "/api/v1/services/svc-1", {"tags": {"team": "a"}})
    assert sent[3][:2] == ("GET", "/api/v1/services")


def test_list_filters_become_query_parameters() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"data": [], "total": 0})

    with mock_client(handler) as c:
        c.list_services(status=["running", "degraded"], name="web", sort="-created_at")
    params = seen[0].params
    assert params["status"] == "running,degraded"
    assert params["name"] == "web"
    assert params["sort"] == "-created_at"
    assert (params["limit"], params["offset"]) == ("100", "0")
