"""Signed requests, their clock-skew windows and replays (docs/security.md, "Clock skew and
replay").

One server for the module, built from the dialects' routes with a fake clock in its
`ApiContext`, so a request can be sent once and then replayed, byte for byte, while the
server's time moves. An ASGI recorder in front keeps what each vendor SDK sent: Tencent's
`CommonClient` (TC3-HMAC-SHA256), `huaweicloudsdkcore` (SDK-HMAC-SHA256) and UCloud's
`Client`; ZStack has no Python SDK, so its AccessKey header is built as its Java SDK does.

- TI-ONE: `X-TC-Timestamp` within 300 s either way; a replay inside the window is accepted,
  as Tencent does (TC3 has no nonce; the window is the protection), also of an action that
  changes something; once outside it, `AuthFailure.SignatureExpire` and nothing changes.
- ModelArts: `X-Sdk-Date` within 15 minutes either way, else 401 `APIG.0301`.
- ZStack: `Date` within 15 minutes either way, else 403 `requestTimeTooSkewed`.
- UCloud: the signature covers no time, so a replay is accepted whenever it comes, until the
  access key is deleted (the documented mitigation: TLS in front, key rotation).

The edges of each window are exact: the last accepted second and the first refused one.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import hmac
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkmodelarts.v1 import ModelArtsClient
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send
from tencentcloud.common.common_client import CommonClient
from tests.ports import free_port
from tests.security.conftest import tione_client
from ucloud.client import Client as UCloudClient

from modelport.api import dialects
from modelport.api.deps import ApiContext
from modelport.backends.fake import FakeBackend
from modelport.domain.auth import Principal, Role
from modelport.domain.credentials import AccessKey
from modelport.runtimes.catalog import BUILTIN
from modelport.services import auth, credentials
from modelport.services.secrets import Cipher
from modelport.services.services import DeploymentSpec, ServiceOps, ServiceSpec
from modelport.store import Store

DEADLINE = 60.0
NOT_SENT_AGAIN = {"content-length", "transfer-encoding"}  # httpx frames the body itself


class Clock:
    """The server's time, set by the test (read by the server's thread)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Sent:
    """One request as the server received it."""

    method: str
    target: str  # path and query, as sent
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k == name)


@dataclass
class Recorder:
    """ASGI middleware keeping every request it passes on."""

    app: Any
    seen: list[Sent] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = scope["query_string"].decode("latin-1")
        target = scope["raw_path"].decode("latin-1") + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        self.seen.append(Sent(scope["method"], target, headers, body))
        delivered = False

        async def again() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, again, send)


@dataclass
class Signing:
    url: str
    clock: Clock
    recorder: Recorder
    key: AccessKey
    service_id: str
    deployment_id: str
    database_url: str

    def replay(self, sent: Sent) -> httpx.Response:
        headers = [(k, v) for k, v in sent.headers if k not in NOT_SENT_AGAIN]
        return httpx.request(
            sent.method, self.url + sent.target, headers=headers, content=sent.body
        )

    def last(self) -> Sent:
        return self.recorder.seen[-1]

    def replicas(self) -> int:
        async def read() -> int:
            store = Store(self.database_url)
            try:
                async with store.read() as tx:
                    svc = await tx.services.get(None, self.service_id)
            finally:
                await store.close()
            return svc.deployments[0].replicas

        return asyncio.run(read())


async def _setup(url: str, cipher: Cipher) -> tuple[AccessKey, str, str]:
    store = Store(url)
    await store.open(BUILTIN)
    try:
        boot = await auth.bootstrap(store, None)
        assert boot.admin_key is not None
        who = await auth.authenticate(store, f"Bearer {boot.admin_key}")
        key = await credentials.create_access_key(store, cipher, who)
        ops = ServiceOps(store, cipher, FakeBackend(), wake=lambda: None)
        spec = DeploymentSpec(runtime="command", command=["sleep", "60"], replicas=1)
        svc = await ops.create(who, ServiceSpec(name="signed", deployments=[spec]))
    finally:
        await store.close()
    return key, svc.id, svc.deployments[0].id


