"""Many clients writing at once through the real HTTP doors of a `modelport serve` process, on
SQLite and on PostgreSQL.

- 50 writers PATCH one service at once, each with the revision it read (`If-Match`), reading
  again after a 409, up to 3 times: each PATCH applies (200) or is refused (409); none is
  lost: the 200s are exactly the revision's increments, each got a revision of its own (the
  one after the revision it read), and the final state is the write with the highest
  revision, whole (its description and its tags, never a mix of two writes).
- 50 PATCHes at once without `If-Match`: every one applies, in some order; the revision moves
  by exactly 50 and the last writer wins, whole.
- 1,000 services created at once, half through TI-ONE's `CreateModelService` (TC3-signed),
  half through the native API, 32 requests in flight: every one answered 201 or `Success`,
  and both doors' paging lists each exactly once, with the right totals.

No 500, no 503 ("database is locked" included), no deadlock: every request is answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tencentcloud.common.sign import Sign
from tests.e2e.conftest import Serve

pytestmark = pytest.mark.e2e

COMMAND = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]
WRITERS = 50
ATTEMPTS = 3  # per writer with If-Match
SERVICES = 1000
IN_FLIGHT = 32


def _native(server: Serve) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=60,  # an answer within a minute, or the test fails: no deadlock
        limits=httpx.Limits(max_connections=IN_FLIGHT + WRITERS),
    )


async def _service(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    deps = [{"runtime": "command", "command": COMMAND, "replicas": 0}]
    r = await http.post("/services", json={"name": name, "deployments": deps})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _content(i: int) -> dict[str, Any]:
    return {"description": f"writer {i}", "tags": {"writer": str(i), "n": str(i * 7)}}


def _is(svc: dict[str, Any], i: int) -> bool:
    want = _content(i)
    return svc["description"] == want["description"] and svc["tags"] == want["tags"]


async def test_concurrent_updates_apply_or_conflict_and_none_is_lost(server: Serve) -> None:
    async with _native(server) as http:
        svc = await _service(http, "contended")
        sid, start = svc["id"], svc["revision"]

        codes: Counter[int] = Counter()
        applied: dict[int, int] = {}  # revision → the writer whose write it is

        async def guarded(i: int) -> None:
            """Read, write with the revision read; on 409 read again, ATTEMPTS times."""
            for _ in range(ATTEMPTS):
                read = (await http.get(f"/services/{sid}")).json()["revision"]
                r = await http.patch(
                    f"/services/{sid}", json=_content(i), headers={"If-Match": f'"{read}"'}
                )
                codes[r.status_code] += 1
                if r.status_code == 409:
                    assert r.json()["error"]["code"] == "conflict"
                    continue
                assert r.status_code == 200, r.text
                assert _is(r.json(), i) and r.json()["revision"] == read + 1
                assert r.json()["revision"] not in applied  # a revision of its own
                applied[r.json()["revision"]] = i
                return

        await asyncio.gather(*(guarded(i) for i in range(WRITERS)))
        final = (await http.get(f"/services/{sid}")).json()
        assert set(codes) <= {200, 409} and codes[200] == len(applied) >= 1
        assert sorted(applied) == list(range(start + 1, final["revision"] + 1))  # none lost
        assert _is(final, applied[final["revision"]])  # the last applied write, whole
        guarded_codes = f"{codes[200]} applied (200), {codes[409]} refused (409)"

    # without If-Match: every write applies, one after the other (new connections: an idle
    # keep-alive one may be closed by the server just as it is reused)
    async with _native(server) as http:
        start = final["revision"]

        async def blind(i: int) -> int:
            r = await http.patch(f"/services/{sid}", json=_content(i))
            assert r.status_code == 200, r.text
            assert _is(r.json(), i)
            return int(r.json()["revision"])

        revisions = await asyncio.gather(*(blind(i) for i in range(WRITERS)))
        final = (await http.get(f"/services/{sid}")).json()
        assert sorted(revisions) == list(range(start + 1, start + WRITERS + 1))
        assert final["revision"] == start + WRITERS
        assert _is(final, revisions.index(final["revision"]))
    print(f"If-Match: {guarded_codes}; without: {WRITERS} applied")


class Tione:
    """TI-ONE actions over raw HTTP, signed with TC3-HMAC-SHA256 (the SDK's `Sign.sign_tc3`)."""

    def __init__(self, http: httpx.AsyncClient, url: str, key: dict[str, Any]) -> None:
        self.http = http
        self.url = url
        self.host = url.removeprefix("http://")
        self.secret_id = key["access_key_id"]
        self.secret = key["access_key_secret"]

    async def call(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body).encode()
        ts = int(time.time())
        date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
        canonical = (
            f"POST\n/\n\ncontent-type:application/json\nhost:{self.host}\n\n"
            f"content-type;host\n{hashlib.sha256(payload).hexdigest()}"
        )
        to_sign = (
            f"TC3-HMAC-SHA256\n{ts}\n{date}/tione/tc3_request\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = Sign.sign_tc3(self.secret, date, "tione", to_sign)
        headers = {
            "Content-Type": "application/json",
            "X-TC-Action": action,
            "X-TC-Version": "2021-11-11",
            "X-TC-Timestamp": str(ts),
            "X-TC-Region": "ap-guangzhou",
            "Authorization": (
                f"TC3-HMAC-SHA256 Credential={self.secret_id}/{date}/tione/tc3_request, "
                f"SignedHeaders=content-type;host, Signature={signature}"
            ),
        }
        r = await self.http.post(f"{self.url}/", content=payload, headers=headers)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()["Response"]
        assert "Error" not in answer, answer
        return answer


async def test_a_thousand_services_created_at_once_are_all_listed(server: Serve) -> None:
    async with _native(server) as http:
        key = (await http.post("/access-keys", json={"admin": True})).json()
        tione = Tione(http, server.url, key)
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def create(i: int) -> str:
            async with gate:
                if i % 2:
                    body = {
                        "ServiceGroupName": f"tione-{i}",
                        "ImageInfo": {"ImageType": "PreSet", "ImageUrl": "command"},
                        "Command": " ".join(COMMAND),
                        "Replicas": 0,
                    }
                    answer = await tione.call("CreateModelService", body)
                    return str(answer["Service"]["ServiceGroupId"])
                return str((await _service(http, f"native-{i}"))["id"])

        begun = time.monotonic()
        ids = await asyncio.gather(*(create(i) for i in range(SERVICES)))
        took = time.monotonic() - begun
        assert len(set(ids)) == SERVICES

        # the native list, page by page: each service once, the total right on every page
        listed: list[str] = []
        while True:
            r = await http.get(
                "/services", params={"limit": 100, "offset": len(listed), "sort": "created_at"}
            )
            page = r.json()
            assert page["total"] == SERVICES
            if not page["data"]:
                break
            listed += [s["id"] for s in page["data"]]
        assert len(listed) == len(set(listed)) == SERVICES
        assert set(listed) == set(ids)

        # TI-ONE's DescribeModelServiceGroups, page by page
        groups: list[str] = []
        while True:
            body = {"Offset": len(groups), "Limit": 100, "Order": "ASC"}
            answer = await tione.call("DescribeModelServiceGroups", body)
            assert answer["TotalCount"] == answer["GlobalTotalCount"] == SERVICES
            if not answer["ServiceGroups"]:
                break
            groups += [g["ServiceGroupId"] for g in answer["ServiceGroups"]]
        assert len(groups) == len(set(groups)) == SERVICES
        assert set(groups) == set(ids)
    print(f"{SERVICES} services created in {took:.1f} s ({SERVICES / took:.0f}/s)")
