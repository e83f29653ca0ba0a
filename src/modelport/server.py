"""The composition root: builds settings-driven objects once and wires them together.

`build(settings)` returns the root ASGI app: the native API under `/api/v1` and the clouds'
dialects. Its lifespan opens the store (migrations), bootstraps credentials, adopts live
replicas (`controller.recovery`), starts the gateway's data plane on its own port, runs the
controller loop, and on shutdown lets calls in flight finish, then stops every replica it
runs. Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount

from modelport import demo
from modelport.api import dialects, refusals
from modelport.api.app import build_api
from modelport.api.deps import ApiContext
from modelport.api.limits import BodyLimit
from modelport.backends.local import LocalBackend
from modelport.client.client import CREDENTIALS, read_credentials
from modelport.config import Settings
from modelport.controller.clock import SystemClock
from modelport.controller.loop import Controller, ControllerConfig
from modelport.controller.probe import HttpProbe
from modelport.controller.recovery import recover
from modelport.domain.errors import ModelportError
from modelport.domain.resources import Resources
from modelport.gateway.plane import DataPlane
from modelport.gateway.routing import Router
from modelport.gateway.scheduling import batch_scheduling
from modelport.gateway.store import Follower, flush
from modelport.runtimes.catalog import BUILTIN
from modelport.services import auth
from modelport.services.secrets import Cipher
from modelport.services.services import ServiceOps
from modelport.services.throttle import LoginThrottle
from modelport.store import Store

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class Stack:
    """Everything one `serve` process runs; built by `build_stack`, started by the lifespan."""

    settings: Settings
    store: Store
    backend: LocalBackend
    probe: HttpProbe
    controller: Controller
    router: Router
    plane: DataPlane
    ops: ServiceOps
    base_url: str


def secret_key(settings: Settings, *, create: bool = True) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret.key"
    if not path.exists() and not create:
        raise SystemExit(
            f"no secret key: set MODELPORT_SECRET_KEY or MODELPORT_HOME to the control plane's "
            f"(no {path})"
        )
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
    router = Router(store, cipher)
    plane = DataPlane(
        router,
        max_body=settings.gateway_max_body,
        max_head=settings.max_header_bytes,
        attempts=settings.gateway_attempts,
        cold_start_timeout=settings.gateway_cold_start_timeout,
    )

    async def before_pass() -> None:  # the pass reads the load this writes
        await flush(store, plane.recorder, plane.load_report())

    async def after_pass() -> None:
        if await router.refresh():
            async with store.write() as tx:  # separate gateways reload on this
                await tx.traffic.bump_generation()

    controller = Controller(
        store,
        backend,
        probe,
        SystemClock(),
        ControllerConfig(
            resync_interval=settings.resync_interval,
            probe_interval=settings.probe_interval,
            start_timeout=settings.start_timeout,
            unhealthy_timeout=settings.unhealthy_timeout,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
            drain_delay=settings.drain_delay,
            load_window=settings.autoscale_window,
        ),
        on_pass=after_pass,
        before_pass=before_pass,
    )
    plane.on_hold = controller.wake
    ops = ServiceOps(store, cipher, backend, controller.wake)
    base_url = f"http://{settings.host}:{settings.port}"
    return Stack(settings, store, backend, probe, controller, router, plane, ops, base_url)


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
    if s.gateway_batch_scheduling:
        batch_scheduling()  # the controller and the API share the thread: background work
    await stack.plane.listen(s.host, s.gateway_port)
    return asyncio.create_task(stack.controller.run_forever(), name="controller")


async def stop(stack: Stack, loop_task: asyncio.Task[None] | None) -> None:
    """Let calls in flight finish; stop the loop, then every replica; flush counts."""
    await stack.plane.close()
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
    try:
        await flush(stack.store, stack.plane.recorder)
    except ModelportError as exc:  # the store is away: stop all the same
        log.warning("the counts since the last flush are lost: %s", exc.message)
    await stack.backend.aclose()
    await stack.probe.aclose()
    await stack.store.close()


def build(settings: Settings) -> Starlette:
    stack = build_stack(settings)
    logins = LoginThrottle(
        settings.login_max_failures, settings.login_window, settings.login_lockout
    )
    ctx = ApiContext(
        stack.store,
        stack.ops,
        stack.base_url,
        stack.ops.cipher,
        settings.gateway_url,
        logins=logins,
    )
    api = build_api(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = await start(stack)
        if settings.demo:
            message = await demo.ensure_demo(
                stack.store, stack.ops, settings.data_dir, settings.gateway_url
            )
            print(message, flush=True)
        try:
            yield
        finally:
            await stop(stack, task)

    app = Starlette(
        routes=[
            Mount("/api/v1", app=api),
            *dialects.routes(ctx),
        ],
        lifespan=lifespan,
        # every request body is bounded before any door reads it; a path or a method no
        # route takes is answered in its door's words
        middleware=[
            Middleware(BodyLimit, max_body=settings.api_max_body, refuse=refusals.too_large)
        ],
        exception_handlers={HTTPException: refusals.not_routed},
    )
    app.state.stack = stack
    return app


def http_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's HTTP options for the API's port: the h11 parser, whose buffer of an
    incomplete request head is bounded (`max_header_bytes`; over it: 400, connection closed).
    httptools, uvicorn's default, bounds neither the request line nor the headers: a huge
    header would grow the server's memory."""
    return {"http": "h11", "h11_max_incomplete_event_size": settings.max_header_bytes}


