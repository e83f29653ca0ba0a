"""`modelport projects|keys|users …` through `typer.testing.CliRunner`, against a real server.

The local `server` fixture runs `modelport.server.build(...)` under uvicorn in a background
thread on a free port (these commands start no replicas); commands get `--url`/`--api-key`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from tests.ports import free_port
from typer.testing import CliRunner, Result

from modelport.cli.main import app
from modelport.config import Settings
from modelport.server import build

DEADLINE = 30.0


@dataclass
class Running:
    url: str
    api_key: str
    runner: CliRunner

    def run(self, *args: str, api_key: str | None = None, input: str | None = None) -> Result:
        """`modelport --url … --api-key … ARGS`; unexpected exceptions propagate."""
        argv = ["--url", self.url, "--api-key", api_key or self.api_key, *args]
        result = self.runner.invoke(app, argv, input=input, env={"COLUMNS": "250"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def json(self, *args: str, api_key: str | None = None) -> Any:
        """`modelport -o json ARGS`, which must succeed and print only JSON on stdout."""
        result = self.run("-o", "json", *args, api_key=api_key)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    for var in ("MODELPORT_URL", "MODELPORT_API_KEY", "MODELPORT_HOME"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    settings = Settings(home=home, port=free_port(), gateway_port=free_port())
    config = uvicorn.Config(
        build(settings), host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="modelport-server")
    thread.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while not srv.started:
            assert thread.is_alive(), "the server exited during startup"
            assert time.monotonic() < deadline, "the server did not start"
            thread.join(timeout=0.02)
        creds = json.loads((home / "credentials").read_text())
        yield Running(creds["url"], creds["api_key"], CliRunner())
    finally:
        srv.should_exit = True
        thread.join(timeout=DEADLINE)
        assert not thread.is_alive(), "the server did not stop"


# -- projects -------------------------------------------------------------------------------
def test_projects_create_and_list(server: Running) -> None:
    result = server.run("projects", "create", "team")
    assert result.exit_code == 0, result.output
    assert "team" in result.stdout
    assert "mp_" in result.stdout  # the new project's admin API key
    assert "shown only now" in result.stdout

    made = server.json("projects", "create", "lab")
    assert set(made) == {"project", "api_key"}
    assert made["project"]["name"] == "lab"

    page = server.json("projects", "list")
    assert sorted(p["name"] for p in page["data"]) == ["default", "lab", "team"]
    table = server.run("projects", "list")
    assert table.exit_code == 0, table.output
    assert made["project"]["id"] in table.stdout and "default" in table.stdout

    theirs = server.json("projects", "list", api_key=made["api_key"])
    assert theirs == {"data": [made["project"]], "total": 1}


def test_only_the_installation_admin_creates_projects(server: Running) -> None:
    made = server.json("projects", "create", "team")
    result = server.run("projects", "create", "mine", api_key=made["api_key"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error:" in result.stderr

    result = server.run("-o", "json", "projects", "create", "team")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "conflict"


# -- keys -----------------------------------------------------------------------------------
def test_keys_create_prints_exactly_the_key_as_json(server: Running) -> None:
    key = server.json("keys", "create")
    assert list(key) == ["access_key_id", "access_key_secret", "project_id"]
    assert key["access_key_id"].startswith("AK")
    assert key["access_key_secret"]
    default = [p for p in server.json("projects", "list")["data"] if p["name"] == "default"]
    assert key["project_id"] == default[0]["id"]


def test_keys_create_list_delete(server: Running) -> None:
    result = server.run("keys", "create")
    assert result.exit_code == 0, result.output
    assert "access_key_secret" in result.stdout and "shown only now" in result.stdout
    member = server.json("keys", "create", "--member")

    page = server.json("keys", "list")
    assert page["total"] == 2
    assert {"access_key_id": member["access_key_id"]} in page["data"]
    table = server.run("keys", "list")
    assert member["access_key_id"] in table.stdout

    gone = server.json("keys", "delete", member["access_key_id"])
    assert gone == {"id": member["access_key_id"], "deleted": True}
    assert server.json("keys", "list")["total"] == 1
    result = server.run("keys", "delete", member["access_key_id"])
    assert result.exit_code == 1
    assert "error:" in result.stderr and "not found" in result.stderr


def test_keys_create_in_another_project(server: Running) -> None:
    made = server.json("projects", "create", "team")
    team_id = made["project"]["id"]
    key = server.json("keys", "create", "--project", team_id)
    assert key["project_id"] == team_id
    assert server.json("keys", "list")["total"] == 0
    listed = server.json("keys", "list", api_key=made["api_key"])
    assert listed["data"] == [{"access_key_id": key["access_key_id"]}]

    result = server.run("-o", "json", "keys", "create", "--project", "nope")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "not_found"


# -- users ----------------------------------------------------------------------------------
def test_users_create(server: Running) -> None:
    result = server.run("users", "create", "alice", "--password", "alice-password")
    assert result.exit_code == 0, result.output
    assert "alice" in result.stdout and "member" in result.stdout
    assert "alice-password" not in result.stdout

    made = server.json("projects", "create", "team")
    bob = server.json(
        "users", "create", "bob", "--password", "bob-password",
        "--project", made["project"]["id"], "--admin",
    )  # fmt: skip
    assert set(bob) == {"id", "name", "project_id", "role"}
    assert (bob["name"], bob["project_id"], bob["role"]) == ("bob", made["project"]["id"], "admin")


def test_users_create_asks_for_the_password(server: Running) -> None:
    result = server.run("users", "create", "carol", input="carol-password\n")
    assert result.exit_code == 0, result.output
    assert "carol-password" not in result.output  # the input is hidden
    assert "carol" in result.stdout


def test_users_create_refusals(server: Running) -> None:
    result = server.run("users", "create", "dave", "--password", "short")
    assert result.exit_code == 1
    assert "error: password:" in result.stderr

    assert server.run("users", "create", "erin", "--password", "erin-password").exit_code == 0
    result = server.run("-o", "json", "users", "create", "erin", "--password", "erin-password")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "conflict"
