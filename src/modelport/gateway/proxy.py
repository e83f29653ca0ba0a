"""Forward one request to a replica and stream the answer back, over pooled connections.

Hop-by-hop headers and the caller's `Authorization` (the service key is Modelport's, not the
model's) are not forwarded; `Content-Length` is, so a body the caller sized is not re-chunked.
httpx errors are translated here, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse

from modelport.domain.errors import TemporaryError, Unavailable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
NOT_FORWARDED = HOP_BY_HOP | {"authorization"}


async def forward(
    client: httpx.AsyncClient, request: Request, address: str, path: str
) -> StreamingResponse:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED]
    if request.client:
        headers.append(("x-forwarded-for", request.client.host))
    url = httpx.URL(f"http://{address}/{path}")
    if request.url.query:
        url = url.copy_with(query=request.url.query.encode())
    upstream_request = client.build_request(
        request.method, url, headers=headers, content=_body(request)
    )
    try:
        upstream = await client.send(upstream_request, stream=True)
    except httpx.ConnectError as exc:
        raise Unavailable(f"replica at {address} refused the connection") from exc
    except httpx.TimeoutException as exc:
        raise TemporaryError(f"replica at {address} timed out", delay=1.0) from exc
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise TemporaryError(f"replica at {address} failed: {reason}", delay=1.0) from exc
    response_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
    return StreamingResponse(
        _relay(upstream),
        status_code=upstream.status_code,
        headers=response_headers,
        background=BackgroundTask(upstream.aclose),
    )


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in upstream.aiter_raw():
        yield chunk
