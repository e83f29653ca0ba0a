"""The controller when its store goes away in the middle of a pass: the real `Controller` on
a real store, with `FakeBackend` + `FakeClock`; the outage is the driver failing every
statement (SQLAlchemy's own `before_cursor_execute` hook), exactly what the store sees when
its database stops.

A pass that cannot save the handles of the processes it has just started stops them (no
process runs without a record naming it), fails with `TemporaryError`, and once the store is
back the next passes restart the replica after its backoff: one process per replica, never
two.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from tests.controller.test_loop import World, world

from modelport.backends.base import LaunchSpec, Placement
from modelport.backends.fake import FakeBackend
from modelport.domain.auth import Principal
from modelport.domain.errors import TemporaryError
from modelport.domain.replicas import ReplicaState
from modelport.services.secrets import Cipher
from modelport.store import Store


class StoreDiesOnStart(FakeBackend):
    """The first start takes the database away: every statement after it fails, until
    `back()`."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def start(self, spec: LaunchSpec) -> Placement:
        placed = await super().start(spec)
        self.down = len(self.started) == 1
        return placed

    def back(self) -> None:
        self.down = False


@pytest.fixture
def backend() -> StoreDiesOnStart:
    return StoreDiesOnStart()


@pytest.fixture
def outage(store: Store, backend: StoreDiesOnStart) -> Iterator[None]:
    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if backend.down:
            raise OperationalError(statement, None, sqlite3.OperationalError("disk I/O error"))

    event.listen(store.engine.sync_engine, "before_cursor_execute", fail)
    yield
    event.remove(store.engine.sync_engine, "before_cursor_execute", fail)


@pytest.fixture
async def w(
    store: Store, principal: Principal, cipher: Cipher, backend: StoreDiesOnStart, outage: None
) -> AsyncIterator[World]:
    it = world(store, principal, cipher, backend)
    yield it
    await it.controller.applier.drain()


async def test_a_start_whose_handle_cannot_be_saved_is_stopped_then_restarted(
    w: World, backend: StoreDiesOnStart
) -> None:
    svc = await w.deploy(replicas=1)
    with pytest.raises(TemporaryError, match="database unavailable"):
        await w.controller.reconcile()
    assert len(backend.started) == 1
    await w.controller.applier.drain()
    assert backend.alive() == []  # stopped: no record holds its handle

    backend.back()
    await w.controller.reconcile()  # sees the replica gone: failed, backoff
    (r,) = await w.replicas(svc.id)
    assert (r.state, r.handle, r.failures) == (ReplicaState.FAILED, None, 1)
    w.clock.advance(1.0)  # CONFIG's backoff_base
    await w.controller.reconcile()
    (r,) = await w.replicas(svc.id)
    assert r.state == ReplicaState.STARTING and r.restarts == 1
    assert [p.handle for p in backend.alive()] == [r.handle]  # one process, named
