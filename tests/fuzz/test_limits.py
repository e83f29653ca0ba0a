"""Size limits on the API's port (native API and dialects), against a real server.

The server runs as `modelport serve` runs it (`server.http_options`: uvicorn's h11 parser),
with small limits: `MODELPORT_API_MAX_BODY` 1024 bytes, `MODELPORT_MAX_HEADER_BYTES` 4096.

- A body over the limit is refused with 413 before any handler reads it, whether it declares
  its length or comes chunked, and each door answers in its own error shape; a body at the
  limit passes. With `Expect: 100-continue`, the refusal comes instead of the `100 Continue`.
- A request head over the limit is refused (400) and its connection closed, before the head
  is complete: the server never holds more of it than the limit.
- A path no route takes (one with a newline, which no mount matches, or just an unknown one)
  is answered 404 in the words of the door it names.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tencentcloud.common.sign import Sign
from tests.fuzz.conftest import Server, running, settings_for

LIMIT = 1024
HEAD_LIMIT = 4096
DEADLINE = 30.0


@pytest.fixture
def small(tmp_path: Path, database_url: str) -> Iterator[Server]:
    settings = settings_for(
        tmp_path / "home", database_url, api_max_body=LIMIT, max_header_bytes=HEAD_LIMIT
    )
    with running(settings) as made:
        yield made


def over(n: int = LIMIT + 1) -> bytes:
    return b"x" * n


async def chunked(data: bytes) -> AsyncIterator[bytes]:
    """A body without `Content-Length` (httpx sends it chunked)."""
    for i in range(0, len(data), 100):
        yield data[i : i + 100]


def test_the_native_api_refuses_a_body_over_the_limit(small: Server) -> None:
    headers = {"Authorization": f"Bearer {small.api_key}", "Content-Type": "application/json"}
    url = f"{small.url}/api/v1/models"
    declared = httpx.post(url, content=over(), headers=headers)
    assert declared.status_code == 413
    assert declared.headers["connection"] == "close"
    assert declared.json() == {
        "error": {
            "code": "too_large",
            "message": f"request body over {LIMIT} bytes",
            "details": {"limit": LIMIT},
        }
    }
    # at the limit, the body reaches the handler: a model is registered
    body = {"name": "at-the-limit", "description": ""}
    body["description"] = "d" * (LIMIT - len(json.dumps(body)))
    exact = json.dumps(body).encode()
    assert len(exact) == LIMIT
    assert httpx.post(url, content=exact, headers=headers).status_code == 201


async def test_a_chunked_body_over_the_limit_is_refused_too(small: Server) -> None:
    chunk = b"64\r\n" + b"x" * 100 + b"\r\n"  # 100 bytes a chunk: 2000 in all
    head = (
        b"POST /api/v1/models HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nAuthorization: Bearer " + small.api_key.encode()
    )
    answer = await exchange(small, head + b"\r\n\r\n" + chunk * 20 + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b'"code":"too_large"' in answer
    # a chunked body within the limit reaches the handler
    headers = {"Authorization": f"Bearer {small.api_key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=f"{small.url}/api/v1", headers=headers) as client:
        body = json.dumps({"name": "chunked"}).encode()
        assert (await client.post("/models", content=chunked(body))).status_code == 201


def test_each_door_refuses_a_large_body_in_its_own_words(small: Server) -> None:
    # UCloud: HTTP 200, RetCode 230, the Action of the query string when there is one
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = httpx.post(f"{small.url}/?Action=GetUMInferService", content=over(), headers=form)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {
        "Action": "GetUMInferServiceResponse",
        "RetCode": 230,
        "Message": f"Params [body] not available: over {LIMIT} bytes",
    }
    # TI-ONE: HTTP 200, Content-Type exactly application/json, its error envelope
    tc = {"Content-Type": "application/json", "X-TC-Action": "DescribeModelServiceGroups"}
    r = httpx.post(f"{small.url}/", content=over(), headers=tc)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    error = r.json()["Response"]["Error"]
    assert error == {
        "Code": "RequestSizeLimitExceeded",
        "Message": f"The request body over {LIMIT} bytes.",
    }
    # ZStack: its REST layer's plain text
    r = httpx.put(f"{small.url}/zstack/v1/accounts/login", content=over())
    assert (r.status_code, r.text) == (413, f"request body over {LIMIT} bytes")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    # ModelArts: API Gateway's envelope; its IAM: Keystone's
    r = httpx.request("GET", f"{small.url}/v1/{small.project_id}/services", content=over())
    assert r.status_code == 413
    assert r.json()["error_code"] == "APIG.0201" and r.json()["request_id"]
    assert r.headers["X-Request-Id"] == r.json()["request_id"]
    r = httpx.post(f"{small.url}/v3/auth/tokens", content=over())
    assert r.status_code == 413
    assert r.json()["error"] == {
        "code": 413,
        "title": "Request Entity Too Large",
        "message": f"The request body over {LIMIT} bytes.",
    }


def test_a_body_within_the_limit_still_reaches_the_dialects(small: Server) -> None:
    body = json.dumps({"Offset": 0, "Limit": 20}).encode()
    host = small.url.removeprefix("http://")
    ts = int(time.time())
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    canonical = (
        f"POST\n/\n\ncontent-type:application/json\nhost:{host}\n\ncontent-type;host\n"
        f"{hashlib.sha256(body).hexdigest()}"
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{date}/tione/tc3_request\n{digest}"
    sig = Sign.sign_tc3(small.access_key_secret, date, "tione", to_sign)
    headers = {
        "Content-Type": "application/json",
        "X-TC-Action": "DescribeModelServiceGroups",
        "X-TC-Version": "2021-11-11",
        "X-TC-Timestamp": str(ts),
        "Authorization": f"TC3-HMAC-SHA256 Credential={small.access_key_id}/{date}/tione/"
        f"tc3_request, SignedHeaders=content-type;host, Signature={sig}",
    }
    r = httpx.post(f"{small.url}/", content=body, headers=headers)
    assert r.json()["Response"]["TotalCount"] == 0, r.text


async def exchange(server: Server, data: bytes) -> bytes:
    """Send `data` on a new connection; everything the server answers before it closes."""
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        async with asyncio.timeout(DEADLINE):
            return await reader.read()  # up to the server's close
    finally:
        writer.close()


async def test_a_declared_large_body_is_refused_before_100_continue(small: Server) -> None:
    head = (
        b"POST /api/v1/models HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n"
    )
    answer = await exchange(small, head)  # the body never follows
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"100 Continue" not in answer


async def test_a_head_over_the_limit_is_refused_before_it_ends(small: Server) -> None:
    # a header that never ends: the server answers once it holds more than the limit
    header = b"GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (4 * HEAD_LIMIT)
    assert (await exchange(small, header)).startswith(b"HTTP/1.1 400 ")
    line = b"GET /api/v1/healthz?" + b"q" * (4 * HEAD_LIMIT)  # a request line, the same
    assert (await exchange(small, line)).startswith(b"HTTP/1.1 400 ")
    fits = b"GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1000 + b"\r\n"
    ok = await exchange(small, fits + b"Connection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 "), ok


def test_a_path_no_route_takes_is_answered_by_its_door(small: Server) -> None:
    # a newline in the path: no mount matches it, so the root router answers
    native = httpx.get(f"{small.url}/api/v1/services/a%0Ab")
    assert native.status_code == 404 and native.json()["error"]["code"] == "not_found"
    zstack = httpx.get(f"{small.url}/zstack/v1/ai/model-services/a%0Ab")
    assert zstack.status_code == 404
    assert zstack.text == "no api mapping to /v1/ai/model-services/a\nb"
    # no such API under ModelArts' or IAM's paths
    modelarts = httpx.get(f"{small.url}/v1/{small.project_id}/jobs")
    assert modelarts.status_code == 404 and modelarts.json()["error_code"] == "APIG.0101"
    iam = httpx.get(f"{small.url}/v3/projects")
    assert iam.status_code == 404 and iam.json()["error"]["code"] == 404
