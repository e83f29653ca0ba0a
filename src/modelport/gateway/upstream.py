"""Keep-alive HTTP/1.1 connections to replicas, parsed with httptools.

A `Connection` carries one exchange at a time: `send()` writes a whole request (the gateway
buffers request bodies, as nginx does by default) and the response is handed, as it arrives,
to a `Sink` — the head, then each body chunk, then the end. Nothing is awaited per chunk, so a
streamed answer (server-sent events) reaches the caller as soon as the replica sends it.

`Pool` keeps idle connections per replica address; a connection the replica closes while
idle leaves the pool at once (`connection_lost`).

Failures reach the sink as `UpstreamError`, which says whether the replica may have seen the
request (`sent`), so the caller knows when a retry is safe.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Protocol, cast

import httptools

MAX_IDLE_PER_REPLICA = 64


class UpstreamError(Exception):
    """The exchange with a replica failed before its response ended.

    `sent`: the request may have reached the replica's application. `answered`: part of the
    response arrived (then it has been passed on and nothing can be retried). `refused`: no
    connection could be made at all.
    """

    def __init__(
        self, reason: str, *, sent: bool, answered: bool = False, refused: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent
        self.answered = answered
        self.refused = refused


class Sink(Protocol):
    """Receives one response."""

    def head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...

    def body(self, data: bytes) -> None: ...

    def end(self) -> None: ...

    def fail(self, error: UpstreamError) -> None: ...

    def received(self) -> None:
        """The callbacks for one read from the replica are done."""


class Connection(asyncio.Protocol):
    def __init__(self, pool: Pool, address: str) -> None:
        self.pool = pool
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink: Sink | None = None
        self.reused = False  # this exchange is not the connection's first
        self._answered = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_only = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pool.forget(self)
        sink, self.sink = self.sink, None
        if sink is not None:
            reason = f"replica at {self.address} closed the connection"
            if exc is not None:
                reason += f" ({exc})"
            # on a kept-alive connection, a close before any answer usually means the replica
            # closed it as idle while the request was on its way: it was not processed
            sent = self._answered or not self.reused
            sink.fail(UpstreamError(reason, sent=sent, answered=self._answered))

    def data_received(self, data: bytes) -> None:
        self._answered = True
        sink = self.sink
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.sink = None
            self.abort()
            if sink is not None:
                sink.fail(UpstreamError(f"bad HTTP from {self.address}: {exc}", sent=True))
            return
        if sink is not None:
            sink.received()

    def pause_reading(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    # the exchange

    def send(self, request: bytes, sink: Sink, *, head_only: bool = False) -> None:
        assert self.transport is not None and self.sink is None
        self.sink = sink
        self._answered = False
        self._head_only = head_only
        self.transport.write(request)

    def abort(self) -> None:
        """Drop the connection (a timeout, or a caller gone mid-answer)."""
        self.sink = None
        if self.transport is not None:
            self.transport.abort()

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        headers, self._headers = self._headers, []
        status = self.parser.get_status_code()
        if status < 200:  # 1xx interim answers are not passed on
            return
        if self.sink is not None:
            self.sink.head(status, headers)
        if self._head_only:  # the answer to HEAD has no body, whatever its headers say
            self._finish(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.body(body)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() >= 200:
            self._finish(self.parser.should_keep_alive())

    def _finish(self, keep_alive: bool) -> None:
        sink, self.sink = self.sink, None
        if keep_alive and self.transport is not None:
            self.reused = True
            self.pool.release(self)
        elif self.transport is not None:
            self.transport.close()
        if sink is not None:
            sink.end()


class Pool:
    def __init__(self, connect_timeout: float = 5.0) -> None:
        self.connect_timeout = connect_timeout
        self._idle: dict[str, list[Connection]] = defaultdict(list)

    def take(self, address: str) -> Connection | None:
        """An idle connection to `address`, if there is one."""
        idle = self._idle.get(address)
        while idle:
            conn = idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    async def connect(self, address: str) -> Connection:
        """A new connection to `address`; raises `UpstreamError` (refused, nothing sent)."""
        host, _, port = address.rpartition(":")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: Connection(self, address), host, int(port)
                )
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc) or type(exc).__name__
            raise UpstreamError(
                f"cannot connect to {address}: {reason}", sent=False, refused=True
            ) from exc
        return conn

    def release(self, conn: Connection) -> None:
        idle = self._idle[conn.address]
        if len(idle) < MAX_IDLE_PER_REPLICA:
            idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def forget(self, conn: Connection) -> None:
        idle = self._idle.get(conn.address)
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()
