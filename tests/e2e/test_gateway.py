"""The gateway in front of real replica processes, under a bounded load: a killed replica and
a scale-down drop no call, the counts in the store match the calls sent, and a separate
`modelport gateway` on the same store (PostgreSQL, or SQLite on one machine) follows the control
plane's routing changes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from tests.e2e.conftest import DEADLINE, Serve, replica_processes, wait_for
from tests.e2e.test_lifecycle import ROWS, deploy, iris  # noqa: F401 - a fixture
from tests.ports import free_port

pytestmark = pytest.mark.e2e

BODY = {"instances": ROWS}


class Load:
    """`workers` threads calling the service until stopped; every answer's status counted."""

    def __init__(self, url: str, key: str, workers: int = 4) -> None:
        self.url = f"{url}/v1/models/iris:predict"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.codes: Counter[int] = Counter()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work) for _ in range(workers)]

    @property
    def sent(self) -> int:
        with self._lock:
            return sum(self.codes.values()) + len(self.errors)

    def _work(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                try:
                    code = http.post(self.url, json=BODY, headers=self.headers).status_code
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.errors.append(repr(exc))
                    continue
                with self._lock:
                    self.codes[code] += 1

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=DEADLINE)

    def more(self, n: int) -> None:
        """Wait until `n` more calls have been answered."""
        target = self.sent + n
        wait_for(lambda: self.sent >= target, what=f"{n} more calls")


def _listens(pid: int, port: int) -> bool:
    try:
        return any(c.laddr.port == port for c in psutil.Process(pid).net_connections())
    except psutil.Error:
        return False


def running(serve_factory: Any, model: Path, replicas: int) -> tuple[Serve, dict[str, Any], str]:
    """A started server with the iris service running `replicas` replicas, and its key."""
    serve: Serve = serve_factory()
    serve.start()
    svc = deploy(serve, model, replicas=replicas)
    serve.wait_status(svc["id"], "running", ready=replicas)
    key = serve.api("GET", f"/services/{svc['id']}/key").json()["key"]
    return serve, svc, str(key)


def test_a_killed_replica_drops_no_call_and_counts_match(serve_factory, iris) -> None:  # noqa: F811
    serve, svc, key = running(serve_factory, iris[0], replicas=2)
    sid = svc["id"]

    with Load(svc["url"], key) as load:
        load.more(100)
        victim = serve.api("GET", f"/services/{sid}/replicas").json()["data"][0]
        port = int(victim["address"].rsplit(":", 1)[1])
        pid = next(p.pid for p in replica_processes(serve.home) if _listens(p.pid, port))
        os.kill(pid, signal.SIGKILL)
        begun = time.monotonic()

        def back() -> bool:
            rs = serve.api("GET", f"/services/{sid}/replicas").json()["data"]
            me = next(r for r in rs if r["id"] == victim["id"])
            return me["restarts"] == 1 and me["state"] == "ready"

        wait_for(back, what="the killed replica back")
        took = time.monotonic() - begun
        load.more(100)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}
    print(f"killed replica ready again in {took:.1f} s; {load.sent} calls, 0 failed")

    # every call counted once, for the service and its deployment, flushed in batches
    def counted() -> dict[str, Any] | None:
        s = serve.service(sid)
        return s if s["invocation_count"] == load.sent else None

    final = wait_for(counted, what=f"{load.sent} invocations in the store")
    assert final["failure_count"] == 0
    assert sum(d["invocation_count"] for d in final["deployments"]) == load.sent


def test_scale_down_drains_and_drops_no_call(serve_factory, iris) -> None:  # noqa: F811
    serve, svc, key = running(serve_factory, iris[0], replicas=2)
    sid = svc["id"]

    with Load(svc["url"], key) as load:
        load.more(100)
        assert serve.api("POST", f"/services/{sid}/scale", json={"replicas": 1}).status_code == 200
        wait_for(lambda: len(replica_processes(serve.home)) == 1, what="one replica left")
        serve.wait_status(sid, "running", ready=1)
        load.more(100)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}


