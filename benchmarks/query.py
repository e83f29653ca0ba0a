"""Query latency at scale: a filtered, sorted page of 20 services with its total count.

Loads N services (each with one deployment and two tags) into a fresh SQLite database and a
fresh PostgreSQL database, then measures p50/p99 of the same question asked through the native
API and through each cloud dialect (`--doors`), in-process over ASGI (no sockets), the whole
process pinned to core 0. Each dialect's request is built and authenticated as its vendor's
client builds it (UCloud form POST signed with SHA-1, ZStack `OAuth <session>` after a login,
ModelArts AK/SK `SDK-HMAC-SHA256`, TI-ONE `TC3-HMAC-SHA256`), with the project's own signer
modules; signing is inside the timed span, as it is for a real client. The answer to the first
request of each door is checked for the vendor's success shape and a full page, and every
timed answer for the vendor's error shape (UCloud and TI-ONE answer errors with HTTP 200).
Prints the figures and, per door, the growth of p50 from the smallest to the largest N next to
log(N_max)/log(N_min), the bound for an indexed query. Bounded: a fixed number of requests per case.

    .venv/bin/python benchmarks/query.py --sizes 1000,100000 --requests 200
    .venv/bin/python benchmarks/query.py --databases sqlite --sizes 1000,10000
    .venv/bin/python benchmarks/query.py --doors native,tione --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy import Table
from starlette.applications import Starlette
from starlette.routing import Mount

from modelport.api import dialects
from modelport.api.app import build_api
from modelport.api.deps import ApiContext
from modelport.backends.fake import FakeBackend
from modelport.dialects.modelarts import signer as modelarts_signer
from modelport.dialects.tione import protocol as tione_protocol
from modelport.dialects.tione import signature as tione_signature
from modelport.dialects.ucloud import query as ucloud_query
from modelport.dialects.ucloud import signature as ucloud_signature
from modelport.domain.credentials import AccessKey
from modelport.runtimes.catalog import BUILTIN
from modelport.services import credentials
from modelport.services.auth import authenticate, bootstrap
from modelport.services.secrets import Cipher
from modelport.services.services import ServiceOps
from modelport.store import Store
from modelport.store import tables as t

PG_ADMIN = os.environ.get("MODELPORT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
STATUSES = ["running", "running", "running", "stopped", "deploying", "failed", "degraded"]
TEAMS = ["search", "ads", "vision", "speech", "nlp"]

DOORS = ("native", "ucloud", "zstack", "modelarts", "tione")
PAGE = 20
BENCH_USER, BENCH_PASSWORD = "bench", "bench-password"

Ask = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
# what is wrong with an answer, or None when it is the vendor's success (`first`: the answer
# to the warm-up request at offset 0, whose shape and page size are checked in full)
Check = Callable[[httpx.Response, bool], str | None]


@dataclass(frozen=True, slots=True)
class Door:
    ask: Ask
    check: Check


async def load(store: Store, project_id: str, n: int, key_ciphertext: str) -> None:
    """Insert n services with one deployment and two tags each, in batches. Every service gets
    the same (real) encrypted key: dialects that show admins the service key decrypt it."""
    cipher_text = key_ciphertext
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    batch = 5000
    for first in range(0, n, batch):
        services: list[dict[str, Any]] = []
        deployments: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        for i in range(first, min(n, first + batch)):
            sid, at = f"svc-{i:012d}", start + timedelta(seconds=i)
            status = rng.choice(STATUSES)
            services.append(
                {
                    "id": sid, "project_id": project_id, "name": f"svc-{i}", "description": "",
                    "owner": "bench", "workspace": "0", "infer_type": "real-time",
                    "auth_type": "key", "lb_policy": "ROUND_ROBIN", "tags": {},
                    "desired_state": "stopped" if status == "stopped" else "running",
                    "key_ciphertext": cipher_text, "status": status, "status_reason": "",
                    "progress": 100, "invocation_count": i, "failure_count": 0,
                    "stop_at": None, "transition_at": at, "created_at": at, "updated_at": at,
                    "revision": 1,
                }
            )  # fmt: skip
            deployments.append(
                {
                    "id": f"dep-{i:012d}", "service_id": sid, "model_id": None,
                    "runtime_id": "rt-command", "version": "1", "weight": 100, "replicas": 0,
                    "cpu": 0.5, "memory": 256, "gpu": 0, "env": {}, "command": ["true"],
                    "health_path": None, "max_surge": 1, "max_unavailable": 0,
                    "grace_period": 10.0, "status": status, "status_reason": "",
                    "ready_replicas": 0, "ever_ready": False, "created_at": at, "updated_at": at,
                }
            )  # fmt: skip
            tags += [
                {"service_id": sid, "key": "team", "value": rng.choice(TEAMS)},
                {"service_id": sid, "key": "tier", "value": rng.choice(["gold", "silver"])},
            ]
        async with store.write() as tx:
            await tx.session.execute(cast(Table, t.ServiceRow.__table__).insert(), services)
            await tx.session.execute(cast(Table, t.DeploymentRow.__table__).insert(), deployments)
            await tx.session.execute(cast(Table, t.ServiceTagRow.__table__).insert(), tags)
    # what autovacuum would have done by now: planner statistics, and on PostgreSQL the
    # visibility map that lets counts run as index-only scans
    if store.is_sqlite:
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    else:
        async with store.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE")


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _page_check(
    items: Callable[[Any], Any], total: Callable[[Any], Any], error: Callable[[Any], Any]
) -> Check:
    """A check over the JSON body: `error` finds a vendor error in it (falsy when none),
    `items` the page, `total` the total count."""

    def check(r: httpx.Response, first: bool) -> str | None:
        body = _json(r)
        if not isinstance(body, dict):
            return "the body is not a JSON object"
        failure = error(body)
        if failure:
            return f"vendor error {failure}"
        if not first:
            return None
        page, count = items(body), total(body)
        if not isinstance(page, list) or not isinstance(count, int):
            return "no page list or no integer total count in the answer"
        if len(page) != min(PAGE, count):
            return f"a page of {len(page)} for a total of {count}"
        return None

    return check


def native(api_key: str) -> Door:
    headers = {"Authorization": f"Bearer {api_key}"}

    async def ask(http: httpx.AsyncClient, offset: int) -> httpx.Response:
        params = {"status": "running", "sort": "-created_at", "limit": "20", "offset": str(offset)}
        return await http.get("/api/v1/services", params=params, headers=headers)

    return Door(ask, _page_check(lambda b: b.get("data"), lambda b: b.get("total"), lambda b: 0))


def ucloud(key: AccessKey) -> Door:
    """`GetUMInferService` as the Python SDK sends it: a signed form POST to `/`.

    UCloud's list has no status (or tag) filter and one fixed order, newest first (`created_at`
    descending, which is what the other doors ask for): this door pages over every service, so
    its total is N, not the running ones."""

    async def ask(http: httpx.AsyncClient, offset: int) -> httpx.Response:
        form = {
            "Action": ucloud_query.ACTION,
            "PublicKey": key.id,
            "Region": "cn-bj2",
            "Zone": "cn-bj2-05",
            "ProjectId": key.project_id,
            "UminferType": "private",
            "Offset": str(offset),
            "Limit": str(PAGE),
        }
        form["Signature"] = ucloud_signature.sign(form, key.secret)
        return await http.post("/", data=form)

    def error(body: dict[str, Any]) -> Any:
        if body.get("RetCode") != 0:
            return f"RetCode {body.get('RetCode')}: {body.get('Message')}"
        return None

    return Door(ask, _page_check(lambda b: b.get("Data"), lambda b: b.get("TotalCount"), error))


async def zstack_session(http: httpx.AsyncClient) -> str:
    """Log in as the ZStack SDK does (the SHA-512 hex of the password); the session uuid."""
    login = {
        "logInByAccount": {
            "accountName": BENCH_USER,
            "password": credentials.sha512_hex(BENCH_PASSWORD),
        }
    }
    r = await http.put("/zstack/v1/accounts/login", json=login)
    uuid = (_json(r) or {}).get("inventory", {}).get("uuid") if r.status_code == 200 else None
    if not isinstance(uuid, str):
        raise SystemExit(f"zstack login: {r.status_code} {r.text[:200]}")
    return uuid


def zstack(session: str) -> Door:
    """`QueryModelService` as the SDK sends it: `GET /zstack/v1/ai/model-services` with a `q`
    condition, newest first, `replyWithCount`, `Authorization: OAuth <session>`.

    ZStack's model services are Modelport's runtimes, not its services: that table holds only
    the handful of built-in runtimes whatever N is, so `start` stays 0 (a random offset into
    N would only ask for empty pages) and this door's figure is the dialect's overhead, not
    the scaling of the services query. No `fields` is sent, as the SDK sends none, so every
    inventory carries `modelServiceRefs`: the models each runtime serves, one indexed query on
    models for the whole page (the benchmark registers none), so it does not grow with N."""
    headers = {"Authorization": f"OAuth {session}"}
    params = {
        "q": "system=true",
        "sort": "-createDate",
        "start": "0",
        "limit": str(PAGE),
        "replyWithCount": "true",
    }

    async def ask(http: httpx.AsyncClient, offset: int) -> httpx.Response:
        return await http.get("/zstack/v1/ai/model-services", params=params, headers=headers)

    def error(body: dict[str, Any]) -> Any:
        return body.get("error")

    return Door(ask, _page_check(lambda b: b.get("inventories"), lambda b: b.get("total"), error))


def modelarts(key: AccessKey) -> Door:
    """The v1 list `GET /v1/{project_id}/services` signed with AK/SK as huaweicloudsdkcore's
    `Signer` signs it (every header without `_`, `X-Sdk-Date`, `X-Project-Id`). `offset` is a
    page index in v1, so the record offset is divided by the page size."""
    path = f"/v1/{key.project_id}/services"

    async def ask(http: httpx.AsyncClient, offset: int) -> httpx.Response:
        query = (
            ("status", "running"),
            ("sort_by", "publish_at"),
            ("order", "desc"),
            ("limit", str(PAGE)),
            ("offset", str(offset // PAGE)),
        )
        headers = {
            "host": http.base_url.netloc.decode(),
            "content-type": "application/json",
            "x-project-id": key.project_id,
            "x-sdk-date": datetime.now(UTC).strftime(modelarts_signer.DATE_FORMAT),
        }
        signed = modelarts_signer.SignedRequest("GET", quote(path), query, headers)
        auth = modelarts_signer.sign(key.id, key.secret, signed)
        return await http.get(path, params=query, headers={**headers, "Authorization": auth})

    return Door(
        ask,
        _page_check(lambda b: b.get("services"), lambda b: b.get("total_count"), lambda b: 0),
    )


def tione(key: AccessKey) -> Door:
    """`DescribeModelServiceGroups` as tencentcloud-sdk-python sends it: a JSON POST to `/`
    with the `X-TC-*` headers, signed TC3-HMAC-SHA256 over `content-type;host`. Status `Normal`
    is TI-ONE's name for `running`."""
    signed_headers = ("content-type", "host")

    async def ask(http: httpx.AsyncClient, offset: int) -> httpx.Response:
        body = json.dumps(
            {
                "Filters": [{"Name": "Status", "Values": ["Normal"]}],
                "OrderField": "CreateTime",
                "Order": "DESC",
                "Offset": offset,
                "Limit": PAGE,
            },
            separators=(",", ":"),
        ).encode()
        now = int(time.time())
        date = tione_signature.utc_date(now)
        headers = {
            "content-type": "application/json",
            "host": http.base_url.netloc.decode(),
            "x-tc-action": "DescribeModelServiceGroups",
            "x-tc-version": tione_protocol.VERSION,
            "x-tc-timestamp": str(now),
            "x-tc-region": "ap-guangzhou",
        }
        request = tione_signature.SignedRequest("POST", "/", "", headers, body)
        canonical = tione_signature.canonical_request(request, signed_headers)
        to_sign = tione_signature.string_to_sign(now, date, tione_signature.SERVICE, canonical)
        sig = tione_signature.sign(key.secret, date, tione_signature.SERVICE, to_sign)
        headers["authorization"] = (
            f"{tione_signature.ALGORITHM} Credential={key.id}/{date}/{tione_signature.SERVICE}/"
            f"{tione_signature.TERMINATOR}, SignedHeaders={';'.join(signed_headers)}, "
            f"Signature={sig}"
        )
        return await http.post("/", content=body, headers=headers)

    def error(body: dict[str, Any]) -> Any:
        response = body.get("Response")
        if not isinstance(response, dict):
            return "no Response object"
        return response.get("Error")

    def part(name: str) -> Callable[[Any], Any]:
        return lambda b: b["Response"].get(name)

    return Door(ask, _page_check(part("ServiceGroups"), part("TotalCount"), error))


