"""`Store`: the engine, its transactions, and the migrations applied at open.

SQLite runs in WAL mode with foreign keys on; write transactions start with `BEGIN
IMMEDIATE` and are serialised in-process by a lock, so two writers never deadlock on a lock
upgrade. PostgreSQL uses asyncpg. Database errors are translated here, once:
a unique-constraint violation or a stale revision becomes `Conflict`, a lost connection
`TemporaryError`.

Concurrency contract: one `Store` per process, shared by every task; each `read()` /
`write()` is its own session and transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm.exc import StaleDataError

from modelport.domain.errors import Conflict, TemporaryError
from modelport.domain.runtimes import Runtime
from modelport.store.tx import Tx

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """Pick the async driver for a plain URL (`sqlite:///…`, `postgresql://…`)."""
    u = make_url(url)
    if u.drivername in {"sqlite", "sqlite+pysqlite"}:
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in {"postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"}:
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


class Store:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine)
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = async_sessionmaker(
            self.engine.execution_options(modelport_write=True), expire_on_commit=False
        )
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    async def open(self, builtin_runtimes: tuple[Runtime, ...] = ()) -> None:
        """Apply migrations (idempotent) and seed the built-in runtimes."""
        if self.is_sqlite:
            db = make_url(self.url).database
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)
        if builtin_runtimes:
            async with self.write() as tx:
                await tx.runtimes.sync_builtin(builtin_runtimes)

    async def close(self) -> None:
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self._reader() as session, session.begin(), _translated():
            yield Tx(session)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        lock = self._write_lock or contextlib.nullcontext()
        async with lock, self._writer() as session, _translated(), session.begin():
            yield Tx(session)


@contextlib.asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except StaleDataError as exc:
        raise Conflict("the object was changed by someone else; read it again") from exc
    except IntegrityError as exc:
        raise Conflict(f"conflicts with an existing object: {exc.orig}") from exc
    except OperationalError as exc:
        raise TemporaryError(f"database unavailable: {exc.orig}", delay=1.0) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise TemporaryError("database connection lost", delay=1.0) from exc
        raise


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("modelport_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _upgrade(conn: Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
