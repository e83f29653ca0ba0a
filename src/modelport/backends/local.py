"""`LocalBackend`: the default backend, which runs each replica as a local process.

It owns the replica processes of one installation on this machine: starting them (each in its
own session and process group, output appended to `data_dir/logs/{replica_id}.log`), watching
them, stopping the whole group, and finding them again after a control-plane restart through
marker variables in their environment. The controller calls it through the `Backend` protocol
(see `backends.base`); nothing else should.

A handle is `"{pid}:{create_time}"`, so it survives a restart of the control plane and a
reused pid is not taken for the replica. Processes this object started are its children: it
keeps their `asyncio.subprocess.Process` and awaits them in reaper tasks, so none stays a
zombie. Processes found by `discover()` after a restart belong to someone else and are
watched with psutil only.

Concurrency: one event loop; not thread-safe. Replicas outlive the backend object on purpose
(`aclose()` stops nothing); the controller decides what to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path

# types-psutil (a dev dependency) types psutil; without it, psutil is Any here.
import psutil  # type: ignore[import-untyped, unused-ignore]

from modelport.backends.base import (
    START_MARKER,
    Discovered,
    LaunchSpec,
    Observation,
    Placement,
)
from modelport.domain.errors import Invalid, PermanentError
from modelport.domain.ids import DeploymentId, ReplicaId
from modelport.domain.resources import Resources
from modelport.domain.runtimes import render_command

logger = logging.getLogger(__name__)

ENV_REPLICA_ID = "MODELPORT_REPLICA_ID"
ENV_DEPLOYMENT_ID = "MODELPORT_DEPLOYMENT_ID"
ENV_SERVICE_ID = "MODELPORT_SERVICE_ID"
ENV_BACKEND_HOME = "MODELPORT_BACKEND_HOME"

_POLL_INTERVAL = 0.05  # seconds between checks while a process group goes away
_KILL_WAIT = 5.0  # seconds to wait for a group to vanish after SIGKILL
_EXIT_CODE_WAIT = 1.0  # seconds to wait for the exit code of a child that just died
_CREATE_TIME_TOLERANCE = 0.01  # create_time has clock-tick (10 ms) resolution
_TAIL_BLOCK = 64 * 1024
_TAIL_MAX_BYTES = 4 * 1024 * 1024


class LocalBackend:
    """Runs replicas as local processes. Called only from the controller's event loop."""

    name = "local"

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        capacity: Resources | None = None,
        python: str = sys.executable,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.python = python
        self._capacity = capacity
        self._home = str(data_dir.resolve())
        self._children: dict[str, asyncio.subprocess.Process] = {}
        self._reapers: set[asyncio.Task[int]] = set()

    # -- Backend protocol ----------------------------------------------------------------
    def capacity(self) -> Resources:
        if self._capacity is not None:
            return self._capacity
        memory_mib = psutil.virtual_memory().total // (1024 * 1024)
        gpus = len(list(Path("/dev").glob("nvidia[0-9]*")))
        return Resources(cpu=float(os.cpu_count() or 1), memory=memory_mib, gpu=gpus)

    async def start(self, spec: LaunchSpec) -> Placement:
        log_path = self._log_path(spec.replica_id)
        port = _free_port(self.host)
        argv = render_command(
            spec.command,
            host=self.host,
            port=port,
            model_uri=spec.model_uri,
            model_name=spec.model_name,
            python=self.python,
            gpus=spec.resources.gpu,
        )
        if not argv:
            message = f"replica {spec.replica_id}: the runtime command is empty"
            _append_log(log_path, message)
            raise PermanentError(message)
        env = {
            # the server's own settings (secret key, API key, database URL) stay with it
            **{k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")},
            **spec.env,
            "PORT": str(port),
            ENV_REPLICA_ID: spec.replica_id,
            ENV_DEPLOYMENT_ID: spec.deployment_id,
            ENV_SERVICE_ID: spec.service_id,
            ENV_BACKEND_HOME: self._home,
        }
        _append_log(log_path, START_MARKER)
        log_fd = _open_log(log_path)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            message = f"replica {spec.replica_id}: cannot start {argv[0]!r}: {exc.strerror or exc}"
            _append_log(log_path, message)
            raise PermanentError(message, details={"command": argv}) from exc
        finally:
            os.close(log_fd)

        _default_scheduling(proc.pid)
        handle = _format_handle(proc.pid, _create_time_or_zero(proc.pid))
        self._children[handle] = proc
        reaper = asyncio.get_running_loop().create_task(proc.wait())
        self._reapers.add(reaper)
        reaper.add_done_callback(self._reapers.discard)
        logger.info(
            "started replica %s pid=%d address=%s:%d", spec.replica_id, proc.pid, self.host, port
        )
        return Placement(handle=handle, address=f"{self.host}:{port}", node=socket.gethostname())

    async def observe(self, handle: str) -> Observation:
        pid, created = _parse_handle(handle)
        proc = self._children.get(handle)
        if proc is None:
            return Observation(alive=_is_running(pid, created), exit_code=None)
        if proc.returncode is None and not _is_running(pid, created):
            # It died (or is a zombie) but the loop has not collected its status yet.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), _EXIT_CODE_WAIT)
        if proc.returncode is not None:
            return Observation(alive=False, exit_code=proc.returncode)
        return Observation(alive=_is_running(pid, created), exit_code=None)

    async def stop(self, handle: str, grace_period: float) -> None:
        pid, created = _parse_handle(handle)
        proc = self._children.get(handle)
        own_leader = proc is not None and proc.returncode is None
        if not own_leader and not _is_running(pid, created) and _leads_live_group(pid):
            # The pid now belongs to an unrelated group leader: nothing of ours is left.
            return
        if await asyncio.to_thread(_group_alive, pid):
            _signal_group(pid, signal.SIGTERM)
            if not await _wait_group_gone(pid, grace_period):
                logger.warning(
                    "replica pid=%d ignored SIGTERM for %.1fs; sending SIGKILL", pid, grace_period
                )
                _signal_group(pid, signal.SIGKILL)
                if not await _wait_group_gone(pid, _KILL_WAIT):
                    logger.error("process group %d survived SIGKILL for %.1fs", pid, _KILL_WAIT)
        if proc is not None:
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), _EXIT_CODE_WAIT)
            except TimeoutError:
                logger.warning("replica pid=%d was killed but not reaped yet", pid)

    async def discover(self) -> list[Discovered]:
        return await asyncio.to_thread(self._discover_sync)

    async def logs(self, replica_id: ReplicaId, tail: int = 100) -> str:
        return await asyncio.to_thread(_tail_file, self._log_path(replica_id), tail)

    async def aclose(self) -> None:
        """Stop the reaper tasks; the replica processes keep running."""
        reapers = list(self._reapers)
        for task in reapers:
            task.cancel()
        await asyncio.gather(*reapers, return_exceptions=True)
        self._reapers.clear()

    # -- helpers -------------------------------------------------------------------------
    def _log_path(self, replica_id: str) -> Path:
        if replica_id in ("", ".", "..") or Path(replica_id).name != replica_id:
            raise Invalid("replica_id", f"{replica_id!r} cannot name a log file")
        return self.data_dir / "logs" / f"{replica_id}.log"

    def _discover_sync(self) -> list[Discovered]:
        found: list[Discovered] = []
        node = socket.gethostname()
        for p in psutil.process_iter():
            try:
                if p.pid != os.getpgid(p.pid) or p.status() == psutil.STATUS_ZOMBIE:
                    continue
                env = p.environ()
                if env.get(ENV_BACKEND_HOME) != self._home or ENV_REPLICA_ID not in env:
                    continue
                created = p.create_time()
            except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
                continue  # psutil.ZombieProcess is a NoSuchProcess
            found.append(
                Discovered(
                    replica_id=ReplicaId(env[ENV_REPLICA_ID]),
                    deployment_id=DeploymentId(env.get(ENV_DEPLOYMENT_ID, "")),
                    handle=_format_handle(p.pid, created),
                    address=f"{self.host}:{env.get('PORT', '')}",
                    node=node,
                )
            )
        return found


