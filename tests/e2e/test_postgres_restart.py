"""PostgreSQL stopped and started again under a running `modelport serve`, on a cluster of the
test's own (the machine's shared server is never touched; see `tests/e2e/postgres.py`).

While the database is down the gateway keeps serving from its routing snapshot, and the API
answers 503 `temporary` with `Retry-After` at once (never a 500, never a hang). Once it is
back the same server reconnects by itself: writes and reads work, the controller's passes go
on, and the gateway's counts are flushed with none lost or counted twice. Writes cut off by
the outage are all-or-nothing: a service created with eight deployments exists whole or not
at all. Both a clean shutdown (`pg_ctl stop -m fast`) and a crash (`-m immediate`) are tried.
Last, the server is stopped (SIGTERM) while its database is down: it still stops every replica.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import DEADLINE, Serve, replica_processes, wait_for
from tests.e2e.postgres import Cluster, cluster
from tests.e2e.test_gateway import Load
from tests.e2e.test_lifecycle import deploy, iris  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

COMMAND = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]
PARTS = 8  # deployments per service written by `Writers`: the most a service may have
STATUSES = "deleting,failed,pending,degraded,deploying,stopping,running,stopped"


@pytest.fixture
def postgres() -> Iterator[Cluster]:
    """Requested before `serve_factory`, so the server stops before its database goes."""
    with cluster() as c:
        yield c


class Writers:
    """Threads creating services of `PARTS` 0-replica deployments each, until stopped; every
    answer kept: the ids created (201), the status codes, and how many 503s said the
    connection was lost (the create was in flight when the database went)."""

    def __init__(self, serve: Serve, prefix: str, workers: int = 3) -> None:
        self.prefix = prefix
        self.url = f"{serve.url}/api/v1/services"
        self.headers = {"Authorization": f"Bearer {serve.api_key}"}
        self.codes: Counter[int] = Counter()
        self.created: list[str] = []
        self.other: list[str] = []
        self.cut = 0
        self._n = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work) for _ in range(workers)]

    def _work(self) -> None:
        with httpx.Client(timeout=10) as http:  # an answer within 10 s, or the test fails
            while not self._stop.is_set():
                with self._lock:
                    self._n += 1
                    name = f"multi-{self.prefix}-{self._n}"
                deps = [{"runtime": "command", "command": COMMAND, "replicas": 0}] * PARTS
                r = http.post(
                    self.url, json={"name": name, "deployments": deps}, headers=self.headers
                )
                with self._lock:
                    self.codes[r.status_code] += 1
                    if r.status_code == 201:
                        self.created.append(r.json()["id"])
                    elif r.status_code == 503 and "connection lost" in r.text:
                        self.cut += 1  # in flight when the database went: rolled back
                    elif r.status_code != 503:
                        self.other.append(r.text)

    def answered(self, code: int) -> int:
        with self._lock:
            return self.codes[code]

    def __enter__(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=DEADLINE)


def _unavailable(r: httpx.Response) -> bool:
    body = r.json()
    return (
        r.status_code == 503
        and body["error"]["code"] == "temporary"
        and "database unavailable" in body["error"]["message"]
        and r.headers["retry-after"] == "1"
    )


def _all_services(serve: Serve) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = serve.api("GET", f"/services?limit=100&offset={len(out)}&sort=created_at").json()
        out += page["data"]
        if not page["data"]:
            return out


def test_postgres_restarts_under_the_control_plane(
    postgres: Cluster,
    serve_factory,
    iris,  # noqa: F811 - the imported fixture
) -> None:
    serve: Serve = serve_factory(MODELPORT_DATABASE_URL=postgres.url)
    try:
        _restart_under(serve, postgres, iris[0])

        # stopped while its database is down, the server still stops every replica
        postgres.stop("immediate")
        serve.stop()
        assert replica_processes(serve.home) == []
        log = (serve.home / "serve.log").read_text()
        assert "stopping every replica the backend finds" in log
    finally:
        if serve.proc is not None and not postgres.running:
            postgres.start()  # a failure above: let the server stop with its store


def _restart_under(serve: Serve, postgres: Cluster, model: Path) -> None:
    serve.start()
    svc = deploy(serve, model, replicas=2)
    sid = svc["id"]
    serve.wait_status(sid, "running", ready=2)
    key = serve.api("GET", f"/services/{sid}/key").json()["key"]
    replicas = {r["id"]: r for r in serve.api("GET", f"/services/{sid}/replicas").json()["data"]}
    revision = serve.service(sid)["revision"]
    created: list[str] = []
    figures = []

    with Load(svc["url"], key) as load:
        load.more(50)
        for mode in ("fast", "immediate"):
            with Writers(serve, mode) as writers:
                wait_for(lambda w=writers: w.answered(201) >= 3, what="services being created")
                postgres.stop(mode)
                sent = load.sent
                # the writes in flight got a 503 or were committed whole; later ones get 503
                wait_for(lambda w=writers: w.answered(503) >= 3, what="creates refused")
            created += writers.created
            assert set(writers.codes) == {201, 503}, (writers.codes, writers.other)

            # down: the data plane serves from its snapshot; the API says 503, at once
            load.more(100)
            for method, path, body in [
                ("GET", f"/services/{sid}", None),
                ("GET", "/services", None),
                ("PATCH", f"/services/{sid}", {"description": "while down"}),
                ("POST", f"/services/{sid}/scale", {"replicas": 3}),
            ]:
                r = serve.api(method, path, json=body, timeout=10)
                assert _unavailable(r), (method, path, r.status_code, r.text)
            assert serve.http.get(f"{serve.url}/api/v1/healthz").status_code == 200
            during = load.sent - sent

            # back: the same server writes again, without a restart
            postgres.start()
            back = time.monotonic()

            def written(mode: str = mode) -> bool:
                body = {"description": f"after {mode}"}
                return serve.api("PATCH", f"/services/{sid}", json=body).status_code == 200

            wait_for(written, what="a write after the restart")
            took = time.monotonic() - back
            revision += 1
            assert serve.service(sid)["revision"] == revision  # the refused writes did nothing

            # the controller's passes go on: a new service is reconciled to `stopped`
            deps = [{"runtime": "command", "command": COMMAND, "replicas": 0}]
            r = serve.api("POST", "/services", json={"name": f"after-{mode}", "deployments": deps})
            assert r.status_code == 201, r.text
            serve.wait_status(r.json()["id"], "stopped")
            figures.append(
                f"{mode}: {during} calls while down, 0 failed; "
                f"first write {took:.2f} s after PostgreSQL was back; "
                f"{sum(writers.codes.values())} creates: {dict(writers.codes)}, "
                f"{writers.cut} of them cut off in flight"
            )
        load.more(50)
    assert load.errors == []
    assert dict(load.codes) == {200: load.sent}

    # every call counted exactly once: the counts held while the store was away are flushed
    # after it, and a flush the outage cut short was neither lost nor applied twice
    def counted() -> dict[str, Any] | None:
        s = serve.service(sid)
        return s if s["invocation_count"] >= load.sent else None

    final = wait_for(counted, what=f"{load.sent} invocations in the store")
    assert final["invocation_count"] == load.sent
    assert final["failure_count"] == 0
    assert sum(d["invocation_count"] for d in final["deployments"]) == load.sent

    # no half-written service: every one has all its deployments, every 201 is there, and the
    # trigger-kept counts (the totals of status-filtered lists) agree with the rows
    services = _all_services(serve)
    ids = [s["id"] for s in services]
    assert len(ids) == len(set(ids))
    assert set(created) <= set(ids)
    for s in services:
        if s["name"].startswith("multi-"):
            assert len(s["deployments"]) == PARTS, s
    counted_total = serve.api("GET", f"/services?status={STATUSES}&limit=0").json()["total"]
    assert counted_total == serve.api("GET", "/services?limit=0").json()["total"] == len(ids)

    # the replicas were never touched: same ones, no restart
    after = {r["id"]: r for r in serve.api("GET", f"/services/{sid}/replicas").json()["data"]}
    assert after.keys() == replicas.keys()
    assert all(r["restarts"] == 0 and r["state"] == "ready" for r in after.values())
    log = (serve.home / "serve.log").read_text()
    assert "unhandled error" not in log and "Traceback" not in log
    failed = log.count("reconcile pass failed")
    assert failed >= 2  # one per outage at least; each only a warning line
    print(f"{'; '.join(figures)}; {failed} controller passes failed; {load.sent} calls in all")
