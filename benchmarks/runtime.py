"""Our scikit-learn runtime against KServe's own Python model server, same model, same request.

One run, loopback only, bounded in time. The script trains the iris classifier, saves it with
joblib, and serves it twice, one server at a time, each pinned to core 0:

- modelport: `python -m modelport.runtimes.sklearn_server` (this virtualenv);
- kserve:    a `kserve.Model` subclass in `kserve.ModelServer`, one worker (`_kserve_server.py`,
             run with the bench virtualenv's python; skipped, saying why, without one).

wrk (one thread, core 1) sends the same one-row request to both over the same protocol: Open
Inference Protocol v2 (`/v2/models/iris/infer`, default) or KServe v1 (`:predict`), at 1 and 32
connections after a short warm-up. Prints req/s, p50, p99, our req/s over KServe's (the goal is
at least 2x), and each server's CPU milliseconds per request. Every process started is stopped
at the end, Ctrl-C included.

    .venv/bin/python benchmarks/runtime.py [--seconds 10] [--quick] [--connections 1,32]
        [--protocol v2|v1] [--bench-python .venv-bench/bin/python]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from _harness import (
    CORE_NOTE,
    BenchError,
    Fleet,
    Load,
    Server,
    bench_python,
    check_answer,
    connection_counts,
    fleet,
    free_port,
    machine_line,
    measure,
    missing_modules,
    only,
    progress,
    request_body,
    request_path,
    table,
    train_iris,
    wrk_available,
)

HERE = Path(__file__).resolve().parent
GOAL = 2.0


def bench(
    args: argparse.Namespace, servers: Fleet, name: str, server: Server, port: int
) -> tuple[object, dict[int, Load]]:
    """Wait for `server`, check its answer, measure it at each connection count, stop it."""
    base = f"http://127.0.0.1:{port}"
    try:
        server.wait_http(f"{base}/v2/health/ready", timeout=120)
        url = base + request_path(args.protocol)
        got = check_answer(name, args.protocol, url, {})
        loads = {}
        for n in args.connections:
            progress(f"  {name}: {n} connection(s), {args.seconds} s")
            loads[n] = measure(
                servers.workdir,
                url,
                request_body(args.protocol),
                {},
                n,
                args.seconds,
                args.warmup,
                {name: only(server)},
            )
        return got, loads
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per case")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per case")
    parser.add_argument("--quick", action="store_true", help="2 s per case, 1 s warm-up")
    parser.add_argument("--connections", type=connection_counts, default=(1, 32), help="1,32")
    parser.add_argument("--protocol", choices=("v2", "v1"), default="v2")
    parser.add_argument("--bench-python", help="python with kserve (default .venv-bench)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = 2, 1
    if why := wrk_available():
        raise SystemExit(why)
    results: dict[str, dict[int, Load]] = {}
    skipped = ""
    with fleet() as servers:
        model = servers.workdir / "iris.joblib"
        train_iris(model)

        progress("modelport")
        port = free_port()
        argv = [sys.executable, "-m", "modelport.runtimes.sklearn_server", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--model-uri", str(model), "--model-name", "iris"]
        ours = servers.start("modelport", argv)
        expected, results["modelport"] = bench(args, servers, "modelport", ours, port)

        progress("kserve")
        python, skipped = bench_python(args.bench_python)
        if python is not None:
            skipped = missing_modules(python, ("kserve", "sklearn", "joblib"))
        if python is not None and not skipped:
            port = free_port()
            argv = [str(python), str(HERE / "_kserve_server.py"), "--port", str(port)]
            argv += ["--model-uri", str(model), "--model-name", "iris"]
            theirs = servers.start("kserve", argv)
            try:
                got, results["kserve"] = bench(args, servers, "kserve", theirs, port)
                if got != expected:
                    raise BenchError(f"kserve predicted {got!r}, modelport {expected!r}")
            except (BenchError, OSError, subprocess.SubprocessError) as exc:
                skipped = str(exc)
                results.pop("kserve", None)
    report(args, results, skipped)


def report(args: argparse.Namespace, results: dict[str, dict[int, Load]], skipped: str) -> None:
    theirs = results.get("kserve", {})
    rows = []
    for name, loads in results.items():
        for n, load in loads.items():
            ratio = load.rps / theirs[n].rps if n in theirs else "-"
            cpu, other = load.cpu_ms[name], load.other
            rows.append(
                [name, n, load.rps, load.p50_ms, load.p99_ms, ratio, cpu, other, load.errors]
            )
    header = ["server", "conns", "req/s", "p50 ms", "p99 ms", "x kserve", "CPU ms/req"]
    header += ["other c0/c1", "errors"]
    print(f"\nprotocol {args.protocol} ({request_path(args.protocol)}) on both servers, ", end="")
    print(f"{args.seconds} s per case")
    print(machine_line())
    print(table(header, rows))
    print(CORE_NOTE)
    ours = results["modelport"]
    if theirs:
        ratios = ", ".join(f"{ours[n].rps / theirs[n].rps:.2f}x at {n}" for n in args.connections)
        met = all(ours[n].rps >= GOAL * theirs[n].rps for n in args.connections)
        verdict = "met" if met else "not met"
        print(f"modelport / kserve req/s: {ratios} (goal >= {GOAL:.0f}x: {verdict})")
    else:
        print(f"skipped: kserve: {skipped}")


if __name__ == "__main__":
    main()