def test_a_canary_takes_its_share_and_over_without_a_dropped_call(
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
) -> None:
    serve, svc, key = running(serve_factory, iris[0], replicas=1)
    sid, v1 = svc["id"], svc["deployments"][0]["id"]
    model = svc["deployments"][0]["model_id"]

    def calls_of(deployment: str) -> int:
        deps = serve.service(sid)["deployments"]
        return next((d["invocation_count"] for d in deps if d["id"] == deployment), 0)

    with Load(svc["url"], key) as load:
        load.more(50)
        r = serve.api(
            "POST",
            f"/services/{sid}/deployments",
            json={"model_id": model, "replicas": 1, "weight": 0},
        )
        assert r.status_code == 201, r.text
        v2 = r.json()["deployments"][1]["id"]
        serve.wait_status(sid, "running", ready=2)
        load.more(50)
        assert calls_of(v2) == 0  # weight 0: ready, but no call yet

        weights = {"weights": {v1: 50, v2: 50}}
        assert serve.api("POST", f"/services/{sid}/weights", json=weights).status_code == 200
        wait_for(lambda: calls_of(v2) > 0, what="the canary taking calls")

        weights = {"weights": {v1: 0, v2: 100}}
        assert serve.api("POST", f"/services/{sid}/weights", json=weights).status_code == 200
        assert serve.api("DELETE", f"/services/{sid}/deployments/{v1}").status_code == 200
        wait_for(lambda: len(replica_processes(serve.home)) == 1, what="v1's replica gone")
        load.more(50)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}


@contextmanager
def separate_gateway(serve: Serve, workers: int = 2) -> Iterator[str]:
    port = free_port()
    log = (serve.home / "gateway.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelport", "gateway", "--port", str(port)],
        env={**serve.env, "MODELPORT_GATEWAY_WORKERS": str(workers)},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        assert code == 0, (serve.home / "gateway.log").read_text()


def test_a_separate_gateway_follows_the_control_plane(
    database_url: str,  # first: its database is dropped only after the server stops
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
) -> None:
    serve = serve_factory(MODELPORT_DATABASE_URL=database_url)
    serve.start()
    svc = deploy(serve, iris[0], replicas=1)
    sid = svc["id"]
    serve.wait_status(sid, "running", ready=1)
    key = serve.api("GET", f"/services/{sid}/key").json()["key"]

    with separate_gateway(serve) as gateway:
        url = f"{gateway}/services/{sid}/v1/models/iris:predict"

        def code(with_key: str) -> int:
            # a new connection each time: the kernel spreads them over the workers
            auth = {"Authorization": f"Bearer {with_key}"}
            try:
                return httpx.post(url, json=BODY, headers=auth, timeout=10).status_code
            except httpx.ConnectError:
                return 0

        wait_for(lambda: code(key) == 200, what="the separate gateway answering")
        assert [code(key) for _ in range(20)] == [200] * 20  # every worker has the routes

        # a rotated key reaches every worker: the old one is refused everywhere
        new = serve.api("POST", f"/services/{sid}/key/rotate").json()["key"]
        wait_for(lambda: all(code(key) == 401 for _ in range(10)), what="old key refused")
        assert [code(new) for _ in range(20)] == [200] * 20

        # whichever worker takes a scrape, it counts every worker's calls
        def ok_calls() -> int:
            text = httpx.get(f"{gateway}/metrics", timeout=10).text
            line = next(
                (x for x in text.splitlines() if x.startswith("modelport_gateway_requests_total")
                 and 'outcome="ok"' in x),
                "0 0",
            )  # fmt: skip
            return int(float(line.rsplit(" ", 1)[1]))

        wait_for(lambda: all(ok_calls() >= 41 for _ in range(6)), what="merged metrics")

    # the separate gateway's calls are counted in the shared store
    wait_for(lambda: serve.service(sid)["invocation_count"] >= 41, what="counts flushed")
