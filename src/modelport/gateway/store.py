"""The gateway's two conversations with the store, both off the request path: flushing counts
in batches, and (for a gateway in its own process) following routing changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from modelport.domain.errors import ModelportError
from modelport.gateway.metrics import Recorder
from modelport.gateway.routing import Router
from modelport.store import Store

log = logging.getLogger(__name__)

KEEP_MINUTES = 60  # request stats older than this are deleted


async def flush(store: Store, recorder: Recorder) -> None:
    """Write the counts since the last flush in one transaction; on failure they are kept for
    the next flush, so none is lost or counted twice."""
    batch = recorder.drain()
    if not batch:
        return
    try:
        async with store.write() as tx:
            await tx.traffic.record(batch)
            await tx.traffic.prune(int(time.time()) // 60 - KEEP_MINUTES)
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
    ) -> None:
        self.store = store
        self.router = router
        self.recorder = recorder
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
                    await flush(self.store, self.recorder)
            except ModelportError as exc:  # the store is away: serve the last routes, retry
                log.warning("gateway cannot reach the store: %s", exc.message)
            await asyncio.sleep(self.interval)
