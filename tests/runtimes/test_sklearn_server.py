"""The scikit-learn runtime: answers equal the model's own, in-process and as a real process."""

from __future__ import annotations

import pickle
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from modelport.runtimes.protocol import build_app
from modelport.runtimes.serving import ModelLoadError
from modelport.runtimes.sklearn_server import SklearnPredictor

StartRuntime = Callable[[str, str, str, str], tuple[str, "subprocess.Popen[bytes]"]]
RunToExit = Callable[[str, str], "subprocess.CompletedProcess[str]"]


def _client(predictor: SklearnPredictor) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_app(predictor, server_name="sk"))
    return httpx.AsyncClient(transport=transport, base_url="http://runtime")


def _infer_body(X: np.ndarray[Any, Any], outputs: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputs": [
            {"name": "input-0", "shape": list(X.shape), "datatype": "FP64", "data": X.tolist()}
        ]
    }
    if outputs is not None:
        body["outputs"] = [{"name": name} for name in outputs]
    return body


async def test_predict_proba_when_asked(
    iris_path: Path, iris_model: LogisticRegression, iris_X: np.ndarray[Any, Any]
) -> None:
    async with _client(SklearnPredictor.load("iris", str(iris_path))) as client:
        body = _infer_body(iris_X, ["predict_proba", "predict"])
        answer = await client.post("/v2/models/iris/infer", json=body)
    assert answer.status_code == 200, answer.text
    proba, labels = answer.json()["outputs"]
    assert proba["name"] == "predict_proba"
    assert proba["shape"] == [len(iris_X), 3]
    assert proba["datatype"] == "FP64"
    assert proba["data"] == iris_model.predict_proba(iris_X).ravel().tolist()
    assert labels["data"] == iris_model.predict(iris_X).tolist()


async def test_plain_pickle_regressor(tmp_path: Path, iris_X: np.ndarray[Any, Any]) -> None:
    model = LinearRegression().fit(iris_X[:, :3], iris_X[:, 3])
    path = tmp_path / "petal.pkl"
    with path.open("wb") as f:
        pickle.dump(model, f)
    predictor = SklearnPredictor.load("petal", str(path))
    assert [spec.name for spec in predictor.outputs] == ["predict"]
    async with _client(predictor) as client:
        answer = await client.post("/v2/models/petal/infer", json=_infer_body(iris_X[:, :3]))
        v1 = await client.post("/v1/models/petal:predict", json={"instances": [[1.0, 2.0, 3.0]]})
        proba = await client.post(
            "/v2/models/petal/infer", json=_infer_body(iris_X[:, :3], ["predict_proba"])
        )
    (output,) = answer.json()["outputs"]
    assert output["datatype"] == "FP64"
    assert output["data"] == model.predict(iris_X[:, :3]).tolist()
    assert v1.json() == {"predictions": model.predict(np.array([[1.0, 2.0, 3.0]])).tolist()}
    assert proba.status_code == 400
    assert "predict_proba" in proba.json()["error"]


async def test_string_labels_are_bytes(tmp_path: Path, iris_X: np.ndarray[Any, Any]) -> None:
    labels = np.array(["small", "large"])[(iris_X[:, 2] > 3).astype(int)]
    model = LogisticRegression(max_iter=1000).fit(iris_X, labels)
    path = tmp_path / "size.joblib"
    joblib.dump(model, path)
    async with _client(SklearnPredictor.load("size", str(path))) as client:
        answer = await client.post("/v2/models/size/infer", json=_infer_body(iris_X[:3]))
        v1 = await client.post("/v1/models/size:predict", json={"instances": iris_X[:3].tolist()})
    (output,) = answer.json()["outputs"]
    assert output["datatype"] == "BYTES"
    assert output["data"] == model.predict(iris_X[:3]).tolist()
    assert v1.json()["predictions"] == model.predict(iris_X[:3]).tolist()


def test_an_object_without_predict_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "not-a-model.joblib"
    joblib.dump({"weights": [1, 2]}, path)
    with pytest.raises(ModelLoadError, match="predict"):
        SklearnPredictor.load("x", str(path))


def test_real_process_serves_v2_and_v1(
    start_runtime: StartRuntime,
    iris_path: Path,
    iris_model: LogisticRegression,
    iris_X: np.ndarray[Any, Any],
) -> None:
    url, process = start_runtime("sklearn_server", str(iris_path), "iris", "/v2/health/ready")
    with httpx.Client(base_url=url, timeout=10) as client:
        v2 = client.post("/v2/models/iris/infer", json=_infer_body(iris_X))
        v1 = client.post("/v1/models/iris:predict", json={"instances": iris_X.tolist()})
        bad = client.post("/v2/models/iris/infer", json={"inputs": "nope"})
    expected = iris_model.predict(iris_X).tolist()
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == expected
    assert v1.json() == {"predictions": expected}
    assert bad.status_code == 400
    process.send_signal(signal.SIGTERM)
    # uvicorn drains, then re-raises SIGTERM: the status says "stopped", not "crashed".
    assert process.wait(timeout=15) == -signal.SIGTERM


def test_missing_model_exits_with_one_line(run_to_exit: RunToExit, tmp_path: Path) -> None:
    missing = tmp_path / "missing.joblib"
    result = run_to_exit("sklearn_server", str(missing))
    assert result.returncode != 0
    assert f"modelport-runtime: cannot load model '{missing}': no such file" in result.stderr


def test_garbage_model_exits_nonzero(run_to_exit: RunToExit, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"this is not a pickle")
    result = run_to_exit("sklearn_server", str(garbage))
    assert result.returncode != 0
    assert f"modelport-runtime: cannot load model '{garbage}':" in result.stderr
