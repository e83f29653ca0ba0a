"""The plumbing the benchmarks share: pinned server processes, wrk load, CPU time, tables.

Imported as `_harness` by `gateway.py` and `runtime.py` (run as scripts, so this folder is on
`sys.path`). Servers run on core 0 and the load generator (wrk, one thread) on core 1, so
throughput shows the CPU a request costs the servers. Everything listens on 127.0.0.1 on free
ports; every process started through a `Fleet` is stopped when the fleet closes, Ctrl-C and
SIGTERM included.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

SERVER_CORE = 0
LOAD_CORE = 1
MODEL_NAME = "iris"
ROW = [5.1, 3.5, 1.4, 0.2]
CORE_NOTE = (
    f"other c{SERVER_CORE}/c{LOAD_CORE}: the share of the server core's time not charged to the "
    f"processes measured, and of the load core's not charged to wrk (kernel network work in "
    "interrupts, anything else that ran there); a large one means the run shared its cores"
)
BENCH_VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venv-bench" / "bin" / "python"


class BenchError(Exception):
    """A server did not start or answered wrongly; the message says which and why."""


# --- requests -------------------------------------------------------------------------------


def request_path(protocol: str, model: str = MODEL_NAME) -> str:
    """The inference path of `protocol`: "v2" (Open Inference Protocol) or "v1" (KServe v1)."""
    return f"/v1/models/{model}:predict" if protocol == "v1" else f"/v2/models/{model}/infer"


def request_body(protocol: str) -> bytes:
    """One iris row in `protocol`'s request shape."""
    if protocol == "v1":
        return json.dumps({"instances": [ROW]}).encode()
    tensor = {"name": "input-0", "shape": [1, len(ROW)], "datatype": "FP64", "data": ROW}
    return json.dumps({"inputs": [tensor]}).encode()


def prediction(protocol: str, answer: Any) -> Any:
    """The predicted class in an answer of `protocol`, to check every server agrees."""
    if protocol == "v1":
        return answer["predictions"][0]
    return answer["outputs"][0]["data"][0]


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies


