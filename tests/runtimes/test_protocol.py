"""The v2 / v1 dialects of `modelport.runtimes.protocol`: routes, shapes, codec and bad input.

The app is built around a scikit-learn predictor loaded from an iris model the session trains.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelport.runtimes.protocol import (
    DATATYPES,
    InvalidInput,
    TensorSpec,
    build_app,
    decode_tensor,
    encode_tensor,
    to_jsonable,
)
from modelport.runtimes.sklearn_server import SklearnPredictor

NAME = "iris"


@pytest.fixture
async def client(iris_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(SklearnPredictor.load(NAME, str(iris_path)), server_name="test-server")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://runtime") as client:
        yield client


def _tensor(data: Any, shape: Any, datatype: Any = "FP64", name: str = "input-0") -> Any:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


# --- health and metadata ---------------------------------------------------------------------


async def test_health(client: httpx.AsyncClient) -> None:
    live = await client.get("/v2/health/live")
    ready = await client.get("/v2/health/ready")
    assert (live.status_code, live.json()) == (200, {"live": True})
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


async def test_server_metadata(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v2")
    assert answer.status_code == 200
    body = answer.json()
    assert body["name"] == "test-server"
    assert isinstance(body["version"], str)
    assert body["extensions"] == []


async def test_model_metadata(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/v2/models/{NAME}")
    assert answer.status_code == 200
    assert answer.json() == {
        "name": NAME,
        "versions": [],
        "platform": "sklearn",
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
        ],
    }


async def test_model_ready_v2_and_v1(client: httpx.AsyncClient) -> None:
    v2 = await client.get(f"/v2/models/{NAME}/ready")
    v1 = await client.get(f"/v1/models/{NAME}")
    listing = await client.get("/v1/models")
    assert (v2.status_code, v2.json()) == (200, {"name": NAME, "ready": True})
    assert (v1.status_code, v1.json()) == (200, {"name": NAME, "ready": True})
    assert listing.json() == {"models": [NAME]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/other"),
        ("GET", "/v2/models/other/ready"),
        ("POST", "/v2/models/other/infer"),
        ("GET", "/v1/models/other"),
        ("POST", "/v1/models/other:predict"),
    ],
)
async def test_unknown_model_is_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    answer = await client.request(method, path, json={"inputs": [], "instances": []})
    assert answer.status_code == 404
    assert "other" in answer.json()["error"]


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    answer = await client.get("/nowhere")
    assert answer.status_code == 404
    assert "error" in answer.json()


# --- v2 inference ----------------------------------------------------------------------------


async def test_infer_matches_the_model(
    client: httpx.AsyncClient, iris_model: Any, iris_X: np.ndarray[Any, Any]
) -> None:
    body = {"id": "req-1", "inputs": [_tensor(iris_X.ravel().tolist(), list(iris_X.shape))]}
    answer = await client.post(f"/v2/models/{NAME}/infer", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "model_name": NAME,
        "id": "req-1",
        "outputs": [
            {
                "name": "predict",
                "shape": [len(iris_X)],
                "datatype": "INT64",
                "data": iris_model.predict(iris_X).tolist(),
            }
        ],
    }


async def test_infer_accepts_nested_data(
    client: httpx.AsyncClient, iris_model: Any, iris_X: np.ndarray[Any, Any]
) -> None:
    rows = iris_X[:5]
    body = {"inputs": [_tensor(rows.tolist(), [5, 4], name="features")]}
    answer = await client.post(f"/v2/models/{NAME}/infer", json=body)
    assert answer.status_code == 200, answer.text
    assert "id" not in answer.json()
    assert answer.json()["outputs"][0]["data"] == iris_model.predict(rows).tolist()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ([1, 2], "JSON object"),
        ({}, "'inputs'"),
        ({"inputs": "x"}, "'inputs'"),
        ({"inputs": []}, "'inputs'"),
        ({"inputs": [7]}, "inputs[0]"),
        ({"inputs": [{"shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}, "'name'"),
        ({"inputs": [_tensor([1, 2, 3, 4], "1,4")]}, "'shape'"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, -4])]}, "'shape'"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, 4], "FLOAT99")]}, "datatype 'FLOAT99'"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, 4], 32)]}, "'datatype'"),
        ({"inputs": [_tensor("1234", [1, 4])]}, "'data'"),
        ({"inputs": [_tensor(["a", "b", "c", "d"], [1, 4])]}, "'data'"),
        ({"inputs": [_tensor([1, 2, 3], [1, 4])]}, "shape [1, 4] needs 4"),
        ({"inputs": [_tensor([[1, 2], [3]], [1, 3])]}, "ragged"),
        ({"inputs": [_tensor([1.5, 2, 3, 4], [1, 4], "INT64")]}, "INT64"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, 4], "BYTES")]}, "BYTES"),
        ({"inputs": [_tensor([None, 2, 3, 4], [1, 4])]}, "'data'"),
        ({"inputs": [_tensor([1, 2, 3, 4], [4])]}, "shape [N, F]"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, 4]), _tensor([1], [1, 1], name="b")]}, "one input"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, 4])] * 2}, "given twice"),
        ({"inputs": [_tensor([1, 2, 3], [1, 3])]}, "rejected the input"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, 4])], "outputs": [{"name": "x"}]}, "output 'x'"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, 4])], "outputs": ["predict"]}, "outputs[0]"),
        ({"inputs": [_tensor([1, 2, 3, 4], [1, 4])], "outputs": [{}]}, "'name'"),
    ],
)
async def test_bad_infer_requests_are_400(client: httpx.AsyncClient, body: Any, names: str) -> None:
    answer = await client.post(f"/v2/models/{NAME}/infer", json=body)
    assert answer.status_code == 400, answer.text
    assert names in answer.json()["error"]


async def test_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    for path in (f"/v2/models/{NAME}/infer", f"/v1/models/{NAME}:predict"):
        answer = await client.post(path, content=b"{not json")
        assert answer.status_code == 400
        assert "JSON" in answer.json()["error"]


class Broken:
    """A predictor that fails the way a bug would (not a `PredictionError`)."""

    name = "broken"
    platform = "test"
    inputs = [TensorSpec("x", "FP64", (-1, 1))]
    outputs = [TensorSpec("y", "FP64", (-1,))]
    default_outputs = ["y"]

    def predict(self, inputs: Any, outputs: Any) -> dict[str, Any]:
        raise RuntimeError("the model's own bug")

    def predict_instances(self, instances: list[Any]) -> list[Any]:
        return [float("nan")]  # not JSON


async def test_an_unexpected_failure_is_a_json_500_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = httpx.ASGITransport(app=build_app(Broken(), server_name="test-server"))
    async with httpx.AsyncClient(transport=transport, base_url="http://runtime") as client:
        v2 = await client.post("/v2/models/broken/infer", json={"inputs": [_tensor([1], [1, 1])]})
        v1 = await client.post("/v1/models/broken:predict", json={"instances": [[1]]})
        health = await client.get("/v2/health/ready")
    assert v2.status_code == 500
    assert v2.json() == {"error": "internal error: RuntimeError: the model's own bug"}
    assert v1.status_code == 500
    assert v1.json()["error"].startswith("internal error: ValueError")
    assert health.status_code == 200  # the server carries on
    assert "the model's own bug" in caplog.text  # with its traceback


# --- v1 --------------------------------------------------------------------------------------


async def test_v1_predict_matches_the_model(
    client: httpx.AsyncClient, iris_model: Any, iris_X: np.ndarray[Any, Any]
) -> None:
    answer = await client.post(f"/v1/models/{NAME}:predict", json={"instances": iris_X.tolist()})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": iris_model.predict(iris_X).tolist()}


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({}, "'instances'"),
        ({"instances": {}}, "'instances'"),
        ({"instances": []}, "'instances'"),
        ({"instances": [[1, 2, 3, 4], [1, 2]]}, "'instances'"),
        ({"instances": [[1, 2, 3]]}, "rejected the input"),
        ({"instances": [["a", "b", "c", "d"]]}, "rejected the input"),
    ],
)
async def test_bad_v1_requests_are_400(client: httpx.AsyncClient, body: Any, names: str) -> None:
    answer = await client.post(f"/v1/models/{NAME}:predict", json=body)
    assert answer.status_code == 400, answer.text
    assert names in answer.json()["error"]


# --- the codec -------------------------------------------------------------------------------


@pytest.mark.parametrize("datatype", sorted(set(DATATYPES) - {"BYTES", "BOOL"}))
def test_numeric_datatypes_round_trip(datatype: str) -> None:
    raw = _tensor([[0, 1, 2], [3, 4, 5]], [2, 3], datatype, name="t")
    name, array = decode_tensor(raw, 0)
    assert name == "t"
    assert array.dtype == DATATYPES[datatype]
    assert array.shape == (2, 3)
    assert encode_tensor("t", array) == {**raw, "data": [0, 1, 2, 3, 4, 5]}


def test_bool_and_bytes_round_trip() -> None:
    _, flags = decode_tensor(_tensor([True, False], [2], "BOOL"), 0)
    _, words = decode_tensor(_tensor([["a", "b"], ["c", "d"]], [2, 2], "BYTES"), 0)
    assert flags.dtype == np.bool_
    assert encode_tensor("f", flags)["data"] == [True, False]
    assert words.shape == (2, 2)
    assert encode_tensor("w", words) == _tensor(["a", "b", "c", "d"], [2, 2], "BYTES", "w")
    assert encode_tensor("u", np.array(["x", "y"]))["datatype"] == "BYTES"


def test_datatype_names_are_case_insensitive() -> None:
    _, array = decode_tensor(_tensor([1.0], [1], "fp32"), 0)
    assert array.dtype == np.float32


def test_empty_tensor_decodes() -> None:
    _, array = decode_tensor(_tensor([], [0, 4]), 0)
    assert array.shape == (0, 4)


def test_decode_error_names_the_input() -> None:
    with pytest.raises(InvalidInput, match="input 'x'"):
        decode_tensor(_tensor([1, 2], [3], name="x"), 0)


def test_to_jsonable_renders_sequences_of_maps() -> None:
    value = [{np.int64(0): np.float32(0.25), np.int64(1): np.float32(0.75)}]
    assert to_jsonable(value) == [{"0": 0.25, "1": 0.75}]
    assert to_jsonable(np.array([[1, 2]])) == [[1, 2]]
