"""Fixtures of the fuzz and limit tests: a real server on the test's fresh database.

`serve` runs `modelport.server.build(...)` under uvicorn in a background thread on a free
loopback port (as tests/dialects/conftest.py does), with the HTTP options `modelport serve`
uses (`server.http_options`). `running(settings)` adds an admin access key (UCloud, Tencent,
Huawei AK/SK) and a user (ZStack, IAM) of the default project, and stops the server
afterwards. The `server` fixture runs one with no capacity for replicas, so that nothing a
fuzzer deploys ever starts a process, and with `HOME` pointed at the test's folder, so that
a `~` in a generated path never reaches the real home directory.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.ports import free_port

from modelport.config import Settings
from modelport.server import build, http_options

DEADLINE = 60.0
PASSWORD = "fuzz-password"


@dataclass
class Server:
    url: str
    settings: Settings
    api_key: str
    project_id: str
    access_key_id: str
    access_key_secret: str
    user: str
    password: str

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One native API call as the admin; the JSON answer of a 2xx."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        r = httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, **kwargs)
        assert r.is_success, r.text
        return r.json()


def serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread]:
    """`build(settings)` under uvicorn in a thread, started; stop it with `stop`."""
    config = uvicorn.Config(
        build(settings),
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        **http_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="modelport-fuzz")
    thread.start()
    deadline = time.monotonic() + DEADLINE
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            stop(server, thread)
            raise AssertionError("the server did not start")
        thread.join(timeout=0.02)
    return server, thread


def stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=DEADLINE)
    assert not thread.is_alive(), "the server did not stop"


def settings_for(home: Path, database_url: str, **changes: Any) -> Settings:
    return Settings(
        home=home,
        port=free_port(),
        gateway_port=free_port(),
        database_url=database_url,
        capacity_cpu=0,  # replicas stay pending: a fuzzed deployment never starts a process
        resync_interval=0.5,
        **changes,
    )


@contextmanager
def running(settings: Settings) -> Iterator[Server]:
    """A started server with an admin access key and a user; stopped afterwards."""
    uv, thread = serve(settings)
    try:
        url = f"http://127.0.0.1:{settings.port}"
        api_key = json.loads((settings.data_dir / "credentials").read_text())["api_key"]
        made = Server(url, settings, api_key, "", "", "", "alice", PASSWORD)
        key = made.api("POST", "/access-keys", json={})
        made.api("POST", "/users", json={"name": made.user, "password": PASSWORD})
        made.project_id = key["project_id"]
        made.access_key_id = key["access_key_id"]
        made.access_key_secret = key["access_key_secret"]
        yield made
    finally:
        stop(uv, thread)


@pytest.fixture
def server(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    (tmp_path / "user").mkdir()
    with running(settings_for(tmp_path / "home", database_url)) as made:
        yield made
