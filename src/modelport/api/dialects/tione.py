"""HTTP handler of the tione dialect (being built)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from modelport.api.deps import ApiContext


async def handle(request: Request, ctx: ApiContext) -> Response:
    return JSONResponse({"error": "the tione dialect is not built yet"}, status_code=501)
