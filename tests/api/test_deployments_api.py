"""A service's deployments through the native API: add a version, shift weights, remove one."""

from __future__ import annotations

import httpx
from tests.api.test_api import CMD, assert_error, service


async def test_add_weigh_and_remove_a_deployment(api: httpx.AsyncClient) -> None:
    svc = (await api.post("/services", json=service("canary"))).json()
    sid, v1 = svc["id"], svc["deployments"][0]["id"]

    canary = {"runtime": "command", "command": CMD, "replicas": 0, "weight": 10}
    r = await api.post(f"/services/{sid}/deployments", json=canary)
    assert r.status_code == 201, r.text
    v2 = r.json()["deployments"][1]["id"]
    assert [d["weight"] for d in r.json()["deployments"]] == [100, 10]

    r = await api.post(f"/services/{sid}/weights", json={"weights": {v1: 0, v2: 100}})
    assert r.status_code == 200, r.text
    assert {d["id"]: d["weight"] for d in r.json()["deployments"]} == {v1: 0, v2: 100}

    r = await api.delete(f"/services/{sid}/deployments/{v1}")
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["deployments"]] == [v2]


async def test_bad_deployment_changes_name_the_problem(api: httpx.AsyncClient) -> None:
    svc = (await api.post("/services", json=service("canary"))).json()
    sid, v1 = svc["id"], svc["deployments"][0]["id"]
    assert_error(
        await api.post(f"/services/{sid}/weights", json={"weights": {v1: 101}}),
        400,
        "invalid",
        f"weights.{v1}",
    )
    assert_error(
        await api.post(f"/services/{sid}/weights", json={"weights": {v1: "heavy"}}), 400, "invalid"
    )
    assert_error(
        await api.post(f"/services/{sid}/weights", json={"weights": {"dep-nope": 5}}),
        400,
        "invalid",
        "weights",
    )
    assert_error(
        await api.post(f"/services/{sid}/deployments", json={"replicas": -1, "runtime": "command"}),
        400,
        "invalid",
    )
    assert_error(await api.delete(f"/services/{sid}/deployments/{v1}"), 409, "conflict")
    assert_error(await api.delete(f"/services/{sid}/deployments/dep-nope"), 404, "not_found")
    after = (await api.get(f"/services/{sid}")).json()
    assert [(d["id"], d["weight"]) for d in after["deployments"]] == [(v1, 100)]
