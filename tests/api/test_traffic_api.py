"""A service's traffic policy, its deployments' counts and `GET /services/{id}/stats`, in-process
(httpx.ASGITransport) on a real store.

Stats rows are written straight to the app's store, as the gateway's flush writes them, at the
current minute and a few before it, so a minute turning during a test moves no row out of a
5-minute window.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from modelport.domain.stats import MinuteStats, merge, quantile
from modelport.store import Store

CMD = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]
DEFAULT = {"timeout": 60.0, "rate_limit": None, "max_concurrency": None, "retry": True}


def service(name: str, deployments: int = 1, **extra: Any) -> dict[str, Any]:
    dep = {"runtime": "command", "command": CMD, "replicas": 0}
    return {"name": name, "deployments": [dep] * deployments, **extra}


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.post("/services", json=body)
    assert r.status_code == 201, r.text
    svc: dict[str, Any] = r.json()
    return svc


def assert_invalid(r: httpx.Response, field: str) -> None:
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid", field)
    assert error["message"].startswith(f"{field}: ")


# -- traffic policy -------------------------------------------------------------------------
async def test_traffic_round_trips_through_create_get_and_patch(api: httpx.AsyncClient) -> None:
    plain = await create(api, service("plain"))
    assert plain["traffic"] == DEFAULT

    policy = {"timeout": 2.5, "rate_limit": 100.0, "max_concurrency": 8, "retry": False}
    svc = await create(api, service("tuned", traffic=policy))
    assert svc["traffic"] == policy
    assert (await api.get(f"/services/{svc['id']}")).json()["traffic"] == policy
    listed = (await api.get("/services", params={"name": "tuned"})).json()["data"]
    assert [s["traffic"] for s in listed] == [policy]

    # a patch without `traffic` (or with null) keeps it
    r = await api.patch(f"/services/{svc['id']}", json={"description": "d", "traffic": None})
    assert r.status_code == 200, r.text
    assert r.json()["traffic"] == policy

    # `traffic` replaces the whole policy: the fields left out take their defaults
    r = await api.patch(
        f"/services/{svc['id']}",
        json={"traffic": {"timeout": 30}, "revision": r.json()["revision"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["traffic"] == {**DEFAULT, "timeout": 30.0}
    assert (await api.get(f"/services/{svc['id']}")).json()["traffic"] == {
        **DEFAULT,
        "timeout": 30.0,
    }

    r = await api.patch(f"/services/{svc['id']}", json={"traffic": {}})
    assert r.json()["traffic"] == DEFAULT


BAD_TRAFFIC = [
    ({"timeout": 0}, "traffic.timeout"),
    ({"timeout": -1}, "traffic.timeout"),
    ({"timeout": 3601}, "traffic.timeout"),
    ({"timeout": "soon"}, "traffic.timeout"),
    ({"timeout": None}, "traffic.timeout"),
    ({"rate_limit": 0}, "traffic.rate_limit"),
    ({"rate_limit": -1.5}, "traffic.rate_limit"),
    ({"rate_limit": 1_000_001}, "traffic.rate_limit"),
    ({"rate_limit": "fast"}, "traffic.rate_limit"),
    ({"max_concurrency": 0}, "traffic.max_concurrency"),
    ({"max_concurrency": 100_001}, "traffic.max_concurrency"),
    ({"max_concurrency": 2.5}, "traffic.max_concurrency"),
    ({"retry": "perhaps"}, "traffic.retry"),
    ({"retries": 3}, "traffic.retries"),
    ("fast", "traffic"),
]


@pytest.mark.parametrize(("traffic", "field"), BAD_TRAFFIC, ids=str)
async def test_bad_traffic_on_create_names_the_field(
    api: httpx.AsyncClient, traffic: Any, field: str
) -> None:
    r = await api.post("/services", json=service("x", traffic=traffic))
    assert_invalid(r, field)
    assert (await api.get("/services")).json()["total"] == 0  # nothing half-written


@pytest.mark.parametrize(("traffic", "field"), BAD_TRAFFIC, ids=str)
async def test_bad_traffic_on_patch_names_the_field(
    api: httpx.AsyncClient, traffic: Any, field: str
) -> None:
    svc = await create(api, service("x"))
    r = await api.patch(f"/services/{svc['id']}", json={"traffic": traffic})
    assert_invalid(r, field)
    after = (await api.get(f"/services/{svc['id']}")).json()
    assert (after["traffic"], after["revision"]) == (DEFAULT, svc["revision"])


async def test_traffic_bounds_are_accepted(api: httpx.AsyncClient) -> None:
    policy: dict[str, Any] = {
        "timeout": 3600, "rate_limit": 1_000_000, "max_concurrency": 100_000, "retry": True,
    }  # fmt: skip
    assert (await create(api, service("edge", traffic=policy)))["traffic"] == policy
    policy = {"timeout": 0.001, "rate_limit": 0.01, "max_concurrency": 1, "retry": True}
    assert (await create(api, service("low", traffic=policy)))["traffic"] == policy


# -- counts and stats -----------------------------------------------------------------------
def row(
    svc: dict[str, Any], dep: int, minute: int, latencies: list[float], failures: int = 0
) -> MinuteStats:
    out = MinuteStats(svc["id"], svc["deployments"][dep]["id"], minute)
    for i, ms in enumerate(latencies):
        out.add(i < failures, ms)
    return out


async def record(store: Store, rows: list[MinuteStats]) -> None:
    async with store.write() as tx:
        await tx.traffic.record(rows)


def minute_of(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) // 60


async def test_stats_and_deployment_counts(api: httpx.AsyncClient, api_store: Store) -> None:
    svc = await create(api, service("split", deployments=2))
    other = await create(api, service("other"))
    assert [(d["invocation_count"], d["failure_count"]) for d in svc["deployments"]] == [
        (0, 0),
        (0, 0),
    ]
    now = int(time.time()) // 60
    rows = [
        row(svc, 0, now, [2.0, 4.0, 8.0, 300.0], failures=1),
        row(svc, 0, now - 1, [4.0, 4.0]),
        row(svc, 1, now - 2, [20.0] * 5 + [900.0], failures=2),
        row(svc, 1, now - 30, [1.0] * 10),  # in the hour, not in 5 minutes
        row(other, 0, now, [1.0] * 3),  # another service's
    ]
    await record(api_store, rows)

    r = await api.get(f"/services/{svc['id']}/stats")
    assert r.status_code == 200, r.text
    stats = r.json()
    window = rows[:3]
    assert set(stats) == {
        "service_id", "window_seconds", "requests", "failures", "requests_per_second",
        "p50_ms", "p99_ms", "deployments", "minutes",
    }  # fmt: skip
    assert (stats["service_id"], stats["window_seconds"]) == (svc["id"], 300)
    assert (stats["requests"], stats["failures"]) == (12, 3)
    assert stats["requests_per_second"] == pytest.approx(12 / 300)
    assert stats["p50_ms"] == pytest.approx(quantile(merge(window), 0.5))
    assert stats["p99_ms"] == pytest.approx(quantile(merge(window), 0.99))
    assert 5 < stats["p50_ms"] < 25 and 750 < stats["p99_ms"] <= 1000

    a, b = stats["deployments"]
    assert [a["deployment_id"], b["deployment_id"]] == [d["id"] for d in svc["deployments"]]
    assert (a["requests"], a["failures"], b["requests"], b["failures"]) == (6, 1, 6, 2)
    assert a["requests_per_second"] == pytest.approx(6 / 300)
    assert a["p50_ms"] == pytest.approx(quantile(merge(rows[:2]), 0.5))
    assert b["p99_ms"] == pytest.approx(quantile(merge(rows[2:3]), 0.99))

    minutes = stats["minutes"]
    assert len(minutes) == 5
    starts = [minute_of(m["minute"]) for m in minutes]
    assert starts == list(range(starts[0], starts[0] + 5)) and starts[-1] >= now
    by_minute = {minute_of(m["minute"]): m for m in minutes}
    assert (by_minute[now]["requests"], by_minute[now]["failures"]) == (4, 1)
    assert by_minute[now - 2]["p50_ms"] == pytest.approx(quantile(rows[2].buckets, 0.5))
    empty = [m for m in minutes if m["requests"] == 0]
    assert empty and all(m["p50_ms"] is None and m["p99_ms"] is None for m in empty)

    hour = (await api.get(f"/services/{svc['id']}/stats", params={"minutes": 60})).json()
    assert (hour["window_seconds"], hour["requests"], len(hour["minutes"])) == (3600, 22, 60)

    # the flush also added the counts to the deployments and the service
    got = (await api.get(f"/services/{svc['id']}")).json()
    assert [(d["invocation_count"], d["failure_count"]) for d in got["deployments"]] == [
        (6, 1),
        (16, 2),
    ]
    assert (got["invocation_count"], got["failure_count"]) == (22, 3)


async def test_stats_without_requests(api: httpx.AsyncClient) -> None:
    svc = await create(api, service("quiet"))
    stats = (await api.get(f"/services/{svc['id']}/stats", params={"minutes": 2})).json()
    assert (stats["requests"], stats["requests_per_second"], stats["window_seconds"]) == (0, 0, 120)
    assert (stats["p50_ms"], stats["p99_ms"]) == (None, None)
    assert [(d["requests"], d["p50_ms"]) for d in stats["deployments"]] == [(0, None)]
    assert len(stats["minutes"]) == 2


@pytest.mark.parametrize("minutes", ["0", "61", "-3", "five", "1.5"])
async def test_stats_minutes_out_of_range(api: httpx.AsyncClient, minutes: str) -> None:
    svc = await create(api, service("s"))
    r = await api.get(f"/services/{svc['id']}/stats", params={"minutes": minutes})
    assert_invalid(r, "minutes")


async def test_stats_of_another_projects_service_is_404(api: httpx.AsyncClient) -> None:
    svc = await create(api, service("mine"))
    made = (await api.post("/projects", json={"name": "team"})).json()
    stranger = {"Authorization": f"Bearer {made['api_key']}"}
    r = await api.get(f"/services/{svc['id']}/stats", headers=stranger)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"
    assert (await api.get("/services/svc-nope/stats")).status_code == 404
    r = await api.get(f"/services/{svc['id']}/stats", headers={"Authorization": ""})
    assert r.status_code == 401
