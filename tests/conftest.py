"""Fixtures shared by every test folder: a fresh database, an opened store, a caller, a cipher.

- `database_url`: a fresh database per test: an empty SQLite file in `tmp_path`; and when
  `MODELPORT_TEST_DATABASE_URL` names a PostgreSQL server (CI sets it), every such test runs a
  second time on a uniquely named database created there for the test (through an admin
  connection to that URL, cloned from a template migrated once per session) and dropped
  afterwards. `Store.open` works on either.
- `store`: a `Store` on that database, migrated and seeded with the built-in runtimes.
- `principal`: the admin of the default project, bootstrapped the way the server does it.
- `cipher`: a `Cipher` under a fresh key.

An autouse guard fails any async test that leaves asyncio tasks pending behind it (kopf's
`_no_asyncio_pending_tasks`): a task nobody awaits is a leak or a race in the code under test.
Another puts the test thread back on the default CPU policy after a test that ran a server
in-process (its gateway switches the thread to SCHED_BATCH), so that processes later tests
start do not inherit it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy.engine import make_url
from tests.databases import DATABASE_ENV, DATABASES, run_statement

from modelport.domain.auth import Principal
from modelport.runtimes.catalog import BUILTIN
from modelport.services.auth import authenticate, bootstrap
from modelport.services.secrets import Cipher
from modelport.store import Store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs two pytest-xdist workers (`--dist loadgroup`): the e2e tests, which
    start servers, replicas and load with timing-bound faults, all go to one of them, one at a
    time as before, while the other runs the rest."""
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[tuple[str, str] | None]:
    """On PostgreSQL: (admin URL, name of a database migrated once for the whole session).

    Every test's database is cloned from it (`CREATE DATABASE … TEMPLATE`), which is faster
    than migrating each one; the migration from an empty database still runs here, through
    `Store.open` like a server's first start.
    """
    server = os.environ.get(DATABASE_ENV, "")
    if not server:
        yield None
        return
    admin = make_url(server).set(drivername="postgresql")
    if admin.get_backend_name() != "postgresql":
        pytest.fail(f"{DATABASE_ENV} must be a postgresql:// URL, not {server!r}")
    admin_dsn = admin.render_as_string(hide_password=False)
    name = f"mp_template_{secrets.token_hex(6)}"

    async def migrate() -> None:
        await run_statement(admin_dsn, f'CREATE DATABASE "{name}"')
        template = Store(admin.set(database=name).render_as_string(hide_password=False))
        try:
            await template.open()
        finally:
            await template.close()

    asyncio.run(migrate())
    try:
        yield admin_dsn, name
    finally:
        asyncio.run(run_statement(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=DATABASES)
async def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _postgres_template: tuple[str, str] | None,
) -> AsyncIterator[str]:
    """A fresh database of this test's own: an empty SQLite file, or on PostgreSQL a new
    database cloned from the session's migrated template (dropped afterwards)."""
    if request.param == "sqlite" or _postgres_template is None:
        yield f"sqlite:///{tmp_path / 'modelport.db'}"
        return
    admin_dsn, template = _postgres_template
    name = f"mp_{secrets.token_hex(8)}"
    await run_statement(admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield make_url(admin_dsn).set(database=name).render_as_string(hide_password=False)
    finally:
        await run_statement(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = Store(database_url)
    await s.open(BUILTIN)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def principal(store: Store) -> Principal:
    """The admin of the default project (its key created by `bootstrap`, resolved as a caller)."""
    boot = await bootstrap(store, None)
    assert boot.admin_key is not None
    return await authenticate(store, f"Bearer {boot.admin_key}")


@pytest.fixture
def cipher() -> Cipher:
    return Cipher(Cipher.new_key())


@pytest.fixture(autouse=True)
def _default_cpu_policy() -> Iterator[None]:
    yield
    if hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


@pytest.fixture(autouse=True)
async def _no_pending_tasks() -> AsyncIterator[None]:
    """Fail the test if it leaves asyncio tasks pending that were not there before it.

    Set up first and torn down last, so fixtures (stores, backends) have been closed when it
    looks. One `sleep(0)` lets tasks that have just finished run their done-callbacks.
    """
    current = asyncio.current_task()
    before = {t for t in asyncio.all_tasks() if t is not current}
    yield
    await asyncio.sleep(0)
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not current and t not in before and not t.done()]
    if left:
        message = f"the test left {len(left)} asyncio task(s) pending: {left!r}"
        for t in left:
            t.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        pytest.fail(message)


@pytest.fixture(autouse=True, scope="session")
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis's caches (constants, Unicode tables) go to a temporary folder, not to a
    `.hypothesis` folder in the repository; tests pass `database=None` to keep no examples."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)
