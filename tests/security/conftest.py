"""Fixtures of the security tests: one live server per module, tenants with their credentials.

- `module_database`: a database of the module's own (the live servers here are shared by a
  module's tests): an SQLite file, and when `MODELPORT_TEST_DATABASE_URL` names a
  PostgreSQL server, the whole module runs again on a database cloned from the session's
  template (`_postgres_template` in tests/conftest.py), dropped afterwards.
- `thread_server(settings)`: `modelport.server.build(settings)` under uvicorn in a thread on
  free loopback ports, stopped (with its replicas) when the block ends.
- `Tenant` / `tenant(server, name)`: a project made by the installation's admin, with its own
  admin API key, an admin access key and a user with a password: everything each door takes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import make_url
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tests.databases import DATABASES, run_statement
from tests.e2e.conftest import wait_for
from tests.ports import free_port

from modelport.config import Settings
from modelport.server import build

DEADLINE = 60.0
HTTP_SERVER = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]


@pytest.fixture(scope="module", params=DATABASES)
def module_database(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _postgres_template: tuple[str, str] | None,
) -> Iterator[str]:
    if request.param == "sqlite" or _postgres_template is None:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'modelport.db'}"
        return
    admin_dsn, template = _postgres_template
    name = f"mp_{secrets.token_hex(8)}"
    asyncio.run(run_statement(admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(admin_dsn).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run_statement(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def eventually(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll `check` until it answers something truthy; fail with `what` at the deadline."""
    return wait_for(check, timeout, what)


@dataclass
class Server:
    url: str  # the API and the dialects
    gateway: str
    home: Path

    @property
    def admin_key(self) -> str:
        return str(json.loads((self.home / "credentials").read_text())["api_key"])


def settings_for(home: Path, database_url: str, **more: Any) -> Settings:
    return Settings(
        home=home,
        port=free_port(),
        gateway_port=free_port(),
        database_url=database_url,
        resync_interval=0.3,
        probe_interval=0.1,
        drain_delay=0.1,
        gateway_batch_scheduling=False,
        **more,
    )


@contextmanager
def thread_server(settings: Settings) -> Iterator[Server]:
    server = uvicorn.Server(
        uvicorn.Config(build(settings), host="127.0.0.1", port=settings.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="modelport-security")
    thread.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            thread.join(timeout=0.02)
        yield Server(f"http://127.0.0.1:{settings.port}", settings.gateway_url, settings.home)
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE)
        assert not thread.is_alive(), "the server did not stop"


@dataclass
class Tenant:
    """A project and the credentials of each door."""

    name: str
    project_id: str
    api_key: str  # the project's admin API key (native API)
    access_key_id: str  # UCloud PublicKey, Tencent SecretId, Huawei AK, ZStack AccessKeyId
    access_key_secret: str
    user: str  # ZStack account, IAM user
    password: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def secrets(self) -> list[str]:
        return [self.api_key, self.access_key_secret, self.password]


def tenant(http: httpx.Client, server: Server, name: str) -> Tenant:
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    made = http.post(f"{server.url}/api/v1/projects", json={"name": name}, headers=admin)
    assert made.status_code == 201, made.text
    key = made.json()["api_key"]
    mine = {"Authorization": f"Bearer {key}"}
    access = http.post(f"{server.url}/api/v1/access-keys", json={}, headers=mine)
    assert access.status_code == 201, access.text
    password = f"{name}-{secrets.token_urlsafe(12)}"
    user = http.post(
        f"{server.url}/api/v1/users",
        json={"name": f"{name}-user", "password": password},
        headers=mine,
    )
    assert user.status_code == 201, user.text
    return Tenant(
        name=name,
        project_id=made.json()["project"]["id"],
        api_key=key,
        access_key_id=access.json()["access_key_id"],
        access_key_secret=access.json()["access_key_secret"],
        user=f"{name}-user",
        password=password,
    )


@contextmanager
def tione_client(url: str, secret_id: str, secret: str) -> Iterator[CommonClient]:
    """Tencent's `CommonClient` for TI-ONE at `url`; its HTTP session closed afterwards (the
    SDK has no close(), and a leaked socket is a ResourceWarning, an error here)."""
    hp = HttpProfile(protocol="http", endpoint=url.removeprefix("http://"))
    cred = credential.Credential(secret_id, secret)
    client = CommonClient(
        "tione", "2021-11-11", cred, "ap-guangzhou", ClientProfile(httpProfile=hp)
    )
    try:
        yield client
    finally:
        client.request.conn._session.close()
