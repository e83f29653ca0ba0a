"""The gateway's own HTTP parser bounds what a caller can make it hold (`gateway/http.py`).

A `DataPlane` on a free port with small limits (head 2048 bytes, body 1024), over real
sockets. A head over the limit is answered 431 and the connection closed *before the head
ends*: httptools keeps a header's pieces until the header is complete, so without the count
in `Client._feed` a header that never ends would be held whole. More than `MAX_HEADERS`
headers is 431 too, a body over the limit 413; a head within the limits is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from tests.ports import free_port

from modelport.gateway import http
from modelport.gateway.plane import DataPlane
from modelport.gateway.routing import RoutingTable

HEAD = 2048
BODY = 1024
DEADLINE = 10.0


@dataclass
class Static:
    table: RoutingTable


@pytest.fixture
async def port() -> AsyncIterator[int]:
    plane = DataPlane(Static(RoutingTable.of({})), max_body=BODY, max_head=HEAD)
    free = free_port()
    await plane.listen("127.0.0.1", free)
    try:
        yield free
    finally:
        await plane.close(grace=1.0)


async def exchange(port: int, data: bytes) -> tuple[int, dict[str, object], bool]:
    """Send `data` on a new connection: the answer's status and JSON body, and whether the
    gateway closed the connection after it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        async with asyncio.timeout(DEADLINE):
            answer = await reader.read()  # to the gateway's close
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), b"connection: close" in head.lower()


async def test_a_header_that_never_ends_is_refused_once_over_the_limit(port: int) -> None:
    never_ends = b"GET /services/x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 * HEAD)
    status, body, closed = await exchange(port, never_ends)
    assert (status, closed) == (431, True)
    assert body == {
        "error": {
            "code": "too_large",
            "message": f"request line and headers over {HEAD} bytes",
            "details": {},
        }
    }


async def test_a_request_line_over_the_limit_is_refused(port: int) -> None:
    status, _, closed = await exchange(port, b"GET /services/" + b"x" * (8 * HEAD))
    assert (status, closed) == (431, True)


async def test_too_many_headers_are_refused(port: int) -> None:
    many = b"".join(b"x-%d: 1\r\n" % i for i in range(http.MAX_HEADERS + 1))
    status, body, closed = await exchange(port, b"GET /services/x HTTP/1.1\r\n" + many + b"\r\n")
    assert (status, closed) == (431, True)
    assert body["error"] == {
        "code": "too_large",
        "message": f"more than {http.MAX_HEADERS} headers",
        "details": {},
    }


async def test_a_head_within_the_limits_is_served(port: int) -> None:
    headers = b"".join(b"x-%d: 1\r\n" % i for i in range(http.MAX_HEADERS - 2))
    fits = b"GET /services/x HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n"
    status, body, _ = await exchange(port, fits)
    assert status == 404 and body["error"]["code"] == "not_found"  # no such service: served
    big = b"POST /services/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (BODY + 1)
    status, body, closed = await exchange(port, big + b"b" * (BODY + 1))
    assert (status, closed) == (413, True)
