"""The native API in-process (httpx.ASGITransport) on a real store and the local backend.

Pins the error envelope, auth, validation that names the field, lists with filters, sort
and paging, and optimistic concurrency (409).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

CMD = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]


def service(name: str, replicas: int = 0, **extra: Any) -> dict[str, Any]:
    dep = {"runtime": "command", "command": CMD, "replicas": replicas}
    return {"name": name, "deployments": [dep], **extra}


def assert_error(r: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    if field is not None:
        assert body["error"]["details"]["field"] == field
        assert field.split(".")[-1].split("[")[0] in body["error"]["message"]


async def test_auth_is_required(api: httpx.AsyncClient) -> None:
    r = await api.get("/services", headers={"Authorization": ""})
    assert_error(r, 401, "unauthorized")
    r = await api.get("/services", headers={"Authorization": "Bearer mp_nope"})
    assert_error(r, 401, "unauthorized")
    r = await api.get("/services", headers={"Authorization": "Basic abc"})
    assert_error(r, 401, "unauthorized")
    assert (await api.get("/healthz", headers={"Authorization": ""})).status_code == 200


async def test_openapi_is_served(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert "/services" in spec["paths"] and "/models" in spec["paths"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "deployments": []}, "name"),
        (service("bad name!"), "name"),
        ({"name": "x"}, "deployments"),
        (service("x", replicas=-1), "deployments[0].replicas"),
        (service("x", replicas=10_000), "deployments[0].replicas"),
        ({"name": "x", "deployments": [{"runtime": "nope"}]}, "deployments[0].runtime"),
        ({"name": "x", "deployments": [{"runtime": "command"}]}, "deployments[0].command"),
        ({"name": "x", "deployments": [{"runtime": "sklearn"}]}, "deployments[0].model_id"),
        ({"name": "x", "deployments": [{"model_id": "mdl-nope"}]}, None),
        (service("x", cpu=0), None),
        ({"name": "x", "deployments": [], "colour": "red"}, "colour"),
        ({"name": 5, "deployments": [{"replicas": "many"}]}, None),
        (service("x", lb_policy="FASTEST"), "lb_policy"),
        ({"name": "x", "deployments": [{"replicas": "many"}]}, "deployments[0].replicas"),
    ],
)
async def test_bad_service_input_names_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str | None
) -> None:
    r = await api.post("/services", json=body)
    assert r.status_code in (400, 404), r.text
    error = r.json()["error"]
    assert error["message"]
    if field is not None:
        assert_error(r, 400, "invalid", field)
    assert (await api.get("/services")).json()["total"] == 0  # nothing half-written


async def test_bad_model_input(api: httpx.AsyncClient, tmp_path: Path) -> None:
    r = await api.post("/models", json={"name": "m", "uri": str(tmp_path / "missing.joblib")})
    assert_error(r, 400, "invalid", "uri")
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01")
    r = await api.post("/models", json={"name": "m", "uri": str(tmp_path / "weights.bin")})
    assert_error(r, 400, "invalid", "framework")
    r = await api.post("/models", json={"name": "m", "uri": "relative/path.onnx"})
    assert_error(r, 400, "invalid", "uri")
    r = await api.post("/models", json={"name": "m", "framework": "tensorflow"})
    assert_error(r, 400, "invalid", "framework")
    r = await api.post("/models", json={"name": "custom"})
    assert r.status_code == 201 and r.json()["framework"] == "custom"
    r = await api.post("/models", json={"name": "custom"})
    assert_error(r, 409, "conflict")


async def test_lists_filter_sort_and_page(api: httpx.AsyncClient) -> None:
    for name in ["c-svc", "a-svc", "b-svc", "d-svc", "e-svc"]:
        assert (await api.post("/services", json=service(name))).status_code == 201
    page = (await api.get("/services", params={"sort": "name", "limit": 2, "offset": 1})).json()
    assert page["total"] == 5
    assert [s["name"] for s in page["data"]] == ["b-svc", "c-svc"]
    page = (await api.get("/services", params={"sort": "-name", "limit": 2})).json()
    assert [s["name"] for s in page["data"]] == ["e-svc", "d-svc"]
    page = (await api.get("/services", params={"name": "a-svc,e-svc"})).json()
    assert page["total"] == 2
    page = (await api.get("/services", params={"offset": 10})).json()
    assert page == {"data": [], "total": 5}
    assert_error(await api.get("/services", params={"colour": "red"}), 400, "invalid", "colour")
    assert_error(await api.get("/services", params={"limit": 5000}), 400, "invalid", "limit")
    assert_error(await api.get("/services", params={"limit": "x"}), 400, "invalid", "limit")
    assert_error(await api.get("/services", params={"offset": -1}), 400, "invalid", "offset")
    assert_error(await api.get("/services", params={"sort": "colour"}), 400, "invalid", "sort")
    runtimes = (await api.get("/runtimes")).json()
    assert {r["name"] for r in runtimes["data"]} >= {"sklearn", "onnx", "embeddings", "command"}


async def test_unknown_ids_are_404(api: httpx.AsyncClient) -> None:
    for path in ["/services/svc-nope", "/models/mdl-nope", "/services/svc-nope/replicas"]:
        assert_error(await api.get(path), 404, "not_found")
    assert_error(await api.post("/services/svc-nope/scale", json={"replicas": 1}), 404, "not_found")
    assert_error(await api.get("/nowhere"), 404, "not_found")


async def test_stale_revision_is_409(api: httpx.AsyncClient) -> None:
    created = (await api.post("/services", json=service("rev"))).json()
    sid, rev = created["id"], created["revision"]
    first = await api.patch(f"/services/{sid}", json={"description": "one", "revision": rev})
    assert first.status_code == 200 and first.json()["revision"] == rev + 1
    second = await api.patch(f"/services/{sid}", json={"description": "two", "revision": rev})
    assert_error(second, 409, "conflict")
    r = await api.patch(f"/services/{sid}", json={"tags": {"team": "x"}}, headers={"If-Match": "1"})
    assert_error(r, 409, "conflict")
    r = await api.patch(
        f"/services/{sid}", json={"tags": {"team": "x"}}, headers={"If-Match": str(rev + 1)}
    )
    assert r.status_code == 200
    got = (await api.get(f"/services/{sid}")).json()
    assert got["description"] == "one" and got["tags"] == {"team": "x"}


async def test_service_key_read_and_rotate(api: httpx.AsyncClient) -> None:
    sid = (await api.post("/services", json=service("keyed"))).json()["id"]
    key = (await api.get(f"/services/{sid}/key")).json()["key"]
    rotated = (await api.post(f"/services/{sid}/key/rotate")).json()["key"]
    assert key != rotated
    assert (await api.get(f"/services/{sid}/key")).json()["key"] == rotated


async def test_tag_filters(api: httpx.AsyncClient) -> None:
    await api.post("/services", json=service("a", tags={"team": "search", "tier": "gold"}))
    await api.post("/services", json=service("b", tags={"team": "ads"}))
    await api.post("/services", json=service("c"))
    page = (await api.get("/services", params={"tag:team": "search"})).json()
    assert [s["name"] for s in page["data"]] == ["a"]
    page = (await api.get("/services", params={"tag:team": "search,ads", "sort": "name"})).json()
    assert [s["name"] for s in page["data"]] == ["a", "b"]
    assert (await api.get("/services", params={"tag:tier": "silver"})).json()["total"] == 0
    assert_error(await api.get("/services", params={"tag:": "x"}), 400, "invalid", "tag:")
    # tags are rewritten with the service
    sid = (await api.get("/services", params={"name": "b"})).json()["data"][0]["id"]
    await api.patch(f"/services/{sid}", json={"tags": {"team": "search"}})
    page = (await api.get("/services", params={"tag:team": "search", "sort": "name"})).json()
    assert [s["name"] for s in page["data"]] == ["a", "b"]


async def test_filter_operators(api: httpx.AsyncClient) -> None:
    for name, replicas in [("op-a", 0), ("op-b", 0), ("op-c", 0)]:
        body = service(name, replicas=replicas, description=f"about {name}")
        assert (await api.post("/services", json=body)).status_code == 201

    async def names(**params: str) -> list[str]:
        r = await api.get("/services", params={"sort": "name", **params})
        assert r.status_code == 200, r.text
        return [s["name"] for s in r.json()["data"]]

    assert await names(name__ne="op-a") == ["op-b", "op-c"]
    assert await names(name__gt="op-a") == ["op-b", "op-c"]
    assert await names(name__le="op-b") == ["op-a", "op-b"]
    assert await names(name__in="op-a,op-c") == ["op-a", "op-c"]
    assert await names(name__nin="op-a,op-c") == ["op-b"]
    assert await names(name__like="op-%") == ["op-a", "op-b", "op-c"]
    assert await names(invocation_count__ge="0") == ["op-a", "op-b", "op-c"]
    assert await names(invocation_count__gt="0") == []
    assert await names(created_at__gt="2000-01-01T00:00:00Z") == ["op-a", "op-b", "op-c"]
    assert await names(updated_at__null="false") == ["op-a", "op-b", "op-c"]
    assert await names(updated_at__null="true") == []
    bad = [
        ({"name__near": "x"}, "name__near"),
        ({"invocation_count__gt": "many"}, "invocation_count"),
        ({"created_at__gt": "yesterday"}, "created_at"),
        ({"updated_at__null": "maybe"}, "updated_at__null"),
        ({"name__gt": "a,b"}, "name__gt"),
    ]
    for params, field in bad:
        assert_error(await api.get("/services", params=params), 400, "invalid", field)
