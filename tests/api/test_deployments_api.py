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


async def test_a_spec_change_starts_a_rollout_and_a_return_ends_it(api: httpx.AsyncClient) -> None:
    svc = (await api.post("/services", json=service("roll"))).json()
    sid, dep = svc["id"], svc["deployments"][0]["id"]
    assert svc["deployments"][0]["rollout"] == ""
    assert (svc["deployments"][0]["max_surge"], svc["deployments"][0]["max_unavailable"]) == (1, 0)

    # no field a replica is started from: no rollout
    r = await api.patch(f"/services/{sid}/deployments/{dep}", json={"grace_period": 3})
    assert r.status_code == 200, r.text
    assert r.json()["deployments"][0]["grace_period"] == 3
    assert r.json()["deployments"][0]["rollout_started_at"] is None

    r = await api.patch(
        f"/services/{sid}/deployments/{dep}",
        json={"env": {"A": "1"}, "cpu": 0.25, "max_surge": 0, "max_unavailable": 1},
    )
    assert r.status_code == 200, r.text
    changed = r.json()["deployments"][0]
    assert changed["env"] == {"A": "1"} and changed["cpu"] == 0.25
    assert (changed["max_surge"], changed["max_unavailable"]) == (0, 1)
    assert changed["rollout_started_at"] is not None

    # back to the spec before: nothing left to roll back to
    r = await api.patch(f"/services/{sid}/deployments/{dep}", json={"env": {}, "cpu": 0.5})
    assert r.status_code == 200, r.text
    assert r.json()["deployments"][0]["rollout_started_at"] is None
    events = (await api.get(f"/services/{sid}/events")).json()["data"]
    assert [e["reason"] for e in events].count("RolloutStarted") == 2  # there and back


async def test_bad_deployment_updates_name_the_field_and_change_nothing(
    api: httpx.AsyncClient,
) -> None:
    svc = (await api.post("/services", json=service("roll"))).json()
    sid, dep = svc["id"], svc["deployments"][0]["id"]
    path = f"/services/{sid}/deployments/{dep}"
    bad = [
        ({"cpu": -1}, "deployment.cpu"),
        ({"memory": 0}, "deployment.memory"),
        ({"max_surge": 0, "max_unavailable": 0}, "deployment.max_surge"),
        ({"max_surge": -1}, "deployment.max_surge"),
        ({"rollout_timeout": 0}, "deployment.rollout_timeout"),
        ({"runtime": "nope"}, "deployment.runtime"),
        ({"health_path": "health"}, "deployment.health_path"),
        ({"model_id": "model-nope"}, None),
    ]
    for body, field in bad:
        r = await api.patch(path, json=body)
        assert r.status_code in (400, 404), (body, r.text)
        if field is not None:
            assert_error(r, 400, "invalid", field)
    assert_error(await api.patch(path, json={"cpu": "lots"}), 400, "invalid")
    assert_error(await api.patch(path, json={"colour": "red"}), 400, "invalid")
    assert_error(
        await api.patch(f"/services/{sid}/deployments/dep-nope", json={}), 404, "not_found"
    )
    assert_error(await api.patch(path, json={"cpu": 1, "revision": 99}), 409, "conflict")
    after = (await api.get(f"/services/{sid}")).json()
    assert after["revision"] == svc["revision"]
    spec = ("model_id", "runtime_id", "cpu", "memory", "env", "max_surge", "rollout_timeout")
    assert {k: after["deployments"][0][k] for k in spec} == {
        k: svc["deployments"][0][k] for k in spec
    }
