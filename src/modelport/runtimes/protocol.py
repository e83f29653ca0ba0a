"""The HTTP dialects the tensor runtimes speak: Open Inference Protocol v2 and KServe v1.

Owns the Starlette app factory (`build_app`), the `Predictor` seam a framework plugs into, and
the wire codec between JSON tensors and numpy arrays. Called by `sklearn_server` and
`onnx_server`; the embeddings runtime speaks OpenAI's dialect and has its own app.

Routes (all JSON; `{name}` is the served model name):

    GET  /v2/health/live             {"live": true}
    GET  /v2/health/ready            {"ready": true}   (the catalog's health path)
    GET  /v2                         server metadata
    GET  /v2/models/{name}           model metadata: platform, inputs and outputs
    GET  /v2/models/{name}/ready     {"name": ..., "ready": true}
    POST /v2/models/{name}/infer     {"id"?, "inputs": [...], "outputs"?: [{"name"}]}
    GET  /v1/models                  {"models": [name]}
    GET  /v1/models/{name}           {"name": ..., "ready": true}
    POST /v1/models/{name}:predict   {"instances": [...]} -> {"predictions": [...]}

Errors are `{"error": "<message>"}`: 404 for an unknown model or route, 400 for a body the
model cannot take (malformed JSON, a missing or ill-typed field, a shape that does not match
its data, an unknown datatype, or a `PredictionError` raised by the predictor). An unexpected
failure is logged with its traceback and answered 500 in the same shape.

The two inference routes of the served model are answered by a plain ASGI function in front of
Starlette (`_Inference`): routing, request objects and middleware cost more CPU than a small
model's prediction. Everything else goes through the Starlette app.

Only numpy is imported here; frameworks load in their own server modules.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Array = npt.NDArray[Any]
_T = TypeVar("_T")

# Open Inference Protocol datatypes and the numpy dtypes they decode to.
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_DTYPE_NAMES: dict[np.dtype[Any], str] = {dt: name for name, dt in DATATYPES.items()}


class InvalidInput(ValueError):
    """A request the protocol layer rejects before it reaches the model (answered 400)."""


class PredictionError(ValueError):
    """The model refused the data it was given (answered 400).

    Predictors translate their framework's input errors into this, with `raise ... from exc`.
    """


@dataclass(frozen=True)
class TensorSpec:
    """One input or output in model metadata; -1 in `shape` marks a dimension of any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


class Predictor(Protocol):
    """A loaded model, as the protocol layer sees it.

    Concurrency: `predict` and `predict_instances` are called on the event loop or from
    Starlette's threadpool (see `Dispatch`),
    possibly several at once; an implementation that is not thread-safe must lock itself.
    """

    @property
    def name(self) -> str: ...

    @property
    def platform(self) -> str: ...

    @property
    def inputs(self) -> Sequence[TensorSpec]: ...

    @property
    def outputs(self) -> Sequence[TensorSpec]:
        """Every output a v2 request may ask for by name."""
        ...

    @property
    def default_outputs(self) -> Sequence[str]:
        """The outputs returned when a v2 request does not name any."""
        ...

    def predict(self, inputs: Mapping[str, Array], outputs: Sequence[str]) -> dict[str, Array]:
        """Run the model on decoded v2 inputs; return the named outputs (already validated)."""
        ...

    def predict_instances(self, instances: list[Any]) -> list[Any]:
        """Run the model on KServe v1 instances; return JSON-able predictions."""
        ...


# ---------------------------------------------------------------------------------------------
# The wire codec


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise InvalidInput(f"{where}: missing field '{key}'")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InvalidInput(f"{where}: field '{key}' has the wrong type")
    return value


def _flatten(data: Any, out: list[Any]) -> None:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    else:
        out.append(data)


