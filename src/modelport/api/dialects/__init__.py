"""HTTP doors of the four cloud dialects, mounted at the paths their SDKs call.

- `/` (GET/POST): UCloud's Action API, or TI-ONE when the request carries `X-TC-Action`.
- `/zstack/...`: ZStack REST.
- `/v1/{project_id}/...` and `/v3/auth/tokens`: Huawei ModelArts and its IAM token API.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from modelport.api.deps import ApiContext
from modelport.api.dialects import modelarts, tione, ucloud, zstack


def routes(ctx: ApiContext) -> list[BaseRoute]:
    async def root(request: Request) -> Response:
        if "x-tc-action" in request.headers:
            return await tione.handle(request, ctx)
        return await ucloud.handle(request, ctx)

    return [
        Route("/", root, methods=["GET", "POST"]),
        Mount("/zstack", routes=zstack.routes(ctx)),
        *modelarts.routes(ctx),
    ]
