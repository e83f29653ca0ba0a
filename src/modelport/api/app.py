"""`build_api(ctx)`: the FastAPI app served under `/api/v1`."""

from __future__ import annotations

from fastapi import FastAPI

from modelport import __version__
from modelport.api import errors
from modelport.api.deps import ApiContext
from modelport.api.routes import credentials, events, models, runtimes, services


def build_api(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="Modelport",
        version=__version__,
        description="Native control-plane API. Every call needs `Authorization: Bearer <api key>`.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    errors.install(app)
    routers = (models, runtimes, services, events, credentials)
    for r in (m.router for m in routers):
        app.include_router(r)

    @app.get("/healthz", tags=["system"], operation_id="system-health")
    async def healthz() -> dict[str, str]:
        """Liveness, with where the gateway is (callers without an API key find it here)."""
        return {"status": "ok", "version": __version__, "gateway_url": ctx.gateway}

    return app
