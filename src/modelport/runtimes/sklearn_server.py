"""The scikit-learn runtime: a joblib or pickle model served over v2 and KServe v1.

Run by a replica as `python -m modelport.runtimes.sklearn_server --host H --port P
--model-uri URI --model-name NAME` (see `catalog.py`); tests build `SklearnPredictor` directly.

v2: one input tensor of any name (e.g. "input-0") with shape [N, F]. The default output is
"predict" (the model's `predict()`, shape [N]); "predict_proba" (shape [N, classes]) is
returned only when the request's `outputs` names it and the model has `predict_proba`.
v1: `instances` is a list of feature rows; `predictions` is `predict(rows).tolist()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import joblib
import numpy as np
from starlette.types import ASGIApp

from modelport.runtimes.protocol import (
    Array,
    InvalidInput,
    PredictionError,
    TensorSpec,
    build_app,
    datatype_of,
)
from modelport.runtimes.serving import ModelLoadError, ServeArgs, model_path, serve

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"


class SklearnPredictor:
    """A fitted estimator behind the `Predictor` protocol.

    Concurrency: fitted scikit-learn estimators only read their state in `predict`, so calls
    from several threadpool workers at once are safe.
    """

    def __init__(self, name: str, model: Any) -> None:
        if not callable(getattr(model, "predict", None)):
            raise ModelLoadError(f"{type(model).__name__} has no predict() method")
        self._name = name
        self._model = model
        features = getattr(model, "n_features_in_", None)
        width = int(features) if isinstance(features, int | np.integer) else -1
        self._inputs = (TensorSpec("input-0", "FP64", (-1, width)),)
        classes = getattr(model, "classes_", None)
        label_type = "FP64"
        if isinstance(classes, np.ndarray):
            try:
                label_type = datatype_of(classes)
            except TypeError:
                label_type = "BYTES"
        outputs = [TensorSpec(PREDICT, label_type, (-1,))]
        if callable(getattr(model, "predict_proba", None)):
            n_classes = len(classes) if isinstance(classes, np.ndarray) else -1
            outputs.append(TensorSpec(PREDICT_PROBA, "FP64", (-1, n_classes)))
        self._outputs = tuple(outputs)

    @classmethod
    def load(cls, name: str, uri: str) -> SklearnPredictor:
        return cls(name, joblib.load(model_path(uri)))

    @property
    def name(self) -> str:
        return self._name

    @property
    def platform(self) -> str:
        return "sklearn"

    @property
    def inputs(self) -> Sequence[TensorSpec]:
        return self._inputs

    @property
    def outputs(self) -> Sequence[TensorSpec]:
        return self._outputs

    @property
    def default_outputs(self) -> Sequence[str]:
        return (PREDICT,)

    def predict(self, inputs: Mapping[str, Array], outputs: Sequence[str]) -> dict[str, Array]:
        if len(inputs) != 1:
            raise InvalidInput(f"a scikit-learn model takes exactly one input, got {len(inputs)}")
        ((name, features),) = inputs.items()
        if features.ndim != 2:
            shape = list(features.shape)
            raise InvalidInput(
                f"input '{name}': a scikit-learn model takes shape [N, F], got {shape}"
            )
        methods = {PREDICT: self._model.predict}
        if PREDICT_PROBA in {spec.name for spec in self._outputs}:
            methods[PREDICT_PROBA] = self._model.predict_proba
        result: dict[str, Array] = {}
        for output in outputs:
            result[output] = self._call(methods[output], features)
        return result

    def predict_instances(self, instances: list[Any]) -> list[Any]:
        try:
            rows = np.asarray(instances)
        except ValueError as exc:
            raise InvalidInput(f"'instances' must be rows of equal length: {exc}") from exc
        predictions: list[Any] = self._call(self._model.predict, rows).tolist()
        return predictions

    @staticmethod
    def _call(method: Any, features: Array) -> Array:
        try:
            return np.asarray(method(features))
        except (ValueError, TypeError, IndexError) as exc:
            raise PredictionError(f"the model rejected the input: {exc}") from exc


def _load(args: ServeArgs) -> ASGIApp:
    predictor = SklearnPredictor.load(args.model_name, args.model_uri)
    return build_app(predictor, server_name="modelport-sklearn")


def main(argv: Sequence[str] | None = None) -> int:
    return serve("modelport.runtimes.sklearn_server", argv, _load)


if __name__ == "__main__":
    raise SystemExit(main())
