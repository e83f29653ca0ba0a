"""Fixtures for the dialect conformance tests: a real server, real credentials, real services.

`live` runs `modelport.server.build(...)` under uvicorn in a background thread on a free
loopback port, on the test's fresh database (SQLite, and PostgreSQL too when CI sets
`MODELPORT_TEST_DATABASE_URL`), and gives:

- `url`: the base URL every vendor SDK is pointed at (`http://127.0.0.1:PORT`);
- `client`: the native `modelport.Client` as the project admin;
- `project_id`, `access_key_id`, `access_key_secret`: an admin access key of the default project
  (UCloud PublicKey/PrivateKey, Tencent SecretId/SecretKey, Huawei AK/SK);
- `user`, `password`: a user of the default project (ZStack login, IAM token API);
- `service(name, replicas=0, tags=None, ...)`: creates a service of the `command` runtime
  (`python -m http.server`), returns its native JSON.

Teardown stops the server, which stops every replica it started.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from tests.ports import free_port

from modelport import Client
from modelport.config import Settings
from modelport.server import build

DEADLINE = 60.0
HTTP_SERVER = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]


@dataclass
class Live:
    url: str
    gateway: str  # base URL of the gateway (service URLs)
    client: Client
    project_id: str
    access_key_id: str
    access_key_secret: str
    user: str
    password: str
    thread: threading.Thread
    made: list[str] = field(default_factory=list)

    def service(
        self,
        name: str,
        replicas: int = 0,
        tags: dict[str, str] | None = None,
        description: str = "",
        **deployment: Any,
    ) -> dict[str, Any]:
        dep = {"runtime": "command", "command": HTTP_SERVER, "replicas": replicas, **deployment}
        svc = self.client.create_service(name, [dep], description=description, tags=tags or {})
        self.made.append(svc["id"])
        return dict(svc)

    def eventually(self, check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
        """Poll `check` until it returns something truthy (the pause is a join on the server
        thread, which returns at once if it died)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = check()
            if got:
                return got
            assert self.thread.is_alive(), "the server died"
            self.thread.join(timeout=0.05)
        raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[Live]:
    home = tmp_path / "home"
    port = free_port()
    settings = Settings(
        home=home,
        port=port,
        gateway_port=free_port(),
        database_url=database_url,
        resync_interval=0.3,
        probe_interval=0.1,
    )
    server = uvicorn.Server(
        uvicorn.Config(build(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="modelport-live")
    thread.start()
    clients: list[Client] = []
    try:
        import time

        deadline = time.monotonic() + DEADLINE
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            thread.join(timeout=0.02)
        creds = json.loads((home / "credentials").read_text())
        client = Client(f"http://127.0.0.1:{port}", creds["api_key"])
        clients.append(client)
        key = client.create_access_key()
        client.create_user("alice", "alice-password")
        yield Live(
            url=f"http://127.0.0.1:{port}",
            gateway=settings.gateway_url,
            client=client,
            project_id=key["project_id"],
            access_key_id=key["access_key_id"],
            access_key_secret=key["access_key_secret"],
            user="alice",
            password="alice-password",
            thread=thread,
        )
    finally:
        for c in clients:
            c.close()
        server.should_exit = True
        thread.join(timeout=DEADLINE)
        assert not thread.is_alive(), "the server did not stop"
