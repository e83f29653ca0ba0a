"""A PostgreSQL cluster of a test's own, to stop and start under a running server.

The machine's PostgreSQL is shared (CI, other tests): a test that restarts the database must
never touch it. `Cluster` runs `initdb` into a fresh directory and `pg_ctl` on a free
loopback port, as the `postgres` OS user when the tests run as root (PostgreSQL refuses to
run as root), with trust authentication and `fsync=off` (a throwaway cluster; commits still
reach the WAL before they are acknowledged, so a crash of the server loses none). `cluster()`
stops it (immediately) and removes its directory, also when the test fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> str:
        cmd = [str(BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise AssertionError(f"{args[0]} failed: {done.stdout}{done.stderr}\n{tail}")
        return done.stdout

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w",
            "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are ended, a clean shutdown; `immediate`: a crash, recovered from
        the WAL at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def cluster() -> Iterator[Cluster]:
    """A started cluster; stopped and removed afterwards, whatever happened."""
    root = Path(tempfile.mkdtemp(prefix="modelport-pg-"))
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
    c = Cluster(root)
    try:
        c.init()
        c.start()
        yield c
    finally:
        try:
            if c.running:
                c.stop("immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)
