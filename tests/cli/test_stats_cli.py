"""`modelport services stats` and `modelport deploy`'s traffic options, against the real server
of `test_cli.py`'s `server` fixture.

Services are made with 0 replicas (no process starts); stats rows are written to the server's
database through a second `Store`, as a gateway's flush writes them.
"""

from __future__ import annotations

import asyncio
import time

from tests.cli.test_cli import Running, server  # noqa: F401 - a fixture

from modelport.config import Settings
from modelport.domain.stats import MinuteStats
from modelport.store import Store


def record(home_settings: Settings, rows: list[MinuteStats]) -> None:
    async def write() -> None:
        store = Store(home_settings.store_url)
        try:
            async with store.write() as tx:
                await tx.traffic.record(rows)
        finally:
            await store.close()

    asyncio.run(write())


def test_services_stats(server: Running) -> None:  # noqa: F811 - the fixture
    svc = server.json(
        "deploy", "--name", "quiet", "--command", "{python} -m http.server", "--replicas", "0",
        "--no-wait",
    )  # fmt: skip
    dep = svc["deployments"][0]["id"]
    now = int(time.time()) // 60
    row = MinuteStats(svc["id"], dep, now)
    for ms in (3.0, 4.0, 4.0, 120.0):
        row.add(ms > 100, ms)
    record(Settings(home=server.home), [row])

    stats = server.json("services", "stats", svc["id"], "--minutes", "3")
    assert (stats["service_id"], stats["window_seconds"]) == (svc["id"], 180)
    assert (stats["requests"], stats["failures"]) == (4, 1)
    assert [(d["deployment_id"], d["requests"]) for d in stats["deployments"]] == [(dep, 4)]
    assert len(stats["minutes"]) == 3
    with server.client() as client:
        same = client.service_stats(svc["id"], minutes=3)
    assert (same["requests"], same["deployments"]) == (4, stats["deployments"])

    table = server.run("services", "stats", svc["id"])
    assert table.exit_code == 0, table.output
    assert "requests/s" in table.stdout and "p99 ms" in table.stdout
    assert dep in table.stdout and "5 min" in table.stdout

    bad = server.run("-o", "json", "services", "stats", svc["id"], "--minutes", "61")
    assert bad.exit_code == 1
    assert '"field": "minutes"' in bad.stderr


def test_deploy_sets_the_traffic_policy(server: Running) -> None:  # noqa: F811 - the fixture
    argv = ["deploy", "--name", "web", "--command", "{python} -m http.server", "--no-wait"]
    svc = server.json(*argv, "--replicas", "0")
    assert svc["traffic"] == {
        "timeout": 60.0, "rate_limit": None, "max_concurrency": None, "retry": True,
    }  # fmt: skip
    svc = server.json(
        *argv[:2], "tuned", *argv[3:], "--replicas", "0", "--request-timeout", "5",
        "--rate-limit", "20", "--max-concurrency", "3", "--no-retry",
    )  # fmt: skip
    assert svc["traffic"] == {
        "timeout": 5.0, "rate_limit": 20.0, "max_concurrency": 3, "retry": False,
    }  # fmt: skip
    bad = server.run("-o", "json", *argv[:2], "bad", *argv[3:], "--request-timeout", "0")
    assert bad.exit_code == 1
    assert '"field": "traffic.timeout"' in bad.stderr
