"""One call through the gateway, from the first attempt to the last byte of the answer.

An `Exchange` is driven by callbacks: the replica connection's parser calls it (`head`,
`body`, `end`, `fail`: it is the connection's `Sink`) and it writes straight to the caller's
transport. The common call (an idle pooled connection to the picked replica) runs without a
task, a future or a coroutine; only opening a new connection runs as a task. This keeps the
gateway's CPU per call near the cost of the four socket operations it needs.

Attempts: a replica that refused the connection is marked down and another is tried; one that
failed before answering is tried again elsewhere when the call may be repeated (the
service's `traffic.retry`, or an idempotent method). Once a byte of the answer went out,
nothing is retried: the caller's connection is closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from modelport.domain.errors import ModelportError, Overloaded, Unavailable, UpstreamTimeout
from modelport.gateway.balancer import Pick
from modelport.gateway.errors import BadGateway, status_of
from modelport.gateway.http import Client, Request, status_line
from modelport.gateway.routing import Route
from modelport.gateway.upstream import Connection, UpstreamError

if TYPE_CHECKING:
    from modelport.gateway.plane import DataPlane

ErrorWriter = Callable[[Client, Request, ModelportError, int], None]
BodyFor = Callable[[Pick], bytes]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE"})
FLUSH_AT = 64 * 1024  # bytes of a sized answer held before they go out


class Exchange:
    __slots__ = (
        "address",
        "answered",
        "attempts",
        "begun",
        "body_for",
        "chunked",
        "client",
        "closes",
        "conn",
        "deadline",
        "deployment",
        "error",
        "held",
        "live",
        "out",
        "payload",
        "plane",
        "preamble",
        "request",
        "route",
        "status",
        "tried",
        "write_error",
    )

    def __init__(
        self,
        plane: DataPlane,
        request: Request,
        client: Client,
        route: Route,
        head: bytes,
        write_error: ErrorWriter,
        body_for: BodyFor | None,
    ) -> None:
        self.plane = plane
        self.request = request
        self.client = client
        self.route = route
        self.preamble = head  # request line and headers, no Content-Length, no blank line
        self.write_error = write_error
        self.body_for = body_for
        self.begun = time.perf_counter()
        self.tried: list[str] = []
        self.attempts = 0
        self.error: ModelportError | None = None
        self.deployment = ""
        self.address = ""
        self.payload = b""
        self.conn: Connection | None = None
        self.live = False  # an attempt is under way
        self.deadline = 0.0  # loop time by which the attempt's answer must have begun
        self.answered = False  # a byte of the answer went to the caller
        self.chunked = False
        self.closes = False
        self.status = 0
        self.out: list[bytes] = []  # answer bytes not yet written to the caller
        self.held = 0  # their length

    # attempts

    def start(self) -> None:
        self.plane.recorder.started(self.route.service_id)
        self.plane.active.add(self)
        self._attempt()

    def _attempt(self) -> None:
        plane = self.plane
        if self.attempts >= plane.attempts:
            return self._give_up()
        self.attempts += 1
        try:
            pick = plane.balancer.pick(self.route, self.request.client, self.tried)
        except Unavailable as exc:  # none left to try, or all at their limit
            if self.error is None or isinstance(exc, Overloaded):
                self.error = exc
            return self._give_up()
        self.deployment, self.address = pick
        self.payload = self.body_for(pick) if self.body_for is not None else self.request.body
        plane.balancer.started(self.address)
        self.live = True
        self.deadline = asyncio.get_running_loop().time() + self.route.traffic.timeout
        conn = plane.pool.take(self.address)
        if conn is not None:
            self._send(conn)
        else:
            plane.spawn(self._connect())

    async def _connect(self) -> None:
        try:
            conn = await self.plane.pool.connect(self.address)
        except UpstreamError as exc:
            return self.fail(exc)
        if self.live:
            self._send(conn)
        else:  # the call ended meanwhile (the gateway is closing)
            self.plane.pool.release(conn)

    def _send(self, conn: Connection) -> None:
        self.conn = conn
        self.status = 0
        self.chunked = self.closes = False
        length = b"content-length: %d\r\n\r\n" % len(self.payload)
        data = self.preamble + length + self.payload
        conn.send(data, self, head_only=self.request.method == b"HEAD")
        self.client.feeding = conn

    def _attempt_over(self) -> None:
        self.live = False
        self.conn = None
        self.plane.balancer.finished(self.address)

    def check(self, now: float) -> None:
        """Time the attempt out if its replica has not begun to answer by the deadline
        (called by the plane's sweep, a few times a second, for every call in flight)."""
        if self.live and not self.answered and now >= self.deadline:
            self._time_out()

    def _time_out(self) -> None:
        """No answer in time: the replica may hang; try another when the call may repeat."""
        if self.conn is not None:
            self.conn.abort()
        self._attempt_over()
        timeout = self.route.traffic.timeout
        self.error = UpstreamTimeout(f"no answer from the replica in {timeout:g}s")
        self.plane.balancer.mark_down(self.address)  # as nginx's max_fails counts a timeout
        self.tried.append(self.address)
        if not self._may_repeat() or self.client.gone:
            return self._give_up()
        self.plane.recorder.retried(self.route.service_id)
        self._attempt()

    def _may_repeat(self) -> bool:
        return self.route.traffic.retry or self.request.method in IDEMPOTENT

    def _give_up(self) -> None:
        assert self.error is not None
        self._finish(failed=True)
        if self.answered:  # part of an answer went out: cut it short
            self.client.close()
            return self.client.done(keep_alive=False)
        request = self.request
        self.write_error(self.client, request, self.error, status_of(self.error))
        self.client.done(request.keep_alive)

    def _finish(self, failed: bool) -> None:
        seconds = time.perf_counter() - self.begun
        self.plane.recorder.finished(self.route.service_id, self.deployment, failed, seconds)
        self.plane.finished(self)

    # the replica's answer (Sink)

    def head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.answered = True
        self.status = status
        lines = [status_line(status)]
        sized = False
        for name, value in headers:
            low = name.lower()
            if low in HOP_BY_HOP:
                if low == b"connection" and b"close" in value.lower():
                    self.closes = True
                continue
            sized = sized or low == b"content-length"
            lines += [name, b": ", value, b"\r\n"]
        bodyless = self.request.method == b"HEAD" or status in (204, 304)
        if not sized and not bodyless:
            self.chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
        if not self.request.keep_alive or self.closes:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        self.out.append(b"".join(lines))
        if self.chunked:  # a stream: its head goes out now, not with the first event
            self.flush()

    def body(self, data: bytes) -> None:
        if self.chunked:
            self.out += [b"%x\r\n" % len(data), data, b"\r\n"]
        else:
            self.out.append(data)
        self.held += len(data)

    def end(self) -> None:
        if not self.live:
            return
        if self.chunked:
            self.out.append(b"0\r\n\r\n")
        self.flush()
        if not self.live:  # the caller left while the answer was on its way
            return
        self._attempt_over()
        self._finish(failed=self.status >= 500)
        self.client.done(self.request.keep_alive and not self.closes)

    def fail(self, error: UpstreamError) -> None:
        if not self.live:
            return
        self.flush()
        if not self.live:  # the caller left: `flush` has ended the call
            return
        self._attempt_over()
        if error.refused:  # the replica is not there: pass it over for a while
            self.plane.balancer.mark_down(self.address)
        if error.refused or error.sent:
            self.tried.append(self.address)
        # else a kept-alive connection the replica had just closed: the same replica will do
        self.error = BadGateway(error) if error.sent else Unavailable(error.reason)
        may_repeat = self._may_repeat()
        if error.answered or self.answered or (error.sent and not may_repeat) or self.client.gone:
            return self._give_up()
        self.plane.recorder.retried(self.route.service_id)
        self._attempt()

    def received(self) -> None:
        """Pass on what one read from the replica brought: at once for a stream; a sized answer
        goes out whole at its end (one write, where the replica's head and body may have come
        in two reads), or when much of it is waiting."""
        if self.chunked or self.held >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if not self.out:
            return
        if self.client.gone:  # the caller left: stop reading the replica's answer
            self.out.clear()
            if self.live and self.conn is not None:
                self.conn.abort()
                self._attempt_over()
                self.error = BadGateway(UpstreamError("the caller left", sent=True))
                self._give_up()
            return
        self.client.write(b"".join(self.out))
        self.out.clear()
        self.held = 0
