"""The `api` fixture: the whole server app in-process (httpx.ASGITransport, lifespan run) on
the test's fresh database, called as the default project's admin; `api_store`: that app's
store, for tests that write what the API only reads (the gateway's request stats)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from tests.ports import free_port

from modelport.config import Settings
from modelport.server import build
from modelport.store import Store


@pytest.fixture
async def app(tmp_path: Path, database_url: str) -> AsyncIterator[Starlette]:
    settings = Settings(home=tmp_path / "home", database_url=database_url, gateway_port=free_port())
    app = build(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(app: Starlette, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    key = json.loads((tmp_path / "home" / "credentials").read_text())["api_key"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test/api/v1",
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        yield client


@pytest.fixture
def api_store(app: Starlette) -> Store:
    store: Store = app.state.stack.store
    return store
