"""The gateway's two conversations with the store, both off the request path: flushing counts
(and load reports, for the autoscaler) in batches, and (for a gateway in its own process)
following routing changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable

from modelport.domain.errors import ModelportError
from modelport.domain.stats import LoadReport
from modelport.gateway.metrics import Recorder
from modelport.gateway.routing import Router
from modelport.store import Store

log = logging.getLogger(__name__)

KEEP_MINUTES = 60  # request stats older than this are deleted
KEEP_LOAD = 300.0  # seconds load reports are kept (far more than any autoscaling window)
NAME = f"{socket.gethostname()}:{os.getpid()}"  # this process, in its load reports


async def flush(store: Store, recorder: Recorder, load: LoadReport | None = None) -> None:
    """Write the counts since the last flush, and the load report if given, in one
    transaction; on failure the counts are kept for the next flush, so none is lost or counted
    twice (a lost load report only leaves the autoscaler a shorter window)."""
    batch = recorder.drain()
    if not batch and load is None:
        return
    try:
        async with store.write() as tx:
            if batch:
                await tx.traffic.record(batch)
                await tx.traffic.prune(int(time.time()) // 60 - KEEP_MINUTES)
            if load is not None:
                now = time.time()
                await tx.load.record(NAME, now, load)
                await tx.load.prune(now - KEEP_LOAD)
    except ModelportError:
        recorder.restore(batch)
        raise


class Follower:
    """Keeps a separate gateway's `Router` current: checks the routing generation every
    `interval` seconds (one small read) and reloads the routes only when it moved; flushes
    the counts (and publishes the running totals) every `flush_every` seconds."""

    def __init__(
        self,
        store: Store,
        router: Router,
        recorder: Recorder,
        interval: float = 0.25,
        flush_every: float = 1.0,
        publish: Callable[[], None] | None = None,
        load: Callable[[], LoadReport | None] = lambda: None,
    ) -> None:
        self.store = store
        self.router = router
        self.recorder = recorder
        self.load = load  # the plane's `load_report`
        self.interval = interval
        self.flush_every = flush_every
        self.publish = publish  # shares this worker's running totals with its siblings
        self.generation = -1

    async def sync(self) -> None:
        """Reload the routes if the control plane changed them since the last sync."""
        async with self.store.read() as tx:
            generation = await tx.traffic.generation()
        if generation != self.generation:
            await self.router.refresh()
            self.generation = generation

    async def run(self) -> None:
        last_flush = time.monotonic()
        while True:
            try:
                await self.sync()
                if time.monotonic() - last_flush >= self.flush_every:
                    last_flush = time.monotonic()
                    if self.publish is not None:
                        self.publish()
                    await flush(self.store, self.recorder, self.load())
            except ModelportError as exc:  # the store is away: serve the last routes, retry
                log.warning("gateway cannot reach the store: %s", exc.message)
            await asyncio.sleep(self.interval)
