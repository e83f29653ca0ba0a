"""Bad input the fuzzers found (tests/fuzz), pinned: each is a 4xx naming its field, never a 500.

On SQLite a number past 64 bits overflowed the driver; on PostgreSQL a NUL character in any
text, or an integer past 32 bits, made the database refuse the statement; a JSON `Infinity`
was stored and read back as `null`; a path over the file-name limit or `~nobody` raised from
the file system. Each ran into the catch-all 500. Every case runs on each test database.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

COMMAND = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]


def invalid(r: httpx.Response, field: str) -> None:
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid", field), error


def service(**deployment: Any) -> dict[str, Any]:
    dep = {"runtime": "command", "command": COMMAND, "replicas": 0, **deployment}
    return {"name": "s", "deployments": [dep]}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/runtimes", b'{"name": "r", "command": ["x"], "request_cpu": Infinity}', "request_cpu"),
        ("/runtimes", b'{"name": "r", "command": ["x"], "request_cpu": NaN}', "request_cpu"),
        ("/services", b'{"name": "s", "deployments": [{"grace_period": NaN}]}', None),
    ],
)
async def test_nan_and_infinity_are_refused(
    api: httpx.AsyncClient, path: str, body: bytes, field: str | None
) -> None:
    r = await api.post(path, content=body, headers={"Content-Type": "application/json"})
    invalid(r, field or "deployments[0].grace_period")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/runtimes", {"name": "r", "command": ["x"], "request_memory": 10**30}, "request_memory"),
        ("/runtimes", {"name": "r", "command": ["x"], "gpu": 2**63}, "gpu"),
        ("/runtimes", {"name": "r", "command": ["x"], "gpu": 2**31}, "gpu"),
        ("/services", service(memory=2**70), "deployments[0].memory"),
        ("/services", service(cpu=1e300), "deployments[0].cpu"),
    ],
)
async def test_numbers_past_what_the_database_holds_are_refused(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    invalid(await api.post(path, json=body), field)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/models", {"name": "m", "description": "a\x00b"}, "description"),
        ("/services", {**service(), "tags": {"k\x00": "v"}}, "tags"),
        ("/services", service(env={"A": "\x00"}), "deployments[0].env"),
        ("/access-keys", {"project_id": "\x00"}, "project_id"),
    ],
)
async def test_a_nul_character_in_a_body_is_refused(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    invalid(await api.post(path, json=body), field)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("name__like=%25%00", "name"),
        ("tag:a%00=1", "tag:a\x00"),
        ("progress=99999999999999999999999", "progress"),
        ("invocation_count__lt=-2147483649", "invocation_count"),
        ("offset=1014402511561384461768589312", "offset"),
        ("offset=2147483648", "offset"),
    ],
)
async def test_bad_list_parameters_are_refused(
    api: httpx.AsyncClient, query: str, field: str
) -> None:
    invalid(await api.get(f"/services?{query}"), field)


async def test_a_path_id_with_a_nul_character_names_nothing(api: httpx.AsyncClient) -> None:
    r = await api.get("/services/svc-%00")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await api.delete("/models/a%00")
    assert r.status_code == 404


@pytest.mark.parametrize("uri", ["/" + "a" * 300, "~nobody-at-all/model.joblib"])
async def test_an_unreadable_model_path_is_bad_input(api: httpx.AsyncClient, uri: str) -> None:
    invalid(await api.post("/models", json={"name": "m", "uri": uri}), "uri")
