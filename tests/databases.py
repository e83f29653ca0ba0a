"""The test databases: which kinds the suite runs on, and statements on the PostgreSQL server
(creating and dropping each test's database). Shared by tests/conftest.py and the fixtures
that keep one database per module (tests/security/conftest.py)."""

from __future__ import annotations

import os

import asyncpg  # type: ignore[import-untyped]

DATABASE_ENV = "MODELPORT_TEST_DATABASE_URL"
DATABASES = ["sqlite", "postgresql"] if os.environ.get(DATABASE_ENV) else ["sqlite"]


async def run_statement(dsn: str, statement: str) -> None:
    """Run one statement on the server at `dsn` (CREATE/DROP DATABASE run outside a
    transaction)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
