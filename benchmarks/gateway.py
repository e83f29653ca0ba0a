"""What a request costs through the gateway, against the replica alone, nginx and Ray Serve.

One run, loopback only, bounded in time. The script trains the iris classifier, saves it with
joblib, and calls the same model four ways, with the same one-row request:

- direct:    our sklearn runtime (`python -m modelport.runtimes.sklearn_server`) alone;
- nginx:     nginx in front of that replica (upstream keepalive 64, HTTP/1.1, one worker);
- modelport: `modelport serve` in a throw-away MODELPORT_HOME, the model deployed through the
             API with one replica, called at the service's `url` with its key;
- ray-serve: a Ray Serve deployment loading the same file, one replica, behind Ray's HTTP proxy
             (run with the bench virtualenv's python; skipped, saying why, without one).

Servers are pinned to core 0, wrk (one thread) to core 1, so req/s shows the CPU per request.
Each case runs at 1 and 32 connections (`--connections`) after a short warm-up. Two tables come
out: req/s and latency with the ratio to direct and the p50 added, and CPU milliseconds per
request of each process (user+sys from psutil, before/after the measured run, divided by the
requests wrk counted), with the share of each core that went to anything else. The servers are
started in turn and stopped after their case; every process started is stopped at the end,
Ctrl-C included.

    .venv/bin/python benchmarks/gateway.py [--seconds 10] [--quick] [--connections 1,32]
        [--protocol v2|v1] [--targets nginx,modelport,ray-serve]
        [--ray-python .venv-bench/bin/python] [--gateway-scheduling batch|default]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
from _harness import (
    CORE_NOTE,
    BenchError,
    Components,
    Fleet,
    Load,
    Server,
    bench_python,
    check_answer,
    connection_counts,
    fleet,
    free_port,
    http_json,
    machine_line,
    measure,
    missing_modules,
    only,
    progress,
    request_body,
    request_path,
    table,
    train_iris,
    whole_tree,
    wrk_available,
)

HERE = Path(__file__).resolve().parent
TARGETS = ("nginx", "modelport", "ray-serve")  # besides direct, the baseline

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream replica {{
        server {upstream};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replica;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


class Run:
    """One benchmark run: its options, its fleet, and the rows measured so far."""

    def __init__(self, args: argparse.Namespace, servers: Fleet) -> None:
        self.args = args
        self.servers = servers
        self.body = request_body(args.protocol)
        self.path = request_path(args.protocol)
        self.results: list[tuple[str, int, Load]] = []
        self.skipped: list[str] = []
        self.expected: object = None

    def bench(
        self, target: str, base: str, components: Components, headers: dict[str, str] | None = None
    ) -> None:
        """Check one answer, then measure `base + path` at each connection count."""
        url = base.rstrip("/") + self.path
        got = check_answer(target, self.args.protocol, url, headers or {})
        if self.expected is None:
            self.expected = got
        elif got != self.expected:
            raise BenchError(f"{target}: predicted {got!r}, direct predicted {self.expected!r}")
        for n in self.args.connections:
            progress(f"  {target}: {n} connection(s), {self.args.seconds} s")
            load = measure(
                self.servers.workdir,
                url,
                self.body,
                headers or {},
                n,
                self.args.seconds,
                self.args.warmup,
                components,
            )
            self.results.append((target, n, load))


# --- the targets ----------------------------------------------------------------------------


def start_replica(servers: Fleet, model: Path) -> tuple[Server, str]:
    port = free_port()
    argv = [sys.executable, "-m", "modelport.runtimes.sklearn_server", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--model-uri", str(model), "--model-name", "iris"]
    replica = servers.start("replica", argv)
    base = f"http://127.0.0.1:{port}"
    replica.wait_http(f"{base}/v2/health/ready")
    return replica, base


def bench_nginx(run: Run, upstream: str, replica: Server) -> None:
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if nginx is None:
        raise BenchError("nginx is not installed (apt-get install -y nginx)")
    conf_dir = run.servers.workdir / "nginx"
    conf_dir.mkdir()
    conf_dir.chmod(0o755)  # a root master runs its worker as nobody
    port = free_port()
    conf = conf_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=conf_dir, upstream=upstream, port=port))
    argv = [nginx, "-p", str(conf_dir), "-c", str(conf), "-e", str(conf_dir / "error.log")]
    server = run.servers.start("nginx", argv)
    try:
        server.wait_http(f"http://127.0.0.1:{port}/", timeout=20)
        components = {"replica": only(replica), "nginx": whole_tree(server)}
        run.bench("nginx", f"http://127.0.0.1:{port}", components)
    finally:
        server.stop()


def _is_replica(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return any("modelport.runtimes." in part for part in proc.cmdline())
    return False


def bench_modelport(run: Run, model: Path) -> None:
    home = run.servers.workdir / "modelport-home"
    api_port, gateway_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env |= {
        "MODELPORT_HOME": str(home),
        "MODELPORT_HOST": "127.0.0.1",
        "MODELPORT_PORT": str(api_port),
        "MODELPORT_GATEWAY_PORT": str(gateway_port),
        "MODELPORT_LOG_LEVEL": "warning",
        "MODELPORT_GATEWAY_BATCH_SCHEDULING": str(run.args.gateway_scheduling == "batch").lower(),
    }
    server = run.servers.start(
        "modelport serve", [sys.executable, "-m", "modelport", "serve"], env=env
    )
    try:
        api = f"http://127.0.0.1:{api_port}/api/v1"
        server.wait_http(f"{api}/healthz")
        creds = home / "credentials"
        key = server.wait_until(
            lambda: creds.exists() and json.loads(creds.read_text()).get("api_key"),
            30,
            "credentials file",
        )
        auth = {"Authorization": f"Bearer {key}"}

        def call(method: str, path: str, body: object = None) -> dict[str, object]:
            data = None if body is None else json.dumps(body).encode()
            status, answer = http_json(method, f"{api}{path}", data, auth)
            if status >= 300:
                raise BenchError(f"modelport: {method} {path} answered {status}: {answer}")
            return dict(answer)

        found = call("POST", "/models", {"name": "iris", "uri": str(model), "framework": "sklearn"})
        spec = {"name": "iris-bench", "deployments": [{"model_id": found["id"], "replicas": 1}]}
        service = call("POST", "/services", spec)
        sid = service["id"]

        def running() -> bool:
            status = call("GET", f"/services/{sid}")["status"]
            if status == "failed":
                raise server.failed(f"service {sid} failed")
            return status == "running"

        server.wait_until(running, 120, f"service {sid} running")
        service_key = call("GET", f"/services/{sid}/key")["key"]

        def replicas() -> list[psutil.Process]:
            return [p for p in server.process.children(recursive=True) if _is_replica(p)]

        def serve_itself() -> list[psutil.Process]:
            tree = server.tree()
            return [p for p in tree if not _is_replica(p)]

        replica = server.wait_until(replicas, 10, "replica process")[0]
        progress(
            f"  modelport: service {sid} at {service['url']} (API port {api_port}, gateway port "
            f"{gateway_port}), replica pid {replica.pid}"
        )
        components = {"replica": lambda: [replica], "modelport serve": serve_itself}
        headers = {"Authorization": f"Bearer {service_key}"}
        run.bench("modelport", str(service["url"]), components, headers)
    finally:
        server.stop()


def bench_ray(run: Run, model: Path, python: Path) -> None:
    port = free_port()
    temp = run.servers.workdir / "ray"
    argv = [str(python), str(HERE / "_ray_serve.py"), "--port", str(port)]
    argv += ["--model-uri", str(model), "--protocol", run.args.protocol, "--temp-dir", str(temp)]
    server = run.servers.start("ray serve", argv)
    try:
        server.wait_until(lambda: "ready" in _lines(server.log), 300, "ready")

        def titled(*words: str) -> list[psutil.Process]:
            return [p for p in server.tree() if _title(p).startswith(words)]

        def rest() -> list[psutil.Process]:
            serving = ("ray::ServeReplica", "ray::ProxyActor")
            return [p for p in server.tree() if not _title(p).startswith(serving)]

        components = {
            "replica": lambda: titled("ray::ServeReplica"),
            "ray proxy": lambda: titled("ray::ProxyActor"),
            "ray other": rest,  # the driver, GCS, raylet, agents, the Serve controller
        }
        run.bench("ray-serve", f"http://127.0.0.1:{port}", components)
    finally:
        server.stop(grace=60)


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(errors="replace").splitlines()]


def _title(proc: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(proc.cmdline())
    return ""


# --- main -----------------------------------------------------------------------------------


def report(run: Run) -> None:
    direct = {n: load for target, n, load in run.results if target == "direct"}
    rows = []
    for target, n, load in run.results:
        base = direct[n]
        rows.append(
            [
                target,
                n,
                load.rps,
                load.p50_ms,
                load.p99_ms,
                load.rps / base.rps,
                load.p50_ms - base.p50_ms,
                load.errors,
            ]
        )
    header = ["target", "conns", "req/s", "p50 ms", "p99 ms", "x direct", "+p50 ms", "errors"]
    print(f"\nprotocol {run.args.protocol} ({run.path}), {run.args.seconds} s per case")
    print(machine_line())
    print(table(header, rows))
    names = list(dict.fromkeys(name for _, _, load in run.results for name in load.cpu_ms))
    cpu_rows = []
    for target, n, load in run.results:
        cells: list[object] = [target, n]
        cells += [load.cpu_ms.get(name, "-") for name in names]
        cells += [sum(load.cpu_ms.values()), load.other]
        cpu_rows.append(cells)
    print("\nCPU ms per request (user+sys of each process during the measured run / requests)")
    print(table(["target", "conns", *names, "total", "other c0/c1"], cpu_rows))
    print(CORE_NOTE)
    for line in run.skipped:
        print(f"skipped: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per case")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per case")
    parser.add_argument("--quick", action="store_true", help="2 s per case, 1 s warm-up")
    parser.add_argument("--connections", type=connection_counts, default=(1, 32), help="1,32")
    parser.add_argument("--protocol", choices=("v2", "v1"), default="v2")
    parser.add_argument("--ray-python", help="python with ray[serve] (default .venv-bench)")
    parser.add_argument(
        "--gateway-scheduling",
        choices=("batch", "default"),
        default="batch",
        help="the gateway's CPU policy (MODELPORT_GATEWAY_BATCH_SCHEDULING; default: batch)",
    )
    parser.add_argument(
        "--targets",
        type=lambda text: set(text.split(",")),
        default=set(TARGETS),
        help="which of nginx,modelport,ray-serve to run besides direct (default: all)",
    )
    args = parser.parse_args()
    if unknown := args.targets - set(TARGETS):
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    if args.quick:
        args.seconds, args.warmup = 2, 1
    if why := wrk_available():
        raise SystemExit(why)
    with fleet() as servers:
        run = Run(args, servers)
        model = servers.workdir / "iris.joblib"
        train_iris(model)
        progress("direct")
        replica, base = start_replica(servers, model)
        run.bench("direct", base, {"replica": only(replica)})
        steps = [
            ("nginx", lambda: bench_nginx(run, base.removeprefix("http://"), replica)),
            ("modelport", lambda: bench_modelport(run, model)),
        ]
        if "ray-serve" in args.targets:
            python, why = bench_python(args.ray_python)
            if python is not None:
                why = missing_modules(python, ("ray.serve", "sklearn", "joblib"))
            if why:
                run.skipped.append(f"ray-serve: {why}")
            else:
                assert python is not None
                steps.append(("ray-serve", lambda: bench_ray(run, model, python)))
        for name, step in steps:
            if name not in args.targets:
                continue
            progress(name)
            try:
                step()
            except (BenchError, OSError, subprocess.SubprocessError) as exc:
                run.skipped.append(f"{name}: {exc}")
                progress(f"  {name} failed: {exc}")
        report(run)


if __name__ == "__main__":
    main()
