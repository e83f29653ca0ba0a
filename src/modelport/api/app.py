"""`build_api(ctx)`: the FastAPI app served under `/api/v1`."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from modelport import __version__
from modelport.api import errors
from modelport.api.deps import ApiContext, real_path
from modelport.api.routes import credentials, events, models, runtimes, services

VALIDATION = ("HTTPValidationError", "ValidationError")


class Api(FastAPI):
    """FastAPI whose OpenAPI document declares the answers this API gives: request
    validation fails with our `400 invalid` envelope (each route's `responses`), never with
    FastAPI's 422, so the 422 entries FastAPI adds on its own are left out."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            for name in VALIDATION:
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            self.openapi_schema = schema
        return self.openapi_schema


def build_api(ctx: ApiContext) -> FastAPI:
    app = Api(
        title="Modelport",
        version=__version__,
        description="Native control-plane API. Every call needs `Authorization: Bearer <api key>`.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        dependencies=[Depends(real_path)],
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
