"""`/projects`, `/access-keys`, `/users` in-process (httpx.ASGITransport) on a real store.

Pins the answers' shapes, the error envelope of each refusal, and a project's isolation: the
API key a new project comes with sees nothing of the default project.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

CMD = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]


def as_key(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def assert_error(r: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    if field is not None:
        assert body["error"]["details"]["field"] == field
        assert field in body["error"]["message"]


async def new_project(api: httpx.AsyncClient, name: str = "team") -> dict[str, Any]:
    r = await api.post("/projects", json={"name": name})
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


async def default_project_id(api: httpx.AsyncClient) -> str:
    r = await api.get("/projects")
    ids = [p["id"] for p in r.json()["data"] if p["name"] == "default"]
    assert len(ids) == 1
    return str(ids[0])


# -- auth -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/projects"),
        ("GET", "/projects"),
        ("POST", "/access-keys"),
        ("GET", "/access-keys"),
        ("DELETE", "/access-keys/AKNOPE"),
        ("POST", "/users"),
    ],
)
async def test_every_endpoint_needs_an_api_key(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    r = await api.request(method, path, headers={"Authorization": ""}, json={})
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"] == "Bearer"


# -- projects -------------------------------------------------------------------------------
async def test_create_and_list_projects(api: httpx.AsyncClient) -> None:
    made = await new_project(api)
    assert set(made) == {"project", "api_key"}
    assert set(made["project"]) == {"id", "name"}
    assert made["project"]["name"] == "team"
    assert made["api_key"].startswith("mp_")

    page = (await api.get("/projects")).json()
    assert page["total"] == 2
    assert sorted(p["name"] for p in page["data"]) == ["default", "team"]

    own = (await api.get("/projects", headers=as_key(made["api_key"]))).json()
    assert own == {"data": [made["project"]], "total": 1}


async def test_project_refusals(api: httpx.AsyncClient) -> None:
    made = await new_project(api)
    assert_error(await api.post("/projects", json={"name": "team"}), 409, "conflict")
    assert_error(await api.post("/projects", json={"name": "bad name"}), 400, "invalid", "name")
    assert_error(await api.post("/projects", json={}), 400, "invalid", "name")
    r = await api.post("/projects", json={"name": "x", "colour": "red"})
    assert_error(r, 400, "invalid", "colour")
    r = await api.post("/projects", json={"name": "mine"}, headers=as_key(made["api_key"]))
    assert_error(r, 403, "forbidden")


async def test_a_new_project_sees_none_of_the_default_projects_services(
    api: httpx.AsyncClient,
) -> None:
    dep = {"runtime": "command", "command": CMD, "replicas": 0}
    body = {"name": "web", "deployments": [dep], "tags": {"team": "a"}}
    r = await api.post("/services", json=body)
    assert r.status_code == 201, r.text
    svc = r.json()
    made = await new_project(api)
    theirs = as_key(made["api_key"])

    assert (await api.get("/services")).json()["total"] == 1
    assert (await api.get("/services", headers=theirs)).json() == {"data": [], "total": 0}
    tagged = {"tag:team": "a"}
    assert (await api.get("/services", params=tagged)).json()["total"] == 1
    assert (await api.get("/services", params=tagged, headers=theirs)).json()["total"] == 0
    assert_error(await api.get(f"/services/{svc['id']}", headers=theirs), 404, "not_found")
    r = await api.delete(f"/services/{svc['id']}", headers=theirs)
    assert_error(r, 404, "not_found")
    assert (await api.get("/access-keys", headers=theirs)).json() == {"data": [], "total": 0}

    r = await api.post("/services", json={"name": "web", "deployments": [dep]}, headers=theirs)
    assert r.status_code == 201, r.text  # a name is unique within a project only
    assert (await api.get("/services")).json()["total"] == 1


# -- access keys ----------------------------------------------------------------------------
async def test_create_list_and_delete_access_keys(api: httpx.AsyncClient) -> None:
    r = await api.post("/access-keys", json={})
    assert r.status_code == 201, r.text
    key = r.json()
    assert set(key) == {"access_key_id", "access_key_secret", "project_id"}
    assert key["project_id"] == await default_project_id(api)
    member = (await api.post("/access-keys", json={"admin": False})).json()

    page = (await api.get("/access-keys")).json()
    assert page["total"] == 2
    assert {k["access_key_id"] for k in page["data"]} == {
        key["access_key_id"],
        member["access_key_id"],
    }
    assert all(set(k) == {"access_key_id"} for k in page["data"])  # never the secret

    r = await api.delete(f"/access-keys/{key['access_key_id']}")
    assert r.status_code == 204 and r.content == b""
    assert (await api.get("/access-keys")).json()["total"] == 1
    r = await api.delete(f"/access-keys/{key['access_key_id']}")
    assert_error(r, 404, "not_found")


async def test_access_keys_in_another_project(api: httpx.AsyncClient) -> None:
    made = await new_project(api)
    theirs = as_key(made["api_key"])
    team_id = made["project"]["id"]

    r = await api.post("/access-keys", json={"project_id": team_id})
    assert r.status_code == 201, r.text
    key = r.json()
    assert key["project_id"] == team_id
    assert (await api.get("/access-keys")).json()["total"] == 0
    listed = (await api.get("/access-keys", headers=theirs)).json()
    assert listed["data"] == [{"access_key_id": key["access_key_id"]}]
    r = await api.delete(f"/access-keys/{key['access_key_id']}")
    assert_error(r, 404, "not_found")  # the installation admin deletes in its own project only

    default_id = await default_project_id(api)
    r = await api.post("/access-keys", json={"project_id": default_id}, headers=theirs)
    assert_error(r, 403, "forbidden")
    assert_error(await api.post("/access-keys", json={"project_id": "nope"}), 404, "not_found")
    r = await api.post("/access-keys", json={"admin": "maybe"})
    assert_error(r, 400, "invalid", "admin")


# -- users ----------------------------------------------------------------------------------
async def test_create_users(api: httpx.AsyncClient) -> None:
    r = await api.post("/users", json={"name": "alice", "password": "alice-password"})
    assert r.status_code == 201, r.text
    alice = r.json()
    assert set(alice) == {"id", "name", "project_id", "role"}  # never the password
    assert (alice["name"], alice["role"]) == ("alice", "member")
    assert alice["project_id"] == await default_project_id(api)

    made = await new_project(api)
    body = {
        "name": "bob",
        "password": "bob-password",
        "project_id": made["project"]["id"],
        "admin": True,
    }
    bob = (await api.post("/users", json=body)).json()
    assert (bob["project_id"], bob["role"]) == (made["project"]["id"], "admin")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"name": "alice", "password": "other-password"}, 409, "conflict", None),
        ({"name": "carol", "password": "short"}, 400, "invalid", "password"),
        ({"name": "carol"}, 400, "invalid", "password"),
        ({"name": "no spaces", "password": "long-enough"}, 400, "invalid", "name"),
        ({"name": "carol", "password": "long-enough", "role": "admin"}, 400, "invalid", "role"),
        ({"name": "carol", "password": "long-enough", "project_id": "nope"}, 404, "not_found",
         None),
    ],
)  # fmt: skip
async def test_user_refusals(
    api: httpx.AsyncClient, body: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    r = await api.post("/users", json={"name": "alice", "password": "alice-password"})
    assert r.status_code == 201, r.text
    assert_error(await api.post("/users", json=body), status, code, field)


async def test_another_projects_admin_may_not_create_users_here(api: httpx.AsyncClient) -> None:
    made = await new_project(api)
    body = {
        "name": "mallory",
        "password": "long-enough",
        "project_id": await default_project_id(api),
    }
    r = await api.post("/users", json=body, headers=as_key(made["api_key"]))
    assert_error(r, 403, "forbidden")
    body.pop("project_id")
    r = await api.post("/users", json=body, headers=as_key(made["api_key"]))
    assert r.status_code == 201 and r.json()["project_id"] == made["project"]["id"]
