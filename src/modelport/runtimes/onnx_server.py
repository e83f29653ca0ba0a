"""The ONNX runtime: an .onnx model on onnxruntime (CPU) served over v2 and KServe v1.

Run by a replica as `python -m modelport.runtimes.onnx_server --host H --port P
--model-uri URI --model-name NAME` (see `catalog.py`); tests build `OnnxPredictor` directly.

v2 inputs are matched to the model's input names; when both the request and the model have
exactly one input, any name is accepted. Data is cast to the model input's element type
(FP64 data for a `tensor(float)` input becomes float32). Outputs carry the model's output
names; by default every tensor output is returned.

Non-tensor outputs, such as the "output_probability" sequence of maps that skl2onnx emits for
classifiers, have no v2 datatype: they are left out of v2 metadata and v2 responses, and a v2
request that names one is answered 400. Export with `options={"zipmap": False}` to get
probabilities as a plain FP32 tensor (skl2onnx then names the outputs "label" and
"probabilities"). In v1, `predictions` is the model's first output as JSON;
a sequence of maps becomes a list of objects with string keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
from starlette.types import ASGIApp

from modelport.runtimes.protocol import (
    DATATYPES,
    Array,
    InvalidInput,
    PredictionError,
    TensorSpec,
    build_app,
    to_jsonable,
)
from modelport.runtimes.serving import ModelLoadError, ServeArgs, model_path, serve

# onnxruntime's type strings for tensors, and their Open Inference Protocol datatypes.
ONNX_DATATYPES: dict[str, str] = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}

# What onnxruntime raises when the data does not fit the graph (wrong shape, dtype, rank).
_RUN_ERRORS = (
    ort_state.InvalidArgument,
    ort_state.Fail,
    ort_state.RuntimeException,
    ValueError,
    TypeError,
)


def _spec(arg: Any) -> TensorSpec | None:
    datatype = ONNX_DATATYPES.get(arg.type)
    if datatype is None:
        return None
    shape = tuple(d if isinstance(d, int) else -1 for d in (arg.shape or ()))
    return TensorSpec(arg.name, datatype, shape)


class OnnxPredictor:
    """An onnxruntime `InferenceSession` behind the `Predictor` protocol.

    Concurrency: `InferenceSession.run` is thread-safe, so threadpool workers share one session.
    """

    def __init__(self, name: str, session: ort.InferenceSession) -> None:
        self._name = name
        self._session = session
        inputs: list[TensorSpec] = []
        for arg in session.get_inputs():
            spec = _spec(arg)
            if spec is None:
                raise ModelLoadError(f"input {arg.name!r} has type {arg.type}, not a tensor")
            inputs.append(spec)
        if not inputs:
            raise ModelLoadError("the model has no inputs")
        self._inputs = tuple(inputs)
        all_outputs = session.get_outputs()
        self._first_output: str = all_outputs[0].name
        self._outputs = tuple(spec for arg in all_outputs if (spec := _spec(arg)) is not None)

    @classmethod
    def load(cls, name: str, uri: str) -> OnnxPredictor:
        session = ort.InferenceSession(str(model_path(uri)), providers=["CPUExecutionProvider"])
        return cls(name, session)

    @property
    def name(self) -> str:
        return self._name

    @property
    def platform(self) -> str:
        return "onnxruntime_onnx"

    @property
    def inputs(self) -> Sequence[TensorSpec]:
        return self._inputs

    @property
    def outputs(self) -> Sequence[TensorSpec]:
        return self._outputs

    @property
    def default_outputs(self) -> Sequence[str]:
        return tuple(spec.name for spec in self._outputs)

    def predict(self, inputs: Mapping[str, Array], outputs: Sequence[str]) -> dict[str, Array]:
        if len(inputs) == 1 and len(self._inputs) == 1:
            ((given, array),) = inputs.items()
            feed = {self._inputs[0].name: _cast(given, array, self._inputs[0])}
        else:
            specs = {spec.name: spec for spec in self._inputs}
            for given in inputs:
                if given not in specs:
                    takes = ", ".join(repr(n) for n in specs)
                    raise InvalidInput(f"input '{given}': the model has no such input ({takes})")
            missing = [n for n in specs if n not in inputs]
            if missing:
                raise InvalidInput(f"input '{missing[0]}': missing; the model needs it")
            feed = {n: _cast(n, inputs[n], specs[n]) for n in specs}
        results = self._run(list(outputs), feed)
        return {name: np.asarray(value) for name, value in zip(outputs, results, strict=True)}

    def predict_instances(self, instances: list[Any]) -> list[Any]:
        first = self._inputs[0]
        try:
            array = np.asarray(instances)
        except ValueError as exc:
            raise InvalidInput(f"'instances' must be rows of equal length: {exc}") from exc
        (result,) = self._run([self._first_output], {first.name: _cast(first.name, array, first)})
        predictions: list[Any] = to_jsonable(result)
        return predictions

    def _run(self, outputs: list[str], feed: dict[str, Array]) -> list[Any]:
        try:
            results: list[Any] = self._session.run(outputs, feed)
        except _RUN_ERRORS as exc:
            message = " ".join(str(exc).split())
            raise PredictionError(f"the model rejected the input: {message}") from exc
        return results


def _cast(name: str, array: Array, spec: TensorSpec) -> Array:
    wanted = DATATYPES[spec.datatype]
    is_text = array.dtype.kind in "OUS"
    if is_text != (wanted.kind == "O"):
        raise InvalidInput(f"input '{name}': the model takes {spec.datatype}")
    try:
        return array.astype(wanted, copy=False)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"input '{name}': cannot convert to {spec.datatype}: {exc}") from exc


def _load(args: ServeArgs) -> ASGIApp:
    predictor = OnnxPredictor.load(args.model_name, args.model_uri)
    return build_app(predictor, server_name="modelport-onnx")


def main(argv: Sequence[str] | None = None) -> int:
    return serve("modelport.runtimes.onnx_server", argv, _load)


if __name__ == "__main__":
    raise SystemExit(main())