async def measure(
    http: httpx.AsyncClient, door: Door, requests: int, n: int, deepest: int
) -> list[float]:
    def fail(r: httpx.Response, why: str) -> SystemExit:
        return SystemExit(f"{r.request.method} {r.request.url}: {why}: {r.text[:300]}")

    rng = random.Random(1)
    r = await door.ask(http, 0)  # warm caches and connection pools; check the answer in full
    problem = door.check(r, True) if r.status_code == 200 else f"HTTP {r.status_code}"
    if problem:
        raise fail(r, problem)
    took = []
    for _ in range(requests):
        offset = rng.randrange(0, max(1, min(n // 4, deepest))) // PAGE * PAGE
        t0 = time.perf_counter()
        r = await door.ask(http, offset)
        took.append((time.perf_counter() - t0) * 1000)
        problem = door.check(r, False) if r.status_code == 200 else f"HTTP {r.status_code}"
        if problem:
            raise fail(r, problem)
    return took


async def one_case(
    url: str, n: int, requests: int, wanted: list[str], deepest: int
) -> dict[str, tuple[float, float]]:
    store = Store(url)
    await store.open(BUILTIN)
    try:
        boot = await bootstrap(store, None)
        assert boot.admin_key is not None
        cipher = Cipher(Cipher.new_key())
        await load(store, boot.project.id, n, cipher.encrypt("sk-bench"))
        admin = await authenticate(store, f"Bearer {boot.admin_key}")
        # an admin access key (the dialects' signing key) and a user (ZStack's login), made
        # with the cipher the app decrypts with
        key = await credentials.create_access_key(store, cipher, admin)
        await credentials.create_user(store, admin, BENCH_USER, BENCH_PASSWORD)
        ops = ServiceOps(store, cipher, FakeBackend(), lambda: None)
        ctx = ApiContext(store, ops, "http://bench", cipher)
        app = Starlette(routes=[Mount("/api/v1", app=build_api(ctx)), *dialects.routes(ctx)])
        out = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            session = await zstack_session(http) if "zstack" in wanted else ""
            doors = {
                "native": native(boot.admin_key),
                "ucloud": ucloud(key),
                "zstack": zstack(session),
                "modelarts": modelarts(key),
                "tione": tione(key),
            }
            for name in wanted:
                took = await measure(http, doors[name], requests, n, deepest)
                q = statistics.quantiles(took, n=100)
                out[name] = (statistics.median(took), q[98])
        return out
    finally:
        await store.close()


async def fresh_database(kind: str, workdir: Path) -> tuple[str, Callable[[], Awaitable[None]]]:
    if kind == "sqlite":
        path = workdir / f"bench-{secrets.token_hex(4)}.db"

        async def drop_file() -> None:
            for p in path.parent.glob(path.name + "*"):
                p.unlink()

        return f"sqlite:///{path}", drop_file
    name = f"mp_bench_{secrets.token_hex(4)}"
    admin = PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        c = await asyncpg.connect(admin)
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await c.close()

    return admin.rsplit("/", 1)[0] + f"/{name}", drop


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--deepest",
        type=int,
        default=10**9,
        help="deepest offset asked (default: a quarter of N; OFFSET walks are linear in it)",
    )
    parser.add_argument("--doors", default=",".join(DOORS), help="of " + ",".join(DOORS))
    args = parser.parse_args()
    doors = args.doors.split(",")
    unknown = sorted(set(doors) - set(DOORS))
    if unknown:
        parser.error(f"unknown door {unknown[0]!r}; choose from {','.join(DOORS)}")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[tuple[str, str, int], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for db in args.databases.split(","):
            for n in sizes:
                url, drop = await fresh_database(db, Path(tmp))
                try:
                    for door, figures in (
                        await one_case(url, n, args.requests, doors, args.deepest)
                    ).items():
                        results[(db, door, n)] = figures
                        p50, p99 = figures
                        print(f"{db:>10} {door:>10} n={n:>7}  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
                finally:
                    await drop()
    lo, hi = min(sizes), max(sizes)
    bound = math.log(hi) / math.log(lo)
    print(f"\ngrowth of p50 from n={lo} to n={hi} (log bound {bound:.2f}):")
    for db, door, n in sorted(results):
        if n == hi and (db, door, lo) in results:
            growth = results[(db, door, hi)][0] / results[(db, door, lo)][0]
            verdict = "within" if growth <= bound else "ABOVE"
            print(f"{db:>10} {door:>10}  {growth:5.2f}x  ({verdict} the log bound)")


if __name__ == "__main__":
    asyncio.run(main())
