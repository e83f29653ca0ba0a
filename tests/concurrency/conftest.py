"""Fixtures of the concurrency tests: a real `modelport serve` process on the test's own
database (SQLite, and PostgreSQL too when `MODELPORT_TEST_DATABASE_URL` is set), driven over
real sockets by many clients at once.

`server` is the e2e `Serve` (tests/e2e/conftest.py): a subprocess with its own home, stopped
in teardown, which also checks that no replica process is left.
"""

from __future__ import annotations

import pytest
from tests.e2e.conftest import Serve, serve_factory  # noqa: F401 - a fixture


@pytest.fixture
def server(database_url: str, serve_factory) -> Serve:  # noqa: F811 - the imported fixture
    """A started server on `database_url` (requested first: dropped after the server stops)."""
    serve: Serve = serve_factory(MODELPORT_DATABASE_URL=database_url, MODELPORT_LOG_LEVEL="warning")
    serve.start()
    return serve
