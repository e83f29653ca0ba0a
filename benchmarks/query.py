"""Query latency at scale: a filtered, sorted page of 20 services with its total count.

Loads N services (each with one deployment and two tags) into a fresh SQLite database and a
fresh PostgreSQL database, then measures p50/p99 of the same question asked through the native
API and through each cloud dialect that is mounted (`--doors`), in-process over ASGI (no
sockets), the whole process pinned to core 0. Prints the figures and, per door, the growth of
p50 from the smallest to the largest N next to log(N_max)/log(N_min), the bound for an indexed
query. Bounded: a fixed number of requests per case.

    .venv/bin/python benchmarks/query.py --sizes 1000,100000 --requests 200
    .venv/bin/python benchmarks/query.py --databases sqlite --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from modelport.api import dialects
from modelport.api.app import build_api
from modelport.api.deps import ApiContext
from modelport.backends.fake import FakeBackend
from modelport.runtimes.catalog import BUILTIN
from modelport.services.auth import bootstrap
from modelport.services.secrets import Cipher
from modelport.services.services import ServiceOps
from modelport.store import Store
from modelport.store import tables as t

PG_ADMIN = os.environ.get("MODELPORT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
STATUSES = ["running", "running", "running", "stopped", "deploying", "failed", "degraded"]
TEAMS = ["search", "ads", "vision", "speech", "nlp"]

Ask = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def load(store: Store, project_id: str, n: int) -> None:
    """Insert n services with one deployment and two tags each, in batches."""
    cipher_text = "x"  # service keys are never read by the benchmark
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    batch = 5000
    for first in range(0, n, batch):
        services, deployments, tags = [], [], []
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
            await tx.session.execute(t.ServiceRow.__table__.insert(), services)
            await tx.session.execute(t.DeploymentRow.__table__.insert(), deployments)
            await tx.session.execute(t.ServiceTagRow.__table__.insert(), tags)
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")


def native(api_key: str) -> Ask:
    headers = {"Authorization": f"Bearer {api_key}"}

    async def ask(http: httpx.AsyncClient, offset: int) -> httpx.Response:
        params = {"status": "running", "sort": "-created_at", "limit": "20", "offset": str(offset)}
        return await http.get("/api/v1/services", params=params, headers=headers)

    return ask


async def measure(http: httpx.AsyncClient, ask: Ask, requests: int, n: int) -> list[float]:
    rng = random.Random(1)
    await ask(http, 0)  # warm caches and connection pools
    took = []
    for _ in range(requests):
        offset = rng.randrange(0, max(1, n // 4)) // 20 * 20
        t0 = time.perf_counter()
        r = await ask(http, offset)
        took.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{r.request.url}: {r.status_code} {r.text[:200]}")
    return took


async def one_case(url: str, n: int, requests: int) -> dict[str, tuple[float, float]]:
    store = Store(url)
    await store.open(BUILTIN)
    try:
        boot = await bootstrap(store, None)
        assert boot.admin_key is not None
        await load(store, boot.project.id, n)
        cipher = Cipher(Cipher.new_key())
        ops = ServiceOps(store, cipher, FakeBackend(), lambda: None)
        ctx = ApiContext(store, ops, "http://bench", cipher)
        app = Starlette(routes=[Mount("/api/v1", app=build_api(ctx)), *dialects.routes(ctx)])
        doors = {"native": native(boot.admin_key)}
        out = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for name, ask in doors.items():
                took = await measure(http, ask, requests, n)
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
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[tuple[str, str, int], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for db in args.databases.split(","):
            for n in sizes:
                url, drop = await fresh_database(db, Path(tmp))
                try:
                    for door, figures in (await one_case(url, n, args.requests)).items():
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
