"""Secrets never appear in logs, events or error messages (docs/security.md, "What is
logged").

The secrets: API keys, access-key secrets, passwords (and the SHA-512 digests ZStack clients
send for them), ZStack sessions, IAM tokens, service keys (before and after a rotation) and
the values of a deployment's env, right ones and wrong ones alike.

A real `modelport serve` runs for the module with `MODELPORT_LOG_LEVEL=debug`, its log in a
file. `flows` drives everything that handles a secret through it, with the vendors' SDKs
where the dialects have one: keys, users and access keys made; logins with right and wrong
passwords; requests signed right and wrong; service calls with right, wrong and rotated keys;
a deployment whose env holds a secret, one replica serving and one failing (so its failure
reaches the events), and a change of that env (a rollout). The tests then read every error
body it got, every event of every project, and the whole server log (at DEBUG, so the
drivers' own logging is in it too) for any of the secrets.

In process, with `caplog` at DEBUG: the same kinds of flows through `server.build`, and a
logout whose store fails, whose log line must not carry the session in its path.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmodelarts.v1 import ModelArtsClient
from starlette.applications import Starlette
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tests.ports import free_port
from tests.security.conftest import DEADLINE, HTTP_SERVER, eventually
from ucloud.client import Client as UCloudClient
from ucloud.core.exc import RetCodeException

from modelport.api.deps import ApiContext
from modelport.api.dialects import zstack as zstack_door
from modelport.config import Settings
from modelport.server import build

FAIL = ["{python}", "-c", "import sys; sys.exit(3)"]


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def fresh(name: str) -> str:
    """A secret no code could print by chance: its name and 128 random bits."""
    return f"{name}-{secrets.token_hex(16)}"


@dataclass
class Serve:
    """`modelport serve` as a process, logging at DEBUG to `log`."""

    home: Path
    database_url: str
    port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def log(self) -> Path:
        return self.home / "serve.log"

    @property
    def admin_key(self) -> str:
        return str(json.loads((self.home / "credentials").read_text())["api_key"])

    def start(self) -> None:
        env = {
            **os.environ,
            "MODELPORT_HOME": str(self.home),
            "MODELPORT_DATABASE_URL": self.database_url,
            "MODELPORT_GATEWAY_PORT": str(self.gateway_port),
            "MODELPORT_LOG_LEVEL": "debug",
            "MODELPORT_RESYNC_INTERVAL": "0.3",
            "MODELPORT_PROBE_INTERVAL": "0.1",
            "MODELPORT_BACKOFF_BASE": "0.2",
            "MODELPORT_BACKOFF_MAX": "1",
            "MODELPORT_DRAIN_DELAY": "0.1",
        }
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "modelport", "serve", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            try:
                return httpx.get(f"{self.url}/api/v1/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        eventually(up, "modelport serve to answer")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        left = []
        for p in psutil.process_iter():
            try:
                ours = p.environ().get("MODELPORT_BACKEND_HOME") == str(self.home.resolve())
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if ours:
                left.append(p.pid)
                p.kill()
        assert not left, f"replica processes left behind: {left}"


@dataclass
class Seen:
    """What the flows produced: the secrets they used and every error answer they got."""

    secrets: dict[str, str] = field(default_factory=dict)  # what it is → the value
    errors: list[str] = field(default_factory=list)  # error bodies and SDK exception texts
    services: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)  # admin API keys, one per project

    def secret(self, name: str, value: str | None = None) -> str:
        self.secrets[name] = value if value is not None else fresh(name)
        return self.secrets[name]

    def error(self, r: httpx.Response, status: int | None = None) -> httpx.Response:
        if status is not None:
            assert r.status_code == status, r.text
        assert r.status_code >= 400, r.text
        self.errors.append(r.text + json.dumps(dict(r.headers)))
        return r


@pytest.fixture(scope="module")
def serve(module_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    server = Serve(tmp_path_factory.mktemp("secrets") / "home", module_database)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _native_flows(serve: Serve, http: httpx.Client, seen: Seen) -> dict[str, Any]:
    """Projects, keys, users, services with env secrets; returns what the dialects need."""
    api = f"{serve.url}/api/v1"
    seen.secret("installation admin key", serve.admin_key)
    admin = bearer(serve.admin_key)
    project = http.post(f"{api}/projects", json={"name": "vault"}, headers=admin).json()
    key = seen.secret("project admin key", project["api_key"])
    seen.projects += [serve.admin_key, key]
    mine = bearer(key)
    access = http.post(f"{api}/access-keys", json={}, headers=mine).json()
    seen.secret("access key secret", access["access_key_secret"])
    member = http.post(f"{api}/access-keys", json={"admin": False}, headers=mine).json()
    seen.secret("member access key secret", member["access_key_secret"])
    password = seen.secret("password")
    seen.secret("password digest", sha512(password))
    made = http.post(f"{api}/users", json={"name": "keeper", "password": password}, headers=mine)
    assert made.status_code == 201
    # refusals that carry a password or key
    taken = seen.secret("password of a taken name")
    body = {"name": "keeper", "password": taken}
    seen.error(http.post(f"{api}/users", json=body, headers=mine), 409)
    short = seen.secret("short", f"Qz{secrets.token_hex(2)}!")  # no id or key holds a "!"
    seen.error(http.post(f"{api}/users", json={"name": "x", "password": short}, headers=mine), 400)
    seen.error(http.get(f"{api}/services", headers=bearer(seen.secret("wrong API key"))), 401)
    # services: one serving, one failing; both with a secret in their env
    env = {"API_TOKEN": seen.secret("env value")}
    serving = {"runtime": "command", "command": HTTP_SERVER, "replicas": 1, "env": env}
    failing = {"runtime": "command", "command": FAIL, "replicas": 1, "env": env}
    services = {}
    for name, dep in (("serving", serving), ("failing", failing)):
        r = http.post(f"{api}/services", json={"name": name, "deployments": [dep]}, headers=mine)
        assert r.status_code == 201, r.text
        services[name] = r.json()
        seen.services.append(r.json()["id"])
    # env refusals name the variable, never the value
    for bad in (
        {"not a name": seen.secret("env value of a bad name")},
        {"X": env["API_TOKEN"] + "\0"},
    ):
        dep = {**serving, "replicas": 0, "env": bad}
        r = http.post(f"{api}/services", json={"name": "bad", "deployments": [dep]}, headers=mine)
        field_ = seen.error(r, 400).json()["error"]["details"]["field"]
        assert field_.startswith("deployments[0].env")
    # a new env rolls the serving deployment over; the failing one's failures reach events
    sid, dep_id = services["serving"]["id"], services["serving"]["deployments"][0]["id"]
    changed = {"env": {"API_TOKEN": seen.secret("changed env value")}}
    r = http.patch(f"{api}/services/{sid}/deployments/{dep_id}", json=changed, headers=mine)
    assert r.status_code == 200, r.text

    def failed_twice() -> bool:
        events = http.get(f"{api}/services/{services['failing']['id']}/events", headers=mine)
        return sum(e["reason"] == "ReplicaFailed" for e in events.json()["data"]) >= 2

    eventually(failed_twice, "the failing replica's failures")
    return {"key": key, "access": access, "services": services, "mine": mine}


def _gateway_flows(serve: Serve, http: httpx.Client, seen: Seen, made: dict[str, Any]) -> None:
    api, mine = f"{serve.url}/api/v1", made["mine"]
    sid, other = (made["services"][name]["id"] for name in ("serving", "failing"))
    key = http.get(f"{api}/services/{sid}/key", headers=mine).json()["key"]
    seen.secret("service key", key)
    theirs = http.get(f"{api}/services/{other}/key", headers=mine).json()["key"]
    seen.secret("other service key", theirs)
    url = f"{serve.gateway}/services/{sid}/"
    eventually(lambda: http.get(url, headers=bearer(key)).status_code == 200, "a ready replica")
    wrong = seen.secret("wrong service key")
    for given in (wrong, theirs, made["key"]):
        seen.error(http.get(url, headers=bearer(given)), 401)
    body = {"model": "serving", "messages": []}
    openai = f"{serve.gateway}/v1/chat/completions"
    seen.error(http.post(openai, json=body, headers=bearer(wrong)), 401)
    rotated = http.post(f"{api}/services/{sid}/key/rotate", headers=mine).json()["key"]
    seen.secret("rotated service key", rotated)
    eventually(lambda: http.get(url, headers=bearer(key)).status_code == 401, "the old key refused")
    seen.error(http.get(url, headers=bearer(key)), 401)
    assert http.get(url, headers=bearer(rotated)).status_code != 401


def _zstack_flows(serve: Serve, http: httpx.Client, seen: Seen, made: dict[str, Any]) -> None:
    base = f"{serve.url}/zstack/v1"
    wrong = seen.secret("wrong password digest", sha512(seen.secret("wrong password")))
    body = {"logInByAccount": {"accountName": "keeper", "password": wrong}}
    refused = seen.error(http.put(f"{base}/accounts/login", json=body), 503)
    assert refused.json()["error"]["code"] == "ID.1000"
    body["logInByAccount"]["password"] = seen.secrets["password digest"]
    opened = http.put(f"{base}/accounts/login", json=body).json()
    session = seen.secret("zstack session", opened["inventory"]["uuid"])
    listing = f"{base}/ai/model-services"
    assert http.get(listing, headers={"Authorization": f"OAuth {session}"}).is_success
    seen.error(http.get(listing, headers={"Authorization": f"OAuth {fresh('session')}"}), 503)
    # the access key, signed with the wrong secret
    date = email.utils.format_datetime(datetime.now(UTC), usegmt=True)
    bad = seen.secret("wrong zstack secret")
    mac = hmac.new(bad.encode(), f"GET\n{date}\n/v1/ai/model-services".encode(), hashlib.sha1)
    auth = f"ZStack {made['access']['access_key_id']}:{base64.b64encode(mac.digest()).decode()}"
    seen.error(http.get(listing, headers={"Authorization": auth, "Date": date}), 503)
    assert http.delete(f"{base}/accounts/sessions/{session}").status_code == 200


def _iam_flows(serve: Serve, http: httpx.Client, seen: Seen, made: dict[str, Any]) -> None:
    def login(password: str) -> httpx.Response:
        user = {"name": "keeper", "password": password}
        auth = {"identity": {"methods": ["password"], "password": {"user": user}}}
        return http.post(f"{serve.url}/v3/auth/tokens", json={"auth": auth})

    seen.error(login(seen.secrets["wrong password"]), 401)
    token = seen.secret("IAM token", login(seen.secrets["password"]).headers["X-Subject-Token"])
    project = made["access"]["project_id"]
    services = f"{serve.url}/v1/{project}/services"
    assert http.get(services, headers={"X-Auth-Token": token}).is_success
    seen.error(http.get(services, headers={"X-Auth-Token": fresh("token")}), 401)
    check = {"X-Auth-Token": token, "X-Subject-Token": fresh("token")}
    seen.error(http.get(f"{serve.url}/v3/auth/tokens", headers=check), 404)
    # AK/SK through the SDK, with the wrong SK
    creds = BasicCredentials(made["access"]["access_key_id"], seen.secret("wrong SK"), project)
    client = ModelArtsClient.new_builder().with_credentials(creds).with_endpoint(serve.url).build()
    try:
        with pytest.raises(ClientRequestException) as err:
            client.do_http_request(
                method="GET",
                resource_path="/v1/{project_id}/services",
                path_params={},
                query_params=[],
                header_params={},
                response_type="ShowInferServiceResponse",
            )
    finally:
        client.get_http_client().close()
    assert err.value.status_code == 401
    seen.errors.append(str(err.value))


def _signed_flows(serve: Serve, seen: Seen, made: dict[str, Any]) -> None:
    access = made["access"]
    # UCloud: right, then wrong private key
    config = {
        "base_url": serve.url,
        "public_key": access["access_key_id"],
        "region": "cn-wlcb",
        "max_retries": 0,
    }
    right = UCloudClient({**config, "private_key": access["access_key_secret"]})
    assert right.invoke("GetUMInferService", {})["TotalCount"] == 2
    wrong = UCloudClient({**config, "private_key": seen.secret("wrong private key")})
    with pytest.raises(RetCodeException) as caught:
        wrong.invoke("GetUMInferService", {})
    assert caught.value.code == 171
    seen.errors.append(str(caught.value))
    # TI-ONE: right, then wrong SecretKey
    hp = HttpProfile(protocol="http", endpoint=serve.url.removeprefix("http://"))
    for secret_key in (access["access_key_secret"], seen.secret("wrong SecretKey")):
        client = CommonClient(
            "tione",
            "2021-11-11",
            credential.Credential(access["access_key_id"], secret_key),
            "ap-guangzhou",
            ClientProfile(httpProfile=hp),
        )
        try:
            if secret_key == access["access_key_secret"]:
                answer = client.call_json(
                    "DescribeModelServiceCallInfo",
                    {"ServiceGroupId": made["services"]["serving"]["id"]},
                )
                info = answer["Response"]["ServiceCallInfoV2"]
                assert info["AuthToken"] == seen.secrets["rotated service key"]  # to its admin
            else:
                with pytest.raises(TencentCloudSDKException) as err:
                    client.call_json("DescribeModelServiceGroups", {})
                assert err.value.code == "AuthFailure.SignatureFailure"
                seen.errors.append(str(err.value))
        finally:
            client.request.conn._session.close()


@pytest.fixture(scope="module")
def flows(serve: Serve) -> Seen:
    seen = Seen()
    with httpx.Client(timeout=30) as http:
        made = _native_flows(serve, http, seen)
        _gateway_flows(serve, http, seen, made)
        _zstack_flows(serve, http, seen, made)
        _iam_flows(serve, http, seen, made)
        _signed_flows(serve, seen, made)
    return seen


def leaks(text: str, seen: Seen) -> list[str]:
    return [name for name, value in seen.secrets.items() if value in text]


def test_error_answers_hold_no_secret(flows: Seen) -> None:
    assert len(flows.errors) >= 15
    for text in flows.errors:
        assert not leaks(text, flows), text


def test_events_hold_no_secret(serve: Serve, flows: Seen) -> None:
    reasons = set()
    with httpx.Client() as http:
        for key in flows.projects:
            auth = {"Authorization": f"Bearer {key}"}
            events = http.get(f"{serve.url}/api/v1/events?limit=1000", headers=auth).json()["data"]
            for sid in flows.services if key != serve.admin_key else []:
                r = http.get(f"{serve.url}/api/v1/services/{sid}/events?limit=1000", headers=auth)
                events += r.json()["data"]
            for event in events:
                reasons.add(event["reason"])
                assert not leaks(json.dumps(event), flows), event
    assert {"Created", "KeyRotated", "RolloutStarted", "ReplicaFailed"} <= reasons


def test_the_server_log_holds_no_secret(serve: Serve, flows: Seen) -> None:
    serve.stop()  # its last lines flushed: the graceful stop's too
    text = serve.log.read_text(errors="replace")
    assert text.count(" DEBUG ") > 50, "the server did not log at DEBUG"
    assert not leaks(text, flows), [line for line in text.splitlines() if leaks(line, flows)][:5]


# -- in process, with caplog -----------------------------------------------------------------


@asynccontextmanager
async def app_of(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        gateway_port=free_port(),
        gateway_batch_scheduling=False,
    )
    app = build(settings)
    async with app.router.lifespan_context(app):
        key = json.loads((tmp_path / "home" / "credentials").read_text())["api_key"]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, key


def _tc3(secret_id: str, secret_key: str, body: bytes) -> dict[str, str]:
    """TC3 headers signed with Tencent's own `Sign.sign_tc3`."""
    ts = int(time.time())
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    canonical = (
        f"POST\n/\n\ncontent-type:application/json\nhost:test\n\ncontent-type;host\n"
        f"{hashlib.sha256(body).hexdigest()}"
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{date}/tione/tc3_request\n{digest}"
    sig = Sign.sign_tc3(secret_key, date, "tione", to_sign)
    return {
        "Content-Type": "application/json",
        "X-TC-Action": "DescribeModelServiceGroups",
        "X-TC-Version": "2021-11-11",
        "X-TC-Timestamp": str(ts),
        "Authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/tione/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={sig}",
    }


async def test_in_process_flows_log_no_secret_at_debug(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = Seen()
    async with app_of(tmp_path, database_url) as (http, admin_key):
        seen.secret("admin key", admin_key)
        admin = bearer(admin_key)
        password = seen.secret("password")
        seen.secret("digest", sha512(password))
        r = await http.post(
            "/api/v1/users", json={"name": "keeper", "password": password}, headers=admin
        )
        assert r.status_code == 201
        access = (await http.post("/api/v1/access-keys", json={}, headers=admin)).json()
        seen.secret("access key secret", access["access_key_secret"])
        env = {"API_TOKEN": seen.secret("env value")}
        dep = {"runtime": "command", "command": HTTP_SERVER, "replicas": 0, "env": env}
        r = await http.post(
            "/api/v1/services", json={"name": "s", "deployments": [dep]}, headers=admin
        )
        sid = r.json()["id"]
        key = await http.get(f"/api/v1/services/{sid}/key", headers=admin)
        seen.secret("service key", key.json()["key"])
        rotated = await http.post(f"/api/v1/services/{sid}/key/rotate", headers=admin)
        seen.secret("rotated key", rotated.json()["key"])
        # logins, right and wrong
        for digest in (sha512(seen.secret("wrong password")), seen.secrets["digest"]):
            body = {"logInByAccount": {"accountName": "keeper", "password": digest}}
            r = await http.put("/zstack/v1/accounts/login", json=body)
            if r.status_code == 200:
                seen.secret("session", r.json()["inventory"]["uuid"])
            else:
                seen.error(r, 503)
        for given in (seen.secrets["wrong password"], password):
            user = {"name": "keeper", "password": given}
            body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
            r = await http.post("/v3/auth/tokens", json=body)
            if r.status_code == 201:
                seen.secret("token", r.headers["X-Subject-Token"])
            else:
                seen.error(r, 401)
        # a TC3 request signed with the wrong secret
        wrong = seen.secret("wrong secret")
        r = await http.post("/", content=b"{}", headers=_tc3(access["access_key_id"], wrong, b"{}"))
        assert r.json()["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
        seen.errors.append(r.text)
        seen.error(await http.get("/api/v1/services", headers=bearer(wrong)), 401)
    assert logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)  # the drivers' too
    assert caplog.records and not leaks(caplog.text, seen), leaks(caplog.text, seen)
    for text in seen.errors:
        assert not leaks(text, seen), text


async def test_a_failed_logout_logs_its_path_without_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenStore:
        @asynccontextmanager
        async def read(self) -> AsyncIterator[None]:
            raise RuntimeError("the disk is on fire")
            yield

    ctx = ApiContext(store=BrokenStore(), ops=None, base_url="http://x", cipher=None)  # type: ignore[arg-type]
    app = Starlette(routes=zstack_door.routes(ctx))
    session = secrets.token_hex(16)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        r = await http.delete(f"/v1/accounts/sessions/{session}")
    assert (r.status_code, r.json()["error"]["code"]) == (503, "SYS.1000")
    [record] = [rec for rec in caplog.records if rec.name == zstack_door.__name__]
    assert record.getMessage() == "zstack DELETE /v1/accounts/sessions/{uuid} failed"
    assert session not in caplog.text and record.exc_info is not None