# -- handles ---------------------------------------------------------------------------------
def _format_handle(pid: int, create_time: float) -> str:
    return f"{pid}:{create_time:.3f}"


def _parse_handle(handle: str) -> tuple[int, float]:
    pid_text, sep, created_text = handle.partition(":")
    try:
        if not sep:
            raise ValueError(handle)
        return int(pid_text), float(created_text)
    except ValueError as exc:
        raise Invalid("handle", f"{handle!r} is not a local backend handle") from exc


def _create_time_or_zero(pid: int) -> float:
    """create_time of a just-started child; 0 when it already exited and was reaped (such a
    handle never matches a live process, which is right for a process that is gone)."""
    try:
        created: float = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return 0.0
    return created


def _default_scheduling(pid: int) -> None:
    """Give a just-started replica the default CPU policy: it inherits the server's, which may
    be SCHED_BATCH (gateway/scheduling.py), and a replica answering calls should not wait for
    the tick to run. Nothing to do on a platform without the call, or once it exited."""
    if hasattr(os, "sched_setscheduler"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))


# -- processes and groups --------------------------------------------------------------------
def _is_running(pid: int, created: float) -> bool:
    """True when `pid` is the same process (same create_time) and is not a zombie."""
    try:
        p = psutil.Process(pid)
        if abs(p.create_time() - created) > _CREATE_TIME_TOLERANCE:
            return False
        return bool(p.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _leads_live_group(pid: int) -> bool:
    """True when a live (non-zombie) process `pid` leads the group `pid`."""
    try:
        if os.getpgid(pid) != pid:
            return False
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process is in process group `pgid`."""
    if _leads_live_group(pgid):  # the leader itself is alive: no need to scan
        return True
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass  # already gone
    except PermissionError as exc:
        raise PermanentError(f"cannot signal process group {pgid}: {exc.strerror}") from exc


async def _wait_group_gone(pgid: int, within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while await asyncio.to_thread(_group_alive, pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_INTERVAL)
    return True


def _free_port(host: str) -> int:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.bind(addr)
            port: int = sock.getsockname()[1]
            return port
    except OSError as exc:
        raise PermanentError(f"cannot bind a port on {host!r}: {exc}") from exc


# -- log files -------------------------------------------------------------------------------
def _open_log(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        raise PermanentError(f"cannot open log file {path}: {exc.strerror or exc}") from exc


def _append_log(path: Path, message: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(message + "\n")
    except OSError as exc:
        logger.warning("cannot write to log file %s: %s", path, exc)


def _tail_file(path: Path, tail: int) -> str:
    """The last `tail` lines of `path`, reading backwards from the end in blocks."""
    if tail <= 0:
        return ""
    try:
        with path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            pos, data = end, b""
            while pos > 0 and data.count(b"\n") <= tail and end - pos < _TAIL_MAX_BYTES:
                step = min(_TAIL_BLOCK, pos)
                pos -= step
                f.seek(pos)
                data = f.read(step) + data
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise PermanentError(f"cannot read log file {path}: {exc.strerror or exc}") from exc
    # When more than `tail` lines were read, the first (maybe cut by a block boundary) drops out.
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-tail:])
