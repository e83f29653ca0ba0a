"""The `api` fixture: the whole server app in-process (httpx.ASGITransport, lifespan run) on
the test's fresh database, called as the default project's admin."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from modelport.config import Settings
from modelport.server import build


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = build(Settings(home=tmp_path / "home", database_url=database_url))
    async with app.router.lifespan_context(app):
        key = json.loads((tmp_path / "home" / "credentials").read_text())["api_key"]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test/api/v1",
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            yield client
