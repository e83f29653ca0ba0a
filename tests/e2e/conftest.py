"""End-to-end fixtures: a real `modelport serve` process, real replica processes.

`Serve` starts the server as a subprocess on a free port with its own MODELPORT_HOME and
stops it in teardown; the teardown also checks that no replica process of that home is left
(and kills any it finds, failing the test).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from tests.ports import free_port

DEADLINE = 60.0


def wait_for(check: Callable[[], Any], timeout: float = DEADLINE, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)  # a poll interval, not a wait for a condition
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def replica_processes(home: Path) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        try:
            env = p.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        ours = env.get("MODELPORT_BACKEND_HOME") == str(home.resolve())
        if ours and p.pid == os.getpgid(p.pid) and p.status() != psutil.STATUS_ZOMBIE:
            out.append(p)
    return out


class Serve:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gateway = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "MODELPORT_HOME": str(home),
            "MODELPORT_PORT": str(self.port),
            "MODELPORT_GATEWAY_PORT": self.gateway.rsplit(":", 1)[1],
            "MODELPORT_DRAIN_DELAY": "0.2",
            "MODELPORT_RESYNC_INTERVAL": "0.5",
            "MODELPORT_PROBE_INTERVAL": "0.1",
            "MODELPORT_BACKOFF_BASE": "0.2",
            "MODELPORT_BACKOFF_MAX": "2",
            "HF_HUB_OFFLINE": "1",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(timeout=30)

    def start(self) -> None:
        log = (self.home / "serve.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modelport", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {(self.home / 'serve.log').read_text()}")
            try:
                return self.http.get(f"{self.url}/api/v1/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, what="modelport serve to answer")

    @property
    def api_key(self) -> str:
        return str(json.loads((self.home / "credentials").read_text())["api_key"])

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return self.http.request(method, f"{self.url}/api/v1{path}", headers=headers, **kwargs)

    def service(self, service_id: str) -> dict[str, Any]:
        r = self.api("GET", f"/services/{service_id}")
        r.raise_for_status()
        return dict(r.json())

    def wait_status(self, service_id: str, status: str, ready: int | None = None) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            s = self.service(service_id)
            ok = s["status"] == status and (ready is None or s["ready_replicas"] == ready)
            return s if ok else None

        return dict(wait_for(check, what=f"{service_id} {status} ({ready} ready)"))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def serve_factory(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    made: list[Serve] = []

    def make(home: Path | None = None, **env: str) -> Serve:
        s = Serve(home or tmp_path / "home", env)
        s.home.mkdir(parents=True, exist_ok=True)
        made.append(s)
        return s

    yield make
    leaks = []
    for s in made:
        s.stop()
        s.http.close()
        for p in replica_processes(s.home):
            leaks.append(p.pid)
            os.killpg(p.pid, signal.SIGKILL)
    assert not leaks, f"replica processes left behind: {leaks}"
