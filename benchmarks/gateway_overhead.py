"""What the gateway costs: the iris model called directly vs through `modelport serve`.

Starts `modelport serve` pinned to core 0 (its replica inherits the pin) in a throw-away
MODELPORT_HOME, deploys the iris classifier with one replica, then drives load from a process
pinned to core 1: the same KServe v1 `:predict` request, first straight at the replica (the
baseline), then through the gateway. Prints req/s, p50 and p99 for each and the ratios to the
baseline, measured in the same run. Bounded: a fixed duration per case, loopback only.

    .venv/bin/python benchmarks/gateway_overhead.py [--seconds 5] [--connections 1,16]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BODY = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def wait(check, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise SystemExit("timed out waiting for the server")


def load(url: str, headers: dict[str, str], connections: int, seconds: float) -> dict[str, float]:
    """Run the load generator in its own process pinned to core 1; return its figures."""
    code = f"""
import asyncio, json, time, httpx
async def worker(c, stop, lat):
    while time.perf_counter() < stop:
        t = time.perf_counter()
        r = await c.post({url!r}, content={BODY!r}, headers={headers!r})
        r.raise_for_status()
        lat.append(time.perf_counter() - t)
async def main():
    lat = []
    limits = httpx.Limits(max_connections={connections}, max_keepalive_connections={connections})
    async with httpx.AsyncClient(limits=limits, timeout=30) as c:
        await c.post({url!r}, content={BODY!r}, headers={headers!r})
        start = time.perf_counter(); stop = start + {seconds}
        await asyncio.gather(*(worker(c, stop, lat) for _ in range({connections})))
        took = time.perf_counter() - start
    lat.sort()
    print(json.dumps({{"rps": len(lat) / took, "p50": lat[len(lat) // 2] * 1e3,
                      "p99": lat[int(len(lat) * 0.99)] * 1e3}}))
asyncio.run(main())
"""
    out = subprocess.run(
        [*pinned(1), sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", default="1,16")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    port = free_port()
    env = {**os.environ, "MODELPORT_HOME": str(home), "MODELPORT_LOG_LEVEL": "warning"}
    server = subprocess.Popen(
        [*pinned(0), sys.executable, "-m", "modelport", "serve", "--port", str(port), "--demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        api = f"http://127.0.0.1:{port}/api/v1"
        http = httpx.Client(timeout=10)

        def creds() -> dict[str, str] | None:
            path = home / "credentials"
            return json.loads(path.read_text()) if path.exists() else None

        key = wait(creds)["api_key"]
        auth = {"Authorization": f"Bearer {key}"}

        def running() -> dict[str, object] | None:
            try:
                data = http.get(f"{api}/services", headers=auth).json()["data"]
            except httpx.HTTPError:
                return None
            return data[0] if data and data[0]["status"] == "running" else None

        svc = wait(running)
        sid = svc["id"]
        replica = http.get(f"{api}/services/{sid}/replicas", headers=auth).json()["data"][0]
        service_key = http.get(f"{api}/services/{sid}/key", headers=auth).json()["key"]
        direct = f"http://{replica['address']}/v1/models/iris:predict"
        gateway = f"http://127.0.0.1:{port}/services/{sid}/v1/models/iris:predict"
        json_ct = {"Content-Type": "application/json"}
        print(
            f"{'connections':>11} {'path':>8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'ratio':>8} {'p50 +ms':>8}"
        )
        for n in (int(c) for c in args.connections.split(",")):
            base = load(direct, json_ct, n, args.seconds)
            via = load(
                gateway, {**json_ct, "Authorization": f"Bearer {service_key}"}, n, args.seconds
            )
            for name, r in (("direct", base), ("gateway", via)):
                print(
                    f"{n:>11} {name:>8} {r['rps']:>8.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} "
                    f"{r['rps'] / base['rps']:>8.2f} {r['p50'] - base['p50']:>8.2f}"
                )
        print(
            "ratios are to the direct call measured in the same run (server on core 0, "
            "load on core 1)"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