def http_json(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """One HTTP call; returns (status, decoded JSON body or None). Raises OSError if unreachable."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def check_answer(name: str, protocol: str, url: str, headers: dict[str, str]) -> Any:
    """POST the benchmark body once; return the predicted class or raise BenchError."""
    try:
        status, answer = http_json("POST", url, request_body(protocol), headers)
    except OSError as exc:
        raise BenchError(f"{name}: {url} is unreachable: {exc}") from exc
    if status != 200:
        raise BenchError(f"{name}: {url} answered {status}: {answer}")
    try:
        return prediction(protocol, answer)
    except (KeyError, IndexError, TypeError) as exc:
        raise BenchError(f"{name}: unexpected answer from {url}: {answer}") from exc


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(core: int) -> list[str]:
    """The `taskset` prefix that runs a command on `core` (nothing if taskset is missing)."""
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def train_iris(path: Path) -> None:
    """Train a logistic regression on iris (shipped with scikit-learn) and save it with joblib."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(x, y), path)


@dataclass
class Server:
    """One started process, its log file, and how to find the processes whose CPU it costs."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def process(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)

    def tree(self) -> list[psutil.Process]:
        """The process and everything it started (Ray's daemons, nginx's worker)."""
        with contextlib.suppress(psutil.Error):
            root = self.process
            return [root, *root.children(recursive=True)]
        return []

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace").splitlines()
            return "\n".join(f"    {line}" for line in text[-lines:])
        return "    (no log)"

    def failed(self, why: str) -> BenchError:
        return BenchError(f"{self.name}: {why}; last lines of {self.log}:\n{self.log_tail()}")

    def wait_until(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Poll `check` until it returns something truthy; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.failed(f"exited with status {self.proc.returncode} before {what}")
            got = check()
            if got:
                return got
            time.sleep(0.2)
        raise self.failed(f"no {what} after {timeout:.0f} s")

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        """Wait until `url` answers anything at all."""

        def answers() -> bool:
            try:
                http_json("GET", url, timeout=2.0)
            except OSError:
                return False
            return True

        self.wait_until(answers, timeout, f"answer on {url}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM, then SIGKILL for it and everything it started that outlived `grace`."""
        if self.proc.poll() is not None:
            return
        family = self.tree()
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        _, alive = psutil.wait_procs(family, timeout=2.0)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Fleet:
    """The processes one benchmark run started, in a throw-away work directory.

    `close()` stops every server still running, last started first, and removes the directory.
    Used from the main thread only.
    """

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
        self._servers: list[Server] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        core: int = SERVER_CORE,
    ) -> Server:
        """Start `argv` pinned to `core`, in its own session (Ctrl-C reaches only this script)."""
        log = self.workdir / f"{name.replace(' ', '-')}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*pinned(core), *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        server = Server(name, proc, log)
        self._servers.append(server)
        return server

    def close(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def fleet() -> Iterator[Fleet]:
    """A Fleet that is closed however the block ends; SIGTERM ends the block like Ctrl-C."""

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    servers = Fleet()
    try:
        yield servers
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            servers.close()
        finally:
            signal.signal(signal.SIGTERM, previous)


def bench_python(option: str | None) -> tuple[Path | None, str]:
    """The bench virtualenv's python (given or default), or None and why it cannot be used."""
    path = Path(option) if option else BENCH_VENV_PYTHON
    if not path.exists():
        return None, f"{path} does not exist (see benchmarks/README.md to create .venv-bench)"
    return path, ""


def missing_modules(python: Path, modules: Iterable[str]) -> str:
    """'' if `python` imports every module, else its error's last line."""
    code = "; ".join(f"import {m}" for m in modules)
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return ""
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def connection_counts(text: str) -> tuple[int, ...]:
    """The `--connections` option: positive counts separated by commas, e.g. "1,32"."""
    counts = tuple(int(part) for part in text.split(","))
    if not counts or min(counts) < 1:
        raise ValueError(text)
    return counts


# --- load and CPU ---------------------------------------------------------------------------


@dataclass
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: dict[str, float] = field(default_factory=dict)  # component -> CPU ms per request
    other_busy: tuple[float, float] = (0.0, 0.0)  # share of each core's time used by others

    @property
    def other(self) -> str:
        """`other_busy` as "server%/load%"."""
        return "/".join(f"{share * 100:.0f}%" for share in self.other_busy)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %.1f, " ..
    "\\"p99_us\\": %.1f, \\"errors\\": %d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def wrk_available() -> str:
    """'' if wrk is on PATH, else how to get it."""
    return "" if shutil.which("wrk") else "wrk is not installed (apt-get install -y wrk)"


def run_wrk(
    workdir: Path,
    url: str,
    body: bytes,
    headers: dict[str, str],
    connections: int,
    seconds: int,
) -> Load:
    """Drive `url` with wrk (one thread, pinned to the load core) for `seconds`."""
    lines = [f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in headers.items()]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    script = workdir / "post.lua"
    script.write_text(_LUA.format(body=body.decode(), headers="\n".join(lines)))
    argv = [
        *pinned(LOAD_CORE),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            got = json.loads(line.removeprefix("WRK_JSON "))
            return Load(
                requests=int(got["requests"]),
                seconds=got["duration_us"] / 1e6,
                p50_ms=got["p50_us"] / 1e3,
                p99_ms=got["p99_us"] / 1e3,
                errors=int(got["errors"]),
            )
    raise BenchError(f"wrk failed (status {done.returncode}): {done.stdout}{done.stderr}")


Components = dict[str, Callable[[], list[psutil.Process]]]


def _cpu_seconds(procs: Iterable[psutil.Process]) -> dict[int, float]:
    times: dict[int, float] = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            cpu = proc.cpu_times()
            times[proc.pid] = cpu.user + cpu.system
    return times


def measure(
    workdir: Path,
    url: str,
    body: bytes,
    headers: dict[str, str],
    connections: int,
    seconds: int,
    warmup: int,
    components: Components,
) -> Load:
    """Warm up, then run wrk and charge each component's CPU time (user+sys) to its requests."""
    run_wrk(workdir, url, body, headers, connections, warmup)
    before = {name: _cpu_seconds(find()) for name, find in components.items()}
    cores_before = _core_seconds()
    wrk_before = _children_cpu()  # wrk is this process's only child to end meanwhile
    load = run_wrk(workdir, url, body, headers, connections, seconds)
    wrk_cpu = _children_cpu() - wrk_before
    cores_after = _core_seconds()
    ours = 0.0
    for name, find in components.items():
        after = _cpu_seconds(find())
        used = sum(t - before[name].get(pid, 0.0) for pid, t in after.items())
        ours += used
        load.cpu_ms[name] = used * 1e3 / load.requests if load.requests else float("nan")
    shares = []
    for core, charged in ((SERVER_CORE, ours), (LOAD_CORE, wrk_cpu)):
        busy = cores_after[core][0] - cores_before[core][0]
        total = cores_after[core][1] - cores_before[core][1]
        shares.append(max(0.0, busy - charged) / total if total else 0.0)
    load.other_busy = (shares[0], shares[1])
    return load


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _core_seconds() -> dict[int, tuple[float, float]]:
    """(busy, total) seconds of each core since boot; busy includes interrupts."""
    seconds = {}
    for core, t in enumerate(psutil.cpu_times(percpu=True)):
        busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
        busy += getattr(t, "steal", 0.0)
        seconds[core] = (busy, busy + t.idle + getattr(t, "iowait", 0.0))
    return seconds


def only(server: Server) -> Callable[[], list[psutil.Process]]:
    """A component that is exactly `server`'s process."""

    def find() -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [server.process]
        return []

    return find


def whole_tree(server: Server) -> Callable[[], list[psutil.Process]]:
    """A component that is `server`'s process and all its descendants."""
    return server.tree


# --- output ---------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in header], *([_cell(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    out = []
    for row in cells:
        parts = [
            row[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
        ]
        out.append("  ".join(parts).rstrip())
    return "\n".join(out)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_line() -> str:
    cores = os.cpu_count() or 0
    return (
        f"{cores} cores; servers pinned to core {SERVER_CORE}, wrk (1 thread) to core {LOAD_CORE}"
        if shutil.which("taskset")
        else f"{cores} cores; taskset missing: nothing pinned, figures are not comparable"
    )
