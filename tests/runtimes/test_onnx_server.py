"""The ONNX runtime: answers equal onnxruntime's own, in-process and as a real process.

Models are the session's iris LogisticRegression converted with skl2onnx (with and without the
ZipMap that makes "output_probability" a sequence of maps), and a two-input graph built by hand.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from modelport.runtimes.onnx_server import OnnxPredictor
from modelport.runtimes.protocol import build_app

StartRuntime = Callable[[str, str, str, str], tuple[str, "subprocess.Popen[bytes]"]]
RunToExit = Callable[[str, str], "subprocess.CompletedProcess[str]"]


def _convert(model: LogisticRegression, X: np.ndarray[Any, Any], path: Path, **kw: Any) -> Path:
    onx = to_onnx(model, X[:1].astype(np.float32), **kw)
    path.write_bytes(onx.SerializeToString())
    return path


@pytest.fixture(scope="module")
def zipmap_path(
    tmp_path_factory: pytest.TempPathFactory,
    iris_model: LogisticRegression,
    iris_X: np.ndarray[Any, Any],
) -> Path:
    return _convert(iris_model, iris_X, tmp_path_factory.mktemp("onnx") / "iris.onnx")


@pytest.fixture(scope="module")
def tensor_path(
    tmp_path_factory: pytest.TempPathFactory,
    iris_model: LogisticRegression,
    iris_X: np.ndarray[Any, Any],
) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "iris-nozipmap.onnx"
    return _convert(iris_model, iris_X, path, options={"zipmap": False})


@pytest.fixture(scope="module")
def add_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graph with two float inputs "a" and "b" of shape [N, 2] and one output "sum"."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 2])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 2])
    out = helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["N", 2])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["sum"])], "add", [a, b], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("onnx") / "add.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture
async def client(zipmap_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(OnnxPredictor.load("iris", str(zipmap_path)), server_name="onnx")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://runtime") as client:
        yield client


def _tensor(name: str, X: np.ndarray[Any, Any], datatype: str = "FP32") -> dict[str, Any]:
    return {"name": name, "shape": list(X.shape), "datatype": datatype, "data": X.ravel().tolist()}


async def test_metadata_lists_tensor_outputs_only(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v2/models/iris")
    assert answer.json() == {
        "name": "iris",
        "versions": [],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "output_label", "datatype": "INT64", "shape": [-1]}],
    }


@pytest.mark.parametrize(("name", "datatype"), [("X", "FP32"), ("anything", "FP64")])
async def test_infer_matches_onnxruntime(
    client: httpx.AsyncClient,
    zipmap_path: Path,
    iris_model: LogisticRegression,
    iris_X: np.ndarray[Any, Any],
    name: str,
    datatype: str,
) -> None:
    body = {"id": "7", "inputs": [_tensor(name, iris_X, datatype)]}
    answer = await client.post("/v2/models/iris/infer", json=body)
    assert answer.status_code == 200, answer.text
    (labels,) = _session(zipmap_path).run(["output_label"], {"X": iris_X.astype(np.float32)})
    assert answer.json() == {
        "model_name": "iris",
        "id": "7",
        "outputs": [
            {
                "name": "output_label",
                "shape": [len(iris_X)],
                "datatype": "INT64",
                "data": labels.tolist(),
            }
        ],
    }
    assert labels.tolist() == iris_model.predict(iris_X).tolist()


async def test_v1_predicts_the_first_output(
    client: httpx.AsyncClient, zipmap_path: Path, iris_X: np.ndarray[Any, Any]
) -> None:
    answer = await client.post("/v1/models/iris:predict", json={"instances": iris_X.tolist()})
    assert answer.status_code == 200, answer.text
    (labels,) = _session(zipmap_path).run(["output_label"], {"X": iris_X.astype(np.float32)})
    assert answer.json() == {"predictions": labels.tolist()}


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"inputs": [_tensor("X", np.ones((2, 3)))]}, "rejected the input"),
        ({"inputs": [_tensor("X", np.ones(4))]}, "rejected the input"),
        ({"inputs": [_tensor("X", np.array(["a", "b"]), "BYTES")]}, "input 'X'"),
        ({"inputs": [_tensor("X", np.ones((1, 4)))], "outputs": [{"name": "output_probability"}]},
         "output 'output_probability'"),
        ({"inputs": [_tensor("X", np.ones((1, 4))), _tensor("Y", np.ones((1, 4)))]}, "input 'Y'"),
    ],
)  # fmt: skip
async def test_bad_requests_are_400(client: httpx.AsyncClient, body: Any, names: str) -> None:
    answer = await client.post("/v2/models/iris/infer", json=body)
    assert answer.status_code == 400, answer.text
    assert names in answer.json()["error"]


async def test_bad_v1_instances_are_400(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/models/iris:predict", json={"instances": [[1.0, 2.0]]})
    assert answer.status_code == 400
    assert "rejected the input" in answer.json()["error"]


async def test_probabilities_as_a_tensor(tensor_path: Path, iris_X: np.ndarray[Any, Any]) -> None:
    predictor = OnnxPredictor.load("iris", str(tensor_path))
    assert [spec.name for spec in predictor.outputs] == ["label", "probabilities"]
    app = build_app(predictor, server_name="onnx")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://runtime"
    ) as client:
        body = {"inputs": [_tensor("X", iris_X)], "outputs": [{"name": "probabilities"}]}
        answer = await client.post("/v2/models/iris/infer", json=body)
    assert answer.status_code == 200, answer.text
    (proba,) = _session(tensor_path).run(["probabilities"], {"X": iris_X.astype(np.float32)})
    (output,) = answer.json()["outputs"]
    assert output["datatype"] == "FP32"
    assert output["shape"] == [len(iris_X), 3]
    assert output["data"] == proba.ravel().tolist()


async def test_inputs_are_matched_by_name(add_path: Path) -> None:
    app = build_app(OnnxPredictor.load("add", str(add_path)), server_name="onnx")
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[10.0, 20.0], [30.0, 40.0]])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://runtime"
    ) as client:
        good = await client.post(
            "/v2/models/add/infer", json={"inputs": [_tensor("b", b), _tensor("a", a)]}
        )
        missing = await client.post("/v2/models/add/infer", json={"inputs": [_tensor("a", a)]})
        unknown = await client.post(
            "/v2/models/add/infer", json={"inputs": [_tensor("a", a), _tensor("c", b)]}
        )
    assert good.status_code == 200, good.text
    assert good.json()["outputs"] == [_tensor("sum", (a + b).astype(np.float32))]
    assert missing.status_code == 400
    assert "input 'b'" in missing.json()["error"]
    assert unknown.status_code == 400
    assert "input 'c'" in unknown.json()["error"]


def test_real_process_serves_v2_and_v1(
    start_runtime: StartRuntime, zipmap_path: Path, iris_X: np.ndarray[Any, Any]
) -> None:
    url, process = start_runtime("onnx_server", str(zipmap_path), "iris", "/v2/health/ready")
    with httpx.Client(base_url=url, timeout=10) as client:
        v2 = client.post("/v2/models/iris/infer", json={"inputs": [_tensor("X", iris_X)]})
        v1 = client.post("/v1/models/iris:predict", json={"instances": iris_X.tolist()})
    (labels,) = _session(zipmap_path).run(["output_label"], {"X": iris_X.astype(np.float32)})
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == labels.tolist()
    assert v1.json() == {"predictions": labels.tolist()}
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == -signal.SIGTERM


def test_missing_model_exits_with_one_line(run_to_exit: RunToExit, tmp_path: Path) -> None:
    missing = tmp_path / "missing.onnx"
    result = run_to_exit("onnx_server", str(missing))
    assert result.returncode != 0
    assert f"modelport-runtime: cannot load model '{missing}': no such file" in result.stderr