def decode_tensor(raw: Any, index: int) -> tuple[str, Array]:
    """One v2 request input (`{"name","shape","datatype","data"}`) to a named numpy array."""
    where = f"inputs[{index}]"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: must be an object")
    name = _field(raw, "name", str, where)
    where = f"input '{name}'"
    shape = _field(raw, "shape", list, where)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidInput(f"{where}: 'shape' must be a list of non-negative integers")
    datatype = _field(raw, "datatype", str, where)
    dtype = DATATYPES.get(datatype.upper())
    if dtype is None:
        known = ", ".join(DATATYPES)
        raise InvalidInput(f"{where}: unknown datatype {datatype!r} (one of {known})")
    data = _field(raw, "data", list, where)
    if dtype.kind == "O":
        flat: list[Any] = []
        _flatten(data, flat)
        if not all(isinstance(x, str) for x in flat):
            raise InvalidInput(f"{where}: BYTES 'data' must hold strings")
        array: Array = np.empty(len(flat), dtype=object)
        array[:] = flat
    else:
        try:
            inferred = np.asarray(data)
        except ValueError as exc:  # ragged nesting
            raise InvalidInput(f"{where}: 'data' is ragged: {exc}") from exc
        if inferred.dtype.kind not in "biuf" and inferred.size:
            raise InvalidInput(f"{where}: 'data' must hold numbers for datatype {datatype}")
        if inferred.dtype.kind == "f" and dtype.kind in "biu":
            raise InvalidInput(f"{where}: 'data' holds non-integers for datatype {datatype}")
        try:
            array = inferred.astype(dtype).ravel()
        except (ValueError, OverflowError) as exc:
            raise InvalidInput(f"{where}: 'data' does not fit datatype {datatype}") from exc
    expected = math.prod(shape)
    if array.size != expected:
        raise InvalidInput(
            f"{where}: 'data' has {array.size} elements but shape {shape} needs {expected}"
        )
    return name, array.reshape(shape)


def datatype_of(array: Array) -> str:
    """The v2 datatype name for a numpy array; strings and objects are BYTES."""
    if array.dtype.kind in "OUS":
        return "BYTES"
    name = _DTYPE_NAMES.get(array.dtype)
    if name is None:
        raise TypeError(f"no Open Inference Protocol datatype for numpy dtype {array.dtype}")
    return name


def encode_tensor(name: str, array: Array) -> dict[str, Any]:
    """A numpy array to a v2 response output, with row-major flat `data`."""
    datatype = datatype_of(array)
    flat = array.ravel()
    data = [str(x) for x in flat] if datatype == "BYTES" else flat.tolist()
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}


def to_jsonable(value: Any) -> Any:
    """A model result (array, numpy scalar, list of maps) as plain JSON values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(to_jsonable(k)): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# The app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object")
    return body


def _infer(predictor: Predictor, body: dict[str, Any]) -> dict[str, Any]:
    raw_inputs = _field(body, "inputs", list, "request")
    if not raw_inputs:
        raise InvalidInput("request: 'inputs' must not be empty")
    inputs: dict[str, Array] = {}
    for index, raw in enumerate(raw_inputs):
        name, array = decode_tensor(raw, index)
        if name in inputs:
            raise InvalidInput(f"input '{name}': given twice")
        inputs[name] = array
    known = {spec.name for spec in predictor.outputs}
    wanted = list(predictor.default_outputs)
    if body.get("outputs") is not None:
        raw_outputs = _field(body, "outputs", list, "request")
        wanted = []
        for index, raw in enumerate(raw_outputs):
            if not isinstance(raw, dict):
                raise InvalidInput(f"outputs[{index}]: must be an object")
            name = _field(raw, "name", str, f"outputs[{index}]")
            if name not in known:
                raise InvalidInput(f"output '{name}': the model has no such output")
            wanted.append(name)
    result = predictor.predict(inputs, wanted)
    answer: dict[str, Any] = {"model_name": predictor.name}
    if "id" in body:
        answer["id"] = body["id"]
    answer["outputs"] = [encode_tensor(name, result[name]) for name in wanted]
    return answer


def _predict_v1(predictor: Predictor, body: dict[str, Any]) -> dict[str, Any]:
    instances = _field(body, "instances", list, "request")
    if not instances:
        raise InvalidInput("request: 'instances' must not be empty")
    return {"predictions": predictor.predict_instances(instances)}


class Dispatch:
    """Runs predictions on the event loop while they are quick, in the threadpool once not.

    Handing a call to a worker thread and back costs about 0.1 ms of CPU and adds to the
    tail; a small model answers faster than that. So a call runs inline while the moving
    average of recent calls stays under `INLINE_UNDER` seconds; once the model is slower, calls
    go to the threadpool and the loop stays free for health checks and other requests.
    """

    INLINE_UNDER = 0.001
    WEIGHT = 0.1  # of the newest call in the moving average

    def __init__(self) -> None:
        self.average = 0.0

    async def __call__(self, fn: Callable[..., _T], *args: Any) -> _T:
        if self.average < self.INLINE_UNDER:
            return self._timed(fn, *args)
        return await run_in_threadpool(self._timed, fn, *args)

    def _timed(self, fn: Callable[..., _T], *args: Any) -> _T:
        begun = time.perf_counter()
        try:
            return fn(*args)
        finally:
            took = time.perf_counter() - begun
            self.average += (took - self.average) * self.WEIGHT


def _render(content: Any) -> bytes:
    """JSON as Starlette's `JSONResponse` renders it (NaN refused, compact)."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


