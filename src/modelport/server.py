"""The composition root: builds settings-driven objects once and wires them together.

`build(settings)` returns the root ASGI app: the native API under `/api/v1`, the gateway under
`/services`. Its lifespan opens the store (migrations), bootstraps credentials, adopts live
replicas (`controller.recovery`), runs the controller loop, and on shutdown stops every
replica it runs. Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from modelport import demo
from modelport.api import dialects
from modelport.api.app import build_api
from modelport.api.deps import ApiContext
from modelport.backends.local import LocalBackend
from modelport.client.client import CREDENTIALS, read_credentials
from modelport.config import Settings
from modelport.controller.clock import SystemClock
from modelport.controller.loop import Controller, ControllerConfig
from modelport.controller.probe import HttpProbe
from modelport.controller.recovery import recover
from modelport.domain.errors import ModelportError
from modelport.domain.resources import Resources
from modelport.gateway.app import Gateway
from modelport.gateway.routing import Router
from modelport.runtimes.catalog import BUILTIN
from modelport.services import auth
from modelport.services.secrets import Cipher
from modelport.services.services import ServiceOps
from modelport.store import Store

log = logging.getLogger(__name__)


@dataclass
class Stack:
    """Everything one `serve` process runs; built by `build_stack`, started by the lifespan."""

    settings: Settings
    store: Store
    backend: LocalBackend
    probe: HttpProbe
    controller: Controller
    gateway: Gateway
    ops: ServiceOps
    http: httpx.AsyncClient
    base_url: str


def secret_key(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Cipher.new_key())
    return path.read_bytes().strip()


def write_credentials(home: Path, url: str, api_key: str) -> None:
    path = home / CREDENTIALS
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "api_key": api_key}, f)
    tmp.replace(path)


async def flush_counts(store: Store, gateway: Gateway) -> None:
    """Write the gateway's invocation counts; on failure they are kept for the next flush."""
    counts = gateway.counters.drain()
    if not counts:
        return
    try:
        async with store.write() as tx:
            for service_id, (inv, fail) in counts.items():
                await tx.services.add_counts(service_id, inv, fail)
    except ModelportError:
        gateway.counters.restore(counts)
        raise


def build_stack(settings: Settings) -> Stack:
    home = settings.data_dir
    home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.store_url)
    cipher = Cipher(secret_key(settings))
    machine = LocalBackend(home, host=settings.replica_host).capacity()
    capacity = Resources(
        settings.capacity_cpu if settings.capacity_cpu is not None else machine.cpu,
        settings.capacity_memory if settings.capacity_memory is not None else machine.memory,
        settings.capacity_gpu if settings.capacity_gpu is not None else machine.gpu,
    )
    backend = LocalBackend(home, host=settings.replica_host, capacity=capacity)
    probe = HttpProbe(timeout=settings.probe_timeout)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(300.0, connect=5.0),
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
    )
    router = Router(store, cipher)
    gateway = Gateway(router, http)
    base_url = settings.public_url or f"http://{settings.host}:{settings.port}"

    async def after_pass() -> None:
        await router.refresh()
        await flush_counts(store, gateway)

    controller = Controller(
        store,
        backend,
        probe,
        SystemClock(),
        ControllerConfig(
            resync_interval=settings.resync_interval,
            probe_interval=settings.probe_interval,
            start_timeout=settings.start_timeout,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
        ),
        on_pass=after_pass,
    )
    ops = ServiceOps(store, cipher, backend, controller.wake)
    return Stack(settings, store, backend, probe, controller, gateway, ops, http, base_url)


async def start(stack: Stack) -> asyncio.Task[None]:
    """Open the store, bootstrap credentials, adopt replicas; return the running loop task."""
    s = stack.settings
    await stack.store.open(BUILTIN)
    existing = s.api_key or read_credentials(s.data_dir).get("api_key")
    boot = await auth.bootstrap(stack.store, existing)
    if boot.admin_key is not None:
        write_credentials(s.data_dir, stack.base_url, boot.admin_key)
        log.info("admin API key written to %s", s.data_dir / CREDENTIALS)
    await recover(stack.store, stack.backend)
    await stack.controller.reconcile()
    return asyncio.create_task(stack.controller.run_forever(), name="controller")


async def stop(stack: Stack, loop_task: asyncio.Task[None] | None) -> None:
    """Stop the loop, then every replica; flush counts; close connections."""
    if loop_task is not None:
        # let the pass in progress finish: a database call cut short by cancellation can
        # leave its connection unusable; cancel only if the pass does not end in time
        stack.controller.request_stop()
        try:
            await asyncio.wait_for(asyncio.shield(loop_task), timeout=30)
        except TimeoutError:
            loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop_task
    await stack.controller.shutdown()
    await flush_counts(stack.store, stack.gateway)
    await stack.backend.aclose()
    await stack.probe.aclose()
    await stack.http.aclose()
    await stack.store.close()


def build(settings: Settings) -> Starlette:
    stack = build_stack(settings)
    ctx = ApiContext(stack.store, stack.ops, stack.base_url, stack.ops.cipher)
    api = build_api(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = await start(stack)
        if settings.demo:
            message = await demo.ensure_demo(
                stack.store, stack.ops, settings.data_dir, stack.base_url
            )
            print(message, flush=True)
        try:
            yield
        finally:
            await stop(stack, task)

    app = Starlette(
        routes=[
            Mount("/api/v1", app=api),
            Mount("/services", app=stack.gateway.app()),
            *dialects.routes(ctx),
        ],
        lifespan=lifespan,
    )
    app.state.stack = stack
    return app
