"""`Store`: the engine, its transactions, and the migrations applied at open.

SQLite runs in WAL mode with foreign keys on; write transactions start with `BEGIN
IMMEDIATE` and are serialised in-process by a lock, so two writers never deadlock on a lock
upgrade. PostgreSQL uses asyncpg. Database errors are translated here, once:
a unique-constraint violation or a stale revision becomes `Conflict`; a database that cannot
be reached (connection refused, starting up, shutting down), a lost connection, a lock
timeout or a deadlock become `TemporaryError`, which the API answers with 503 and the
controller's loop retries at its next pass. A pool connection that died while idle is
replaced before use (`pool_pre_ping`), so once the database is back the next transaction
works, without a restart.

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
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm.exc import StaleDataError

from modelport.domain.errors import Conflict, Invalid, TemporaryError
from modelport.domain.runtimes import Runtime
from modelport.store.tx import Tx

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"

CONNECT_TIMEOUT = 10.0  # seconds; an unreachable host is a 503, not a hang
# SQLSTATE classes worth a retry: connection exceptions, insufficient resources (too many
# connections), operator intervention (shutdown, starting up, statement cancelled); and the
# transactions the server aborted for a race: serialization failure, deadlock
_TRANSIENT = ("08", "53", "57")
_ABORTED = ("40001", "40P01")
# SQLSTATE class 22, data exception: a NUL in a text, a number out of range, a text too long
# (the edges check these, naming the field; this is the net under them)
_DATA = "22"


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
        # statement parameters hold secrets (a deployment's env): never in logs or errors
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["connect_args"] = {"timeout": CONNECT_TIMEOUT}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine)
            logging.getLogger("aiosqlite").addFilter(_NO_ARGUMENTS)
        else:
            _unreachable_is_temporary(self.engine)
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
        # translated outermost: a failed connect, statement or commit alike
        async with _translated(), self._reader() as session, session.begin():
            yield Tx(session)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        lock = self._write_lock or contextlib.nullcontext()
        async with lock, _translated(), self._writer() as session, session.begin():
            yield Tx(session)


@contextlib.asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except StaleDataError as exc:
        raise Conflict("the object was changed by someone else; read it again") from exc
    except IntegrityError as exc:
        raise Conflict(f"conflicts with an existing object: {exc.orig}") from exc
    except PoolTimeout as exc:  # every pooled connection busy for `pool_timeout` (30 s)
        raise TemporaryError("database busy: no connection free", delay=1.0) from exc
    except OperationalError as exc:  # SQLite: "database is locked" past busy_timeout
        raise TemporaryError(f"database unavailable: {exc.orig}", delay=1.0) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise TemporaryError("database connection lost", delay=1.0) from exc
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if sqlstate.startswith(_TRANSIENT):
            raise TemporaryError(f"database unavailable: {exc.orig}", delay=1.0) from exc
        if sqlstate.startswith(_ABORTED):
            raise TemporaryError(f"transaction aborted, retry: {exc.orig}", delay=1.0) from exc
        if sqlstate.startswith(_DATA):  # a value the column cannot hold: bad input
            raise Invalid("value", f"the database cannot hold a value: {exc.orig}") from exc
        raise


def _unreachable_is_temporary(engine: AsyncEngine) -> None:
    """A refused or timed-out connect raises the driver's `OSError` untranslated by
    SQLAlchemy; only there (not in a transaction's own code) is it the database's absence."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:
            raise TemporaryError(f"database unavailable: {exc}", delay=1.0) from exc


class _NoArguments(logging.Filter):
    """aiosqlite logs each call at DEBUG with its arguments: the statement's parameters,
    which hold secrets. Keep the record, name only the function called."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_called(a) for a in record.args)
        return True


def _called(arg: object) -> object:
    func = getattr(arg, "func", None)  # a functools.partial: drop its arguments
    return getattr(func, "__qualname__", repr(func)) if func is not None else arg


_NO_ARGUMENTS = _NoArguments()


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