Handler = Callable[[Predictor, dict[str, Any]], dict[str, Any]]


class _Inference:
    """`POST /v2/models/{name}/infer` and `POST /v1/models/{name}:predict` of the served model,
    answered as plain ASGI; any other request goes to `app`.

    Same answers as the Starlette routes would give (status, body, error envelope), at about
    half the CPU: this is the path every call takes.
    """

    def __init__(self, app: ASGIApp, predictor: Predictor, dispatch: Dispatch) -> None:
        self.app = app
        self.predictor = predictor
        self.dispatch = dispatch
        self.routes: dict[str, Handler] = {
            f"/v2/models/{predictor.name}/infer": _infer,
            f"/v1/models/{predictor.name}:predict": _predict_v1,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.routes.get(scope["path"])
            if handler is not None:
                return await self._answer(handler, receive, send)
        await self.app(scope, receive, send)

    async def _answer(self, handler: Handler, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            body = _json_object(b"".join(chunks))
            status, content = 200, _render(await self.dispatch(handler, self.predictor, body))
        except (InvalidInput, PredictionError) as exc:
            status, content = 400, _render({"error": str(exc)})
        except Exception as exc:
            log.exception("inference call failed")
            error = f"internal error: {type(exc).__name__}: {exc}"
            status, content = 500, _render({"error": error})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(content)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def build_app(predictor: Predictor, *, server_name: str) -> ASGIApp:
    """An ASGI app serving `predictor` over v2 and v1; `server_name` names it in `GET /v2`."""
    version = metadata.version("modelport")
    dispatch = Dispatch()

    def not_served(name: str) -> HTTPException:
        return HTTPException(
            404, f"model '{name}' not found (this server serves '{predictor.name}')"
        )

    def model_or_404(request: Request) -> None:
        name = request.path_params["name"]
        if name != predictor.name:
            raise not_served(name)

    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        return JSONResponse({"ready": True})

    async def server_metadata(request: Request) -> Response:
        return JSONResponse({"name": server_name, "version": version, "extensions": []})

    async def model_metadata(request: Request) -> Response:
        model_or_404(request)
        return JSONResponse(
            {
                "name": predictor.name,
                "versions": [],
                "platform": predictor.platform,
                "inputs": [spec.to_json() for spec in predictor.inputs],
                "outputs": [spec.to_json() for spec in predictor.outputs],
            }
        )

    async def model_ready(request: Request) -> Response:
        model_or_404(request)
        return JSONResponse({"name": predictor.name, "ready": True})

    async def other_model(request: Request) -> Response:
        # an inference call under another model's name (`_Inference` takes the served one's)
        raise not_served(request.path_params["name"])

    async def v1_models(request: Request) -> Response:
        return JSONResponse({"models": [predictor.name]})

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, exc.detail)

    async def on_crash(request: Request, exc: Exception) -> Response:
        # Starlette re-raises after this answer, so the server logs the traceback.
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    routes = [
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2", server_metadata, methods=["GET"]),
        Route("/v2/models/{name}", model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", other_model, methods=["POST"]),
        Route("/v1/models", v1_models, methods=["GET"]),
        # Before `/v1/models/{name}`, whose pattern would also take "name:predict".
        Route("/v1/models/{name}:predict", other_model, methods=["POST"]),
        Route("/v1/models/{name}", model_ready, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: on_http_error,
            Exception: on_crash,
        },
    )
    return _Inference(app, predictor, dispatch)
