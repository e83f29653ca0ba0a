"""Fixtures for the runtime tests: an iris model trained per session, and real server processes.

`start_runtime(server, model_uri, model_name, health_path)` launches `python -m
modelport.runtimes.<server>` on a free port, polls its health path until a deadline, and returns
`(base_url, process)`; teardown always stops it (SIGTERM, then kill). `run_to_exit(server,
model_uri)` runs one that should exit by itself. Tests use fixtures only, never import this file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from tests.ports import free_port

RUNTIME_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
READY_DEADLINE_S = 90.0
STOP_TIMEOUT_S = 15.0


@pytest.fixture(scope="session")
def iris_X() -> np.ndarray[Any, Any]:
    X: np.ndarray[Any, Any] = load_iris(return_X_y=True)[0]
    return X


@pytest.fixture(scope="session")
def iris_model() -> LogisticRegression:
    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.fixture(scope="session")
def iris_path(tmp_path_factory: pytest.TempPathFactory, iris_model: LogisticRegression) -> Path:
    """The iris model saved with joblib."""
    path = tmp_path_factory.mktemp("iris") / "iris.joblib"
    joblib.dump(iris_model, path)
    return path


def runtime_command(server: str, model_uri: str, model_name: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", f"modelport.runtimes.{server}",
        "--host", "127.0.0.1", "--port", str(port),
        "--model-uri", model_uri, "--model-name", model_name,
    ]  # fmt: skip


def runtime_env() -> dict[str, str]:
    return {**os.environ, **RUNTIME_ENV}


@dataclass
class RuntimeProcess:
    url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, wait, kill as a fallback; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        return self.process.returncode


def _wait_healthy(runtime: RuntimeProcess, health_path: str) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    with httpx.Client(base_url=runtime.url, timeout=0.5) as client:
        while True:
            if runtime.process.poll() is not None:
                pytest.fail(f"runtime exited {runtime.process.returncode}:\n{runtime.stderr()}")
            try:
                if client.get(health_path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"runtime not healthy after {READY_DEADLINE_S}s:\n{runtime.stderr()}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                runtime.process.wait(timeout=0.1)  # the pause between polls; ends if it dies


StartRuntime = Callable[[str, str, str, str], tuple[str, "subprocess.Popen[bytes]"]]


@pytest.fixture
def start_runtime(tmp_path: Path) -> Iterator[StartRuntime]:
    """Start `(server, model_uri, model_name, health_path)` and wait until it answers 200."""
    started: list[RuntimeProcess] = []

    def start(
        server: str, model_uri: str, model_name: str, health_path: str
    ) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        stderr_path = tmp_path / f"{server}-{port}.stderr"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                runtime_command(server, model_uri, model_name, port),
                env=runtime_env(),
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        runtime = RuntimeProcess(f"http://127.0.0.1:{port}", process, stderr_path)
        started.append(runtime)
        _wait_healthy(runtime, health_path)
        return runtime.url, process

    try:
        yield start
    finally:
        for runtime in started:
            runtime.stop()


def _run_to_exit(server: str, model_uri: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        runtime_command(server, model_uri, "m", free_port()),
        env=runtime_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=READY_DEADLINE_S,
        check=False,
    )


@pytest.fixture
def run_to_exit() -> Callable[[str, str], subprocess.CompletedProcess[str]]:
    """Run `(server, model_uri)`, a runtime expected to exit by itself (its model cannot load)."""
    return _run_to_exit
