"""Tests of the `modelport` CLI through `typer.testing.CliRunner`, against a real server.

The `server` fixture runs `modelport.server.build(...)` under uvicorn in a background thread on
a free port; commands get `--url`/`--api-key` (or `MODELPORT_HOME`). Replicas are real
processes: `python -m http.server`, a small echo server written by the test, and the sklearn
runtime serving an iris model trained in the test. `test_serve_*` runs `python -m modelport
serve` as a real process. Teardown checks that every process a test started is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
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
from typer.testing import CliRunner, Result

from modelport.cli.main import app
from modelport.client import ApiError, Client
from modelport.config import Settings
from modelport.server import build

HTTP_SERVER = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]
DEADLINE = 30.0
SERVE = [sys.executable, "-m", "modelport", "serve", "--host", "127.0.0.1", "--port"]
ECHO_SERVER = """
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit


class Echo(BaseHTTPRequestHandler):
    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                data += self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._answer({"ok": True})

    def do_POST(self):
        path = urlsplit(self.path).path  # the gateway forwards `/predict?` for `/predict`
        self._answer({"path": path, "echo": json.loads(self._body() or b"null")})


HTTPServer((sys.argv[1], int(sys.argv[2])), Echo).serve_forever()
"""


def live_children(pid: int | None = None) -> set[int]:
    pids = set()
    for child in psutil.Process(pid).children(recursive=True):
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
    thread: threading.Thread
    runner: CliRunner

    def client(self) -> Client:
        return Client(self.url, self.api_key)

    def pause(self) -> None:
        """The pause between polls; ends early if the server dies."""
        self.thread.join(timeout=0.05)

    def eventually(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not check():
            if not self.thread.is_alive():
                pytest.fail(f"the server died while waiting for {what}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            self.pause()

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """`modelport --url … --api-key … ARGS`; unexpected exceptions propagate."""
        return invoke(self.runner, ["--url", self.url, "--api-key", self.api_key, *args], env)

    def json(self, *args: str) -> Any:
        """`modelport -o json ARGS`, which must succeed and print only JSON on stdout."""
        result = self.run("-o", "json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def invoke(runner: CliRunner, args: list[str], env: dict[str, str] | None = None) -> Result:
    result = runner.invoke(app, args, env={"COLUMNS": "250", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    for var in ("MODELPORT_URL", "MODELPORT_API_KEY", "MODELPORT_HOME", "MODELPORT_SERVICE_KEY"):
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
    running = Running(creds["url"], creds["api_key"], home, thread, CliRunner())
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
def iris_path(tmp_path: Path) -> Path:
    X, y = load_iris(return_X_y=True)
    path = tmp_path / "iris.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(X, y), path)
    return path


@pytest.fixture
def web(server: Running) -> Iterator[str]:
    """A running `http.server` service, made with the client; deleted at the end."""
    with server.client() as client:
        svc = client.create_service(
            "web", deployments=[{"runtime": "command", "command": HTTP_SERVER, "replicas": 1}]
        )
        client.wait_ready(svc["id"], timeout=DEADLINE)
        yield svc["id"]
        delete_and_wait(server, client, svc["id"])


def delete_and_wait(server: Running, client: Client, service_id: str) -> None:
    def gone() -> bool:
        try:
            client.get_service(service_id)
        except ApiError as exc:
            return exc.status == 404
        return False

    try:
        client.delete_service(service_id)
    except ApiError as exc:
        if exc.status != 404:
            raise
    server.eventually(gone, f"{service_id} to go away")


def service_ids(server: Running) -> list[str]:
    return [s["id"] for s in server.json("services", "list")["data"]]


# -- models ---------------------------------------------------------------------------------
def test_models_register_list_get_delete(server: Running, iris_path: Path) -> None:
    result = server.run("models", "register", str(iris_path), "--name", "iris")
    assert result.exit_code == 0, result.output
    assert "sklearn" in result.stdout
    assert str(iris_path.resolve()) in result.stdout

    model = server.json(
        "models", "register", str(iris_path), "--name", "iris", "--version", "2",
        "--description", "second",
    )  # fmt: skip
    assert model["version"] == "2"
    assert model["description"] == "second"

    table = server.run("models", "list")
    assert table.exit_code == 0, table.output
    assert table.stdout.count("iris") >= 2
    assert "framework" in table.stdout

    page = server.json("models", "list")
    assert page["total"] == 2
    assert model in page["data"]
    assert server.json("models", "list", "--name", "iris", "--limit", "1")["total"] == 2
    assert server.json("models", "get", model["id"]) == model
    get = server.run("models", "get", model["id"])
    assert model["id"] in get.stdout

    assert server.json("models", "delete", model["id"]) == {"id": model["id"], "deleted": True}
    assert server.json("models", "list")["total"] == 1


def test_register_a_missing_file_names_the_field(server: Running, tmp_path: Path) -> None:
    result = server.run("models", "register", str(tmp_path / "nope.joblib"), "--name", "m")
    assert result.exit_code == 1
    assert "error: uri:" in result.stderr
    assert result.stdout == ""

    result = server.run("-o", "json", "models", "register", str(tmp_path / "x"), "--name", "m")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["details"] == {"field": "uri"}


# -- services -------------------------------------------------------------------------------
def test_services_list_get_scale_stop_start_delete(server: Running, web: str) -> None:
    page = server.json("services", "list")
    assert [s["id"] for s in page["data"]] == [web]
    assert page["data"][0]["status"] == "running"
    assert server.json("services", "list", "--status", "stopped")["data"] == []
    assert server.json("services", "list", "--name", "web", "--limit", "1")["total"] == 1

    table = server.run("services", "list")
    assert table.exit_code == 0, table.output
    assert web in table.stdout
    assert "1/1" in table.stdout
    assert f"/services/{web}" in table.stdout

    svc = server.json("services", "get", web)
    assert svc["id"] == web
    assert svc["deployments"][0]["command"] == HTTP_SERVER
    details = server.run("services", "get", web)
    assert svc["deployments"][0]["id"] in details.stdout
    assert "running" in details.stdout

    scaled = server.json("services", "scale", web, "2")
    assert scaled["replicas"] == 2
    with server.client() as client:
        client.wait_ready(web, timeout=DEADLINE)
    replicas = server.json("services", "replicas", web)
    assert replicas["total"] == 2
    assert {r["state"] for r in replicas["data"]} == {"ready"}
    assert replicas["data"][0]["id"] in server.run("services", "replicas", web).stdout

    stopped = server.json("services", "stop", web)
    assert stopped["desired_state"] == "stopped"
    server.eventually(lambda: server.json("services", "get", web)["status"] == "stopped", "stopped")
    assert server.json("services", "list", "--status", "stopped")["total"] == 1
    started = server.json("services", "start", web)
    assert started["desired_state"] == "running"
    with server.client() as client:
        client.wait_ready(web, timeout=DEADLINE)

    events = server.json("services", "events", web)
    assert "StatusChanged" in {e["reason"] for e in events["data"]}
    assert "StatusChanged" in server.run("services", "events", web).stdout

    deleted = server.json("services", "delete", web)
    assert deleted["status"] == "deleting"
    server.eventually(lambda: service_ids(server) == [], "the service to go away")
    missing = server.run("services", "get", web)
    assert missing.exit_code == 1
    assert "not found" in missing.stderr


def test_service_key_and_rotation(server: Running, web: str) -> None:
    shown = server.run("services", "key", web)
    assert shown.exit_code == 0, shown.output
    with server.client() as client:
        key = client.service_key(web)["key"]
    assert shown.stdout.strip() == key
    rotated = server.json("services", "key", web, "--rotate")
    assert rotated["service_id"] == web
    assert rotated["key"] != key
    assert server.json("services", "key", web)["key"] == rotated["key"]


def test_logs(server: Running, web: str) -> None:
    out = server.json("logs", web, "--tail", "20")
    assert out["service_id"] == web
    (replica,) = out["replicas"]
    assert "Serving HTTP" in out["replicas"][replica]

    text = server.run("logs", web, "--replica", replica)
    assert text.exit_code == 0, text.output
    assert f"==> {replica} <==" in text.stdout
    assert "Serving HTTP" in text.stdout

    bad = server.run("logs", web, "--tail", "0")
    assert bad.exit_code == 1
    assert "tail" in bad.stderr


def test_invoke_reports_the_upstream_status(server: Running, web: str) -> None:
    ok = server.run("invoke", web, "--method", "GET")
    assert ok.exit_code == 0, ok.output
    assert "Directory listing" in ok.stdout

    missing = server.run("invoke", web, "--method", "GET", "--path", "nope.txt")
    assert missing.exit_code == 1
    assert "error: HTTP 404" in missing.stderr

    wrong_key = server.run("invoke", web, "--method", "GET", "--key", "sk_wrong")
    assert wrong_key.exit_code == 1
    assert "wrong service key" in wrong_key.stderr


def test_deploy_a_command_wait_and_invoke(server: Running, tmp_path: Path) -> None:
    script = tmp_path / "echo_server.py"
    script.write_text(ECHO_SERVER)
    result = server.run(
        "deploy", "--name", "echo", "--command", f"{{python}} {script} {{host}} {{port}}",
        "--env", "GREETING=hi", "--timeout", str(DEADLINE),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (sid,) = service_ids(server)
    try:
        assert f"/services/{sid}" in result.stdout
        assert f"modelport invoke {sid}" in result.stdout
        assert "running" in result.stderr  # the progress lines

        answer = server.run("invoke", sid, "--path", "predict", "--json", '{"x": [1, 2]}')
        assert answer.exit_code == 0, answer.output
        assert json.loads(answer.stdout) == {"path": "/predict", "echo": {"x": [1, 2]}}

        body = tmp_path / "body.json"
        body.write_text('{"from": "file"}')
        raw = server.run("-o", "json", "invoke", sid, "--json", f"@{body}")
        assert raw.exit_code == 0, raw.output
        assert json.loads(raw.stdout) == {"path": "/", "echo": {"from": "file"}}

        bad = server.run("invoke", sid, "--json", "{not json")
        assert bad.exit_code == 1
        assert "--json: not valid JSON" in bad.stderr
        assert server.json("services", "get", sid)["deployments"][0]["env"] == {"GREETING": "hi"}
    finally:
        with server.client() as client:
            delete_and_wait(server, client, sid)


def test_deploy_json_output_is_the_service(server: Running) -> None:
    result = server.run(
        "-o", "json", "deploy", "--name", "web", "--no-auth", "--command",
        "{python} -m http.server --bind {host} {port}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    svc = json.loads(result.stdout)
    try:
        assert svc["status"] == "running"
        assert svc["auth_type"] == "none"
        assert svc["ready_replicas"] == 1
    finally:
        with server.client() as client:
            delete_and_wait(server, client, svc["id"])


def test_deploy_and_invoke_an_iris_model(server: Running, iris_path: Path) -> None:
    model = server.json("models", "register", str(iris_path), "--name", "iris")
    result = server.run("deploy", model["id"], "--name", "iris", "--timeout", str(DEADLINE))
    assert result.exit_code == 0, result.output
    assert "v1/models/iris:predict" in result.stdout
    (sid,) = service_ids(server)
    try:
        answer = server.json(
            "invoke", sid, "--path", "v1/models/iris:predict",
            "--json", '{"instances": [[5.1, 3.5, 1.4, 0.2]]}',
        )  # fmt: skip
        assert answer == {"predictions": [0]}
        wrong = server.run("invoke", sid, "--path", "v1/models/nope:predict", "--json", "{}")
        assert wrong.exit_code == 1
        assert "error: HTTP 404 Not Found: model 'nope' not found" in wrong.stderr
    finally:
        with server.client() as client:
            delete_and_wait(server, client, sid)


def test_deploy_that_fails_exits_1_with_the_reason(server: Running) -> None:
    result = server.run(
        "deploy", "--name", "crash", "--command", "{python} -c 'raise SystemExit(3)'",
        "--timeout", str(DEADLINE),
    )  # fmt: skip
    assert result.exit_code == 1
    (sid,) = service_ids(server)
    try:
        assert f"error: service {sid} failed" in result.stderr
        assert f"modelport logs {sid}" in result.stderr
    finally:
        with server.client() as client:
            delete_and_wait(server, client, sid)


def test_deploy_that_times_out_exits_1(server: Running) -> None:
    result = server.run(
        "-o", "json", "deploy", "--name", "slow", "--timeout", "0.5", "--command",
        "{python} -c 'import time; time.sleep(60)'",
    )  # fmt: skip
    assert result.exit_code == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "timeout"
    assert error["details"]["status"] == "deploying"
    assert result.stdout == ""
    with server.client() as client:
        delete_and_wait(server, client, error["details"]["service_id"])


def test_deploy_no_wait(server: Running) -> None:
    svc = server.json("deploy", "--name", "web", "--no-wait", "--command", " ".join(HTTP_SERVER))
    assert svc["status"] in ("deploying", "pending")
    with server.client() as client:
        delete_and_wait(server, client, svc["id"])


def test_bad_input_exits_1_and_names_the_field(server: Running) -> None:
    replicas = server.run("deploy", "--name", "web", "--runtime", "command", "--replicas", "-1")
    assert replicas.exit_code == 1
    assert "deployments[0]." in replicas.stderr

    env = server.run("deploy", "--name", "web", "--command", "x", "--env", "NOEQUALS")
    assert env.exit_code == 1
    assert "--env: expected KEY=VALUE" in env.stderr

    scale = server.run("-o", "json", "services", "scale", "svc-nope", "2")
    assert scale.exit_code == 1
    assert json.loads(scale.stderr)["error"]["code"] == "not_found"

    assert service_ids(server) == []


# -- connection and configuration -----------------------------------------------------------
def test_server_not_running_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke(CliRunner(), ["--url", url, "--api-key", "mp_x", "services", "list"])
    assert result.exit_code == 1
    assert f"cannot connect to the Modelport server at {url}" in result.stderr
    assert "modelport serve" in result.stderr

    as_json = invoke(CliRunner(), ["--url", url, "-o", "json", "models", "list"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stderr)["error"]["code"] == "unreachable"


def test_url_and_key_from_the_credentials_file(server: Running) -> None:
    result = invoke(
        server.runner, ["-o", "json", "models", "list"], env={"MODELPORT_HOME": str(server.home)}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] == 0

    env = {"MODELPORT_URL": server.url, "MODELPORT_API_KEY": "mp_wrong"}
    wrong = invoke(server.runner, ["models", "list"], env=env)
    assert wrong.exit_code == 1
    assert "error:" in wrong.stderr


def test_version_and_help() -> None:
    runner = CliRunner()
    assert invoke(runner, ["--version"]).stdout.strip() == "0.1.0"
    help_text = invoke(runner, ["--help"]).stdout
    for command in ("serve", "deploy", "invoke", "logs", "models", "services"):
        assert command in help_text
    services_help = invoke(runner, ["services", "--help"]).stdout
    for command in ("list", "get", "scale", "stop", "start", "delete", "key", "replicas"):
        assert command in services_help


# -- modelport serve, as a real process -----------------------------------------------------
@pytest.mark.e2e
@pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)],
    ids=["sigterm", "sigint"],
)
def test_serve_stops_its_replicas_on_a_signal(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    """uvicorn shuts down gracefully, then re-raises SIGTERM (killed by it); Ctrl-C exits 130."""
    port = free_port()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env |= {"MODELPORT_HOME": str(home), "MODELPORT_PROBE_INTERVAL": "0.1"}
    stderr_path = tmp_path / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [*SERVE, str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + DEADLINE

        def listening() -> bool:  # the credentials are written before the socket is bound
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"http://127.0.0.1:{port}/api/v1/healthz").status_code == 200
            return False

        while not ((home / "credentials").exists() and listening()):
            assert proc.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, stderr_path.read_text()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)  # the pause between polls; ends if it dies
        with Client.from_settings(Settings(home=home)) as client:
            svc = client.create_service(
                "web", deployments=[{"runtime": "command", "command": HTTP_SERVER}]
            )
            client.wait_ready(svc["id"], timeout=DEADLINE)
        replicas = live_children(proc.pid)
        assert replicas
        proc.send_signal(sig)
        assert proc.wait(timeout=DEADLINE) == status, stderr_path.read_text()
        assert [p for p in replicas if is_alive(p)] == []
        out = stderr_path.read_text()
        assert f"Modelport listening on http://127.0.0.1:{port}" in out
        assert str(home / "credentials") in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=DEADLINE)
        for pid in replicas if "replicas" in locals() else ():
            if is_alive(pid):  # only if the test failed: do not leave them behind
                os.kill(pid, signal.SIGKILL)


def is_alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["keys", "create", "--output", "json"], ["--output", "json", "keys", "create"]),
        (
            ["services", "list", "-o", "json", "--limit", "5"],
            ["-o", "json", "services", "list", "--limit", "5"],
        ),
        (["--output=json", "models", "list"], ["--output=json", "models", "list"]),
        (
            ["invoke", "svc-1", "--url", "http://x", "--json", "{}"],
            ["--url", "http://x", "invoke", "svc-1", "--json", "{}"],
        ),
        (["invoke", "svc-1", "--", "-o", "x"], ["invoke", "svc-1", "--", "-o", "x"]),
    ],
)
def test_global_options_may_follow_the_command(argv: list[str], expected: list[str]) -> None:
    from modelport.cli.main import hoist_global_options

    assert hoist_global_options(argv) == expected