@pytest.fixture(scope="module")
def signing(module_database: str) -> Iterator[Signing]:
    cipher = Cipher(Cipher.new_key())
    key, service_id, deployment_id = asyncio.run(_setup(module_database, cipher))
    store = Store(module_database)  # first used on the server's own loop
    clock = Clock()
    ops = ServiceOps(store, cipher, FakeBackend(), wake=lambda: None)
    port = free_port()
    ctx = ApiContext(store, ops, f"http://127.0.0.1:{port}", cipher, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await store.close()  # on the server's loop, where its connections live

    recorder = Recorder(Starlette(routes=dialects.routes(ctx), lifespan=lifespan))
    server = uvicorn.Server(
        uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="modelport-signing")
    thread.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            thread.join(timeout=0.02)
        yield Signing(
            f"http://127.0.0.1:{port}",
            clock,
            recorder,
            key,
            service_id,
            deployment_id,
            module_database,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE)
        assert not thread.is_alive(), "the server did not stop"


# -- TI-ONE ----------------------------------------------------------------------------------


def _tione_code(r: httpx.Response) -> str | None:
    assert (r.status_code, r.headers["content-type"]) == (200, "application/json")
    error = r.json()["Response"].get("Error")
    return None if error is None else str(error["Code"])


@pytest.fixture
def tione(signing: Signing) -> Iterator[CommonClient]:
    with tione_client(signing.url, signing.key.id, signing.key.secret) as client:
        yield client


def test_tc3_replays_are_accepted_within_300_seconds_only(
    signing: Signing, tione: CommonClient
) -> None:
    signing.clock.at = datetime.now(UTC)
    answer = tione.call_json("DescribeModelServiceGroups", {"Limit": 10})["Response"]
    assert answer["TotalCount"] == 1
    sent = signing.last()
    stamp = int(sent.header("x-tc-timestamp"))
    signed_at = datetime.fromtimestamp(stamp, UTC)
    for offset in (0, 0, 300, -300):  # the same bytes again: accepted, as Tencent does
        signing.clock.at = signed_at + timedelta(seconds=offset)
        replayed = signing.replay(sent)
        assert _tione_code(replayed) is None, offset
        assert replayed.json()["Response"]["TotalCount"] == 1
    for offset in (301, -301, 86400):
        signing.clock.at = signed_at + timedelta(seconds=offset)
        refused = signing.replay(sent)
        assert _tione_code(refused) == "AuthFailure.SignatureExpire", offset
        message = refused.json()["Response"]["Error"]["Message"]
        assert f"X-TC-Timestamp {stamp} is more than 300 seconds away" in message


def test_a_replayed_change_runs_again_inside_the_window_and_never_after(
    signing: Signing, tione: CommonClient
) -> None:
    signing.clock.at = datetime.now(UTC)
    scale = {"ServiceId": signing.deployment_id, "ServiceAction": "SCALE", "Replicas": 2}
    tione.call_json("ModifyModelService", scale)
    assert signing.replicas() == 2
    sent = signing.last()
    signed_at = datetime.fromtimestamp(int(sent.header("x-tc-timestamp")), UTC)
    tione.call_json("ModifyModelService", {**scale, "Replicas": 1})
    assert signing.replicas() == 1
    signing.clock.at = signed_at + timedelta(seconds=299)
    assert _tione_code(signing.replay(sent)) is None  # captured within 5 minutes: it runs
    assert signing.replicas() == 2
    signing.clock.at = datetime.now(UTC)
    tione.call_json("ModifyModelService", {**scale, "Replicas": 1})
    signing.clock.at = signed_at + timedelta(seconds=301)
    assert _tione_code(signing.replay(sent)) == "AuthFailure.SignatureExpire"
    assert signing.replicas() == 1


# -- ModelArts -------------------------------------------------------------------------------


def test_aksk_requests_are_accepted_within_15_minutes_only(signing: Signing) -> None:
    creds = BasicCredentials(signing.key.id, signing.key.secret, signing.key.project_id)
    builder = ModelArtsClient.new_builder().with_credentials(creds)
    client = builder.with_endpoint(signing.url).build()
    try:
        signing.clock.at = datetime.now(UTC)
        response = client.do_http_request(
            method="GET",
            resource_path="/v1/{project_id}/services/{service_id}",
            path_params={"service_id": signing.service_id},
            query_params=[],
            header_params={},
            response_type="ShowInferServiceResponse",
        )
    finally:
        client.get_http_client().close()
    assert response.status_code == 200
    sent = signing.last()
    date = sent.header("x-sdk-date")
    signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    for offset in (timedelta(0), timedelta(minutes=15), -timedelta(minutes=15)):
        signing.clock.at = signed_at + offset
        replayed = signing.replay(sent)
        assert replayed.status_code == 200, (offset, replayed.text)
        assert replayed.json()["service_id"] == signing.service_id
    for offset in (timedelta(minutes=15, seconds=1), -timedelta(minutes=15, seconds=1)):
        signing.clock.at = signed_at + offset
        refused = signing.replay(sent)
        assert refused.status_code == 401
        assert refused.json() == {
            "error_code": "APIG.0301",
            "error_msg": "Incorrect IAM authentication information: verify aksk signature "
            f"fail, X-Sdk-Date {date} is more than 15 minutes from the server's time",
            "request_id": refused.headers["X-Request-Id"],
        }


# -- ZStack ----------------------------------------------------------------------------------


def _zstack_signed(signing: Signing, at: datetime, path: str) -> dict[str, str]:
    """The AccessKey headers of ZStack's Java SDK (`calculateAccessKeySignature`)."""
    date = email.utils.format_datetime(at, usegmt=True)
    text = f"GET\n{date}\n{path}".encode()
    mac = hmac.new(signing.key.secret.encode(), text, hashlib.sha1).digest()
    sig = base64.b64encode(mac).decode()
    return {"Authorization": f"ZStack {signing.key.id}:{sig}", "Date": date}


def test_zstack_access_keys_are_accepted_within_15_minutes_only(signing: Signing) -> None:
    signed_at = datetime.now(UTC).replace(microsecond=0)
    path = "/v1/ai/model-services"
    headers = _zstack_signed(signing, signed_at, path)
    url = f"{signing.url}/zstack{path}"
    for offset in (timedelta(0), timedelta(0), timedelta(minutes=15), -timedelta(minutes=15)):
        signing.clock.at = signed_at + offset
        replayed = httpx.get(url, headers=headers)
        assert replayed.status_code == 200, (offset, replayed.text)
        assert len(replayed.json()["inventories"]) == len(BUILTIN)
    for offset in (timedelta(minutes=15, seconds=1), -timedelta(minutes=15, seconds=1)):
        signing.clock.at = signed_at + offset
        refused = httpx.get(url, headers=headers)
        assert (refused.status_code, refused.text) == (403, "requestTimeTooSkewed")


# -- UCloud ----------------------------------------------------------------------------------


def test_ucloud_signatures_carry_no_time_so_replays_work_until_the_key_is_gone(
    signing: Signing,
) -> None:
    client = UCloudClient(
        {
            "base_url": signing.url,
            "public_key": signing.key.id,
            "private_key": signing.key.secret,
            "region": "cn-wlcb",
            "max_retries": 0,
        }
    )
    signing.clock.at = datetime.now(UTC)
    answer = client.invoke("GetUMInferService", {"Limit": 10})
    assert [d["UminferID"] for d in answer["Data"]] == [signing.service_id]
    sent = signing.last()
    for later in (timedelta(days=1), timedelta(days=365)):
        signing.clock.at += later
        replayed = signing.replay(sent).json()
        assert (replayed["RetCode"], replayed["TotalCount"]) == (0, 1)
    # the mitigation: rotate the key (delete it; scripts get a new one)
    asyncio.run(_delete_key(signing))
    gone = signing.replay(sent).json()
    assert (gone["RetCode"], gone["Message"]) == (172, "User Not Exists")


async def _delete_key(signing: Signing) -> None:
    store = Store(signing.database_url)
    try:
        async with store.read() as tx:
            project = await tx.projects.get(signing.key.project_id)
        assert project is not None
        admin = Principal(project.id, Role.ADMIN, "test")
        await credentials.delete_access_key(store, admin, signing.key.id)
    finally:
        await store.close()
