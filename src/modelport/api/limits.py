"""`BodyLimit`: the size limit of request bodies on the API's port, before any handler.

An ASGI middleware around the root app (`modelport.server.build`). A request that declares a
`Content-Length` over `max_body` bytes is refused at once, before a byte of its body is read
(and so before uvicorn sends `100 Continue`). Any other body, chunked or streamed included,
is read here up to `max_body` bytes and then handed to the app in one piece; one byte more
and the request is refused without reading further. A refusal is `refuse(scope, max_body)`:
413 in the words of the request's door (`api.refusals.too_large`), with `Connection: close`.

The handlers read whole bodies anyway, so buffering here costs no memory they would not use;
what it buys is that no door can be made to hold more than `max_body` bytes of one request,
and that each door's own error shape answers, never a 500 from deep in a handler.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Refuse = Callable[[Scope, int], Response]


class BodyLimit:
    """Stateless between requests; each call reads only its own request."""

    def __init__(self, app: ASGIApp, max_body: int, refuse: Refuse) -> None:
        self.app = app
        self.max_body = max_body
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await self.refuse(scope, self.max_body)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nobody to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self.refuse(scope, self.max_body)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the whole body once, then what the server sends (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