def run_gateway(settings: Settings) -> int:
    """`modelport gateway`: the data plane alone, in `gateway_workers` processes sharing the
    port (SO_REUSEPORT), next to a control plane (`serve`) on the same store.

    Returns the exit status. SIGTERM or SIGINT to this process stops every worker; each lets
    its calls in flight finish and flushes its counts first.
    """
    workers = settings.gateway_workers
    if workers == 1:
        return _gateway_worker(settings, None)
    shared = Path(tempfile.mkdtemp(prefix="modelport-gateway-"))  # the workers' metric totals
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_gateway_worker, args=(settings, shared)) for _ in range(workers)]
    for proc in procs:
        proc.start()

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.join()
    shutil.rmtree(shared, ignore_errors=True)
    return max((proc.exitcode or 0 for proc in procs), default=0)


def _gateway_worker(settings: Settings, shared: Path | None) -> int:
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    uvloop.run(_serve_gateway(settings, shared))
    return 0


async def _serve_gateway(settings: Settings, shared: Path | None) -> None:
    store = Store(settings.store_url)
    router = Router(store, Cipher(secret_key(settings, create=False)))
    plane = DataPlane(
        router,
        max_body=settings.gateway_max_body,
        max_head=settings.max_header_bytes,
        attempts=settings.gateway_attempts,
        shared_dir=shared,
        cold_start_timeout=settings.gateway_cold_start_timeout,
    )
    publish = plane.shared.publish if plane.shared is not None else None
    follower = Follower(
        store,
        router,
        plane.recorder,
        settings.gateway_poll_interval,
        publish=publish,
        load=plane.load_report,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await follower.sync()  # routes first: a worker never answers 404 for want of them
    except ModelportError as exc:
        log.warning("gateway starts without routes, the store is away: %s", exc.message)
    if settings.gateway_batch_scheduling:
        batch_scheduling()
    await plane.listen(settings.host, settings.gateway_port, reuse_port=True)
    log.info("gateway worker %d on %s:%d", os.getpid(), settings.host, settings.gateway_port)
    task = asyncio.create_task(follower.run(), name="routing follower")
    try:
        await stopping.wait()
    finally:
        await plane.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(ModelportError):
            await flush(store, plane.recorder)
        await store.close()
