"""How the gateway answers a call it could not relay: status codes, `Retry-After`, and the
native error envelope (the OpenAI front has its own, in `openai.py`)."""

from __future__ import annotations

import math

from modelport.domain.errors import (
    Invalid,
    ModelportError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    UpstreamTimeout,
)
from modelport.gateway.http import Client, Request
from modelport.gateway.upstream import UpstreamError


class BadGateway(ModelportError):
    """A replica failed after the call reached it, and it may not be repeated."""

    code = "bad_gateway"

    def __init__(self, exc: UpstreamError) -> None:
        super().__init__(exc.reason)


def status_of(error: ModelportError) -> int:
    match error:
        case Invalid():
            return 400
        case NotFound():
            return 404
        case Unauthorized():
            return 401
        case RateLimited():
            return 429
        case Unavailable():
            return 503
        case UpstreamTimeout():
            return 504
        case BadGateway():
            return 502
    return 500


def retry_after(error: ModelportError) -> list[tuple[bytes, bytes]]:
    if isinstance(error, RateLimited):
        return [(b"retry-after", b"%d" % max(1, math.ceil(error.retry_after)))]
    if isinstance(error, Unavailable | BadGateway):
        return [(b"retry-after", b"1")]
    return []


def native_error(client: Client, request: Request, error: ModelportError, status: int) -> None:
    client.respond_error(
        status,
        error.code,
        error.message,
        details=error.details,
        headers=retry_after(error),
        keep_alive=request.keep_alive,
    )
