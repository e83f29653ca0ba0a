"""`modelport serve`: run the server (API, gateway, controller) in this process;
`modelport gateway`: run the gateway alone, next to a `serve` on the same PostgreSQL store.

Builds `Settings` once (flags override the environment), configures logging and runs the root
ASGI app of `modelport.server.build` under uvicorn, which turns SIGTERM/SIGINT into a graceful
shutdown so the lifespan stops every replica. Afterwards uvicorn re-raises the signal: SIGTERM
ends the process as killed by SIGTERM (status 143 in a shell), Ctrl-C exits with 130.
Registered on the root app by `modelport.cli.main`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer
import uvicorn

from modelport.cli.output import state
from modelport.client.client import CREDENTIALS
from modelport.config import Settings
from modelport.server import LOG_FORMAT, build, http_options, run_gateway

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: MODELPORT_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: MODELPORT_PORT).")
    ] = None,
    gateway_port: Annotated[
        int | None,
        typer.Option(help="Port of the gateway (default: MODELPORT_GATEWAY_PORT)."),
    ] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo", help="Deploy the iris demo service (default: MODELPORT_DEMO)."
        ),
    ] = None,
) -> None:
    """Run the Modelport server until SIGTERM or Ctrl-C."""
    cli = state(ctx)
    settings = _settings(demo=demo, host=host, port=port, gateway_port=gateway_port)
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    # one INFO line per readiness probe and proxied request would drown everything else
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
    app = build(settings)
    console = cli.stderr()
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"Modelport listening on {base}", markup=False)
    console.print(f"  API      {base}/api/v1 (docs: {base}/api/v1/docs)", markup=False)
    gateway = settings.gateway_url
    console.print(f"  services {gateway}/services/<service id>/<path>", markup=False)
    console.print(f"  OpenAI   {gateway}/v1 (model: <service name>)", markup=False)
    console.print(f"  credentials (URL, admin API key): {settings.data_dir / CREDENTIALS}")
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        **http_options(settings),  # bounded request heads
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        # uvicorn shut down gracefully, then re-raised the SIGINT it captured
        console.print("stopped", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def gateway(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: MODELPORT_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: MODELPORT_GATEWAY_PORT).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: MODELPORT_GATEWAY_WORKERS)."),
    ] = None,
) -> None:
    """Run the gateway alone (the data plane), next to `modelport serve` on the same store."""
    settings = _settings(host=host, gateway_port=port, gateway_workers=workers)
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    raise typer.Exit(run_gateway(settings))


def _settings(**options: Any) -> Settings:
    """The settings, with the options given on the command line (not None) over them."""
    return Settings(**{name: value for name, value in options.items() if value is not None})
