"""KServe baseline of `runtime.py`: the iris joblib model in KServe's own Python model server.

Run by `runtime.py` with the bench virtualenv's python (it has `kserve`), pinned by its caller:

    .venv-bench/bin/python benchmarks/_kserve_server.py --port P --model-uri FILE

A `kserve.Model` subclass shaped like KServe's sklearnserver (`get_predict_input`, the model's
`predict`, `get_predict_response`), served by `ModelServer(workers=1).start([model])`, which
answers both KServe v1 (`/v1/models/iris:predict`) and v2 (`/v2/models/iris/infer`). Two
changes from KServe's defaults, neither on the request path: the HTTP server binds 127.0.0.1
(KServe hard-codes 0.0.0.0), and per-request log lines (latency, timing trace and access logs)
are off, as they are in our runtime. gRPC is off.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--model-name", default="iris")
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # kserve parses sys.argv at import time: give it none of ours

    import joblib
    import kserve
    from kserve.protocol.rest.server import RESTServer
    from kserve.utils.utils import get_predict_input, get_predict_response

    class IrisModel(kserve.Model):  # type: ignore[misc]
        def __init__(self, name: str, path: str) -> None:
            super().__init__(name)
            self._path = path
            self._model: Any = None

        def load(self) -> bool:
            self._model = joblib.load(self._path)
            self.ready = True
            return True

        def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
            result = self._model.predict(get_predict_input(payload))
            return get_predict_response(payload, result, self.name)

    rest_init = RESTServer.__init__

    def loopback_init(self: Any, *a: Any, **kw: Any) -> None:
        rest_init(self, *a, **kw)
        self.config.host = "127.0.0.1"

    RESTServer.__init__ = loopback_init
    model = IrisModel(args.model_name, args.model_uri)
    model.load()
    server = kserve.ModelServer(
        http_port=args.port,
        workers=1,
        enable_grpc=False,
        enable_latency_logging=False,
    )
    for name in ("kserve.trace", "uvicorn.access"):  # configured by ModelServer(): after it
        logging.getLogger(name).setLevel(logging.WARNING)
    server.start([model])


if __name__ == "__main__":
    main()
