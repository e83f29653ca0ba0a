"""The gateway's listening side: HTTP/1.1 client connections parsed with httptools.

Each complete request (head and body: bodies are buffered up to `max_body` bytes) goes to the
`Handler` in arrival order; pipelined requests wait their turn. A response is written with
`Client.write()` (the relay of a replica's answer) or `Client.respond()` (an answer of the
gateway's own). When the client cannot keep up, the replica connection feeding it stops
reading (`pause_writing`), so a slow reader does not fill memory.

A head (request line and headers) over `max_head` bytes or with more than `MAX_HEADERS`
headers is answered 431, a body over `max_body` 413, and the connection is closed: nothing a
caller sends makes a connection hold more than these bounds.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, cast

import httptools

MAX_HEAD = 64 * 1024  # bytes of request line and headers (default of `max_head`)
MAX_HEADERS = 100  # header lines of one request (Apache's LimitRequestFields)
MAX_PIPELINED = 32  # complete requests queued on one connection before reading pauses


@dataclass(slots=True)
class Request:
    method: bytes
    target: bytes  # as sent: path and query
    headers: list[tuple[bytes, bytes]]  # names lower-cased
    body: bytes
    keep_alive: bool
    client: str  # the caller's address

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def bearer(self) -> str:
        """The token of `Authorization: Bearer <token>`, or ""."""
        header = (self.header(b"authorization") or b"").decode(errors="replace")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def json(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when it is not one."""
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None


class Handler(Protocol):
    """Starts answering `request`; calls `client.done()` when the answer is complete."""

    def __call__(self, request: Request, client: Client) -> None: ...


class Pausable(Protocol):
    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Client(asyncio.Protocol):
    """One caller's connection."""

    def __init__(self, handle: Handler, max_body: int, max_head: int = MAX_HEAD) -> None:
        self.handle = handle
        self.max_body = max_body
        self.max_head = max_head
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.parser = httptools.HttpRequestParser(self)
        self.feeding: Pausable | None = None  # the replica connection writing to us now
        self._queue: deque[Request] = deque()
        self._busy = False
        self._paused = False
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._in_head = True  # reading a request line and headers (or waiting for one)
        self._head_read = 0  # bytes fed since the head began
        self._body: list[bytes] = []
        self._body_size = 0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername")
        self.address = peer[0] if isinstance(peer, tuple) else ""

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._queue.clear()

    def data_received(self, data: bytes) -> None:
        try:
            self._feed(data)
        except _TooLarge as exc:  # the head guard of `_feed`, outside the parser
            self.respond_error(exc.status, "too_large", str(exc))
            self.close()
        except httptools.HttpParserUpgrade:
            self.respond_error(501, "not_implemented", "protocol upgrades are not supported")
            self.close()
        except httptools.HttpParserError as exc:
            # httptools wraps what a callback raises: a size limit shows as its cause
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, _TooLarge):
                self.respond_error(cause.status, "too_large", str(cause))
            else:
                self.respond_error(400, "invalid", f"malformed HTTP request: {exc}")
            self.close()

    def _feed(self, data: bytes) -> None:
        """Parse `data`; while a head is read, at most what is left of `max_head` at a time.
        httptools keeps a header's pieces until the header ends, so a huge header would be
        held whole before `on_header` could count it: this count refuses it first."""
        start = 0
        while start < len(data):
            if not self._in_head:
                self.parser.feed_data(data[start:] if start else data)
                return
            room = self.max_head - self._head_read
            if room <= 0:
                raise _TooLarge(431, f"request line and headers over {self.max_head} bytes")
            piece = data[start : start + room]
            start += len(piece)
            self._head_read += len(piece)
            self.parser.feed_data(piece)

    def pause_writing(self) -> None:
        if self.feeding is not None:
            self.feeding.pause_reading()

    def resume_writing(self) -> None:
        if self.feeding is not None:
            self.feeding.resume_reading()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_size = 0
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))
        self._grow_head(len(name) + len(value) + 4)  # with ": " and CRLF
        if len(self._headers) > MAX_HEADERS:
            raise _TooLarge(431, f"more than {MAX_HEADERS} headers")

    def on_headers_complete(self) -> None:
        self._in_head = False
        length = _content_length(self._headers)
        if length is not None and length > self.max_body:
            raise _TooLarge(413, f"request body over {self.max_body} bytes")
        if (b"expect", b"100-continue") in self._headers and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.max_body:
            raise _TooLarge(413, f"request body over {self.max_body} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._in_head, self._head_read = True, 0  # what follows is the next request's head
        request = Request(
            method=self.parser.get_method(),
            target=self._url,
            headers=self._headers,
            body=b"".join(self._body),
            keep_alive=self.parser.should_keep_alive(),
            client=self.address,
        )
        self._queue.append(request)
        if len(self._queue) >= MAX_PIPELINED and self.transport is not None:
            self.transport.pause_reading()
            self._paused = True
        if not self._busy:
            self._next()

    def _grow_head(self, n: int) -> None:
        self._head_size += n
        if self._head_size > self.max_head:
            raise _TooLarge(431, f"request line and headers over {self.max_head} bytes")

    # answering

    def _next(self) -> None:
        if not self._queue or self.transport is None:
            return
        if self._paused:
            self.transport.resume_reading()
            self._paused = False
        self._busy = True
        self.handle(self._queue.popleft(), self)

    def done(self, keep_alive: bool) -> None:
        """The current response is complete."""
        self._busy = False
        self.feeding = None
        if not keep_alive:
            self.close()
        else:
            self._next()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    @property
    def gone(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def respond(
        self,
        status: int,
        body: bytes,
        *,
        content_type: bytes = b"application/json",
        headers: list[tuple[bytes, bytes]] | None = None,
        keep_alive: bool = True,
    ) -> None:
        """Write a complete response of the gateway's own."""
        self.write(response_head(status, body, content_type, headers or [], keep_alive) + body)

    def respond_error(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        keep_alive: bool = False,
    ) -> None:
        """An error in the native envelope `{"error": {"code", "message", "details"}}`."""
        body = {"error": {"code": code, "message": message, "details": details or {}}}
        self.respond(status, json.dumps(body).encode(), headers=headers, keep_alive=keep_alive)


class _TooLarge(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


def status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b""))


def response_head(
    status: int,
    body: bytes,
    content_type: bytes,
    headers: list[tuple[bytes, bytes]],
    keep_alive: bool,
) -> bytes:
    lines = [
        status_line(status),
        b"content-type: %s\r\ncontent-length: %d\r\n" % (content_type, len(body)),
    ]
    lines += [b"%s: %s\r\n" % (k, v) for k, v in headers]
    if not keep_alive:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)
