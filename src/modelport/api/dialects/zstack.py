"""HTTP routes of the zstack dialect (being built)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from modelport.api.deps import ApiContext


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return []
