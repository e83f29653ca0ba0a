"""Ray Serve baseline of `gateway.py`: the iris joblib model behind Ray Serve's HTTP proxy.

Run by `gateway.py` with the bench virtualenv's python (it has `ray[serve]`), pinned to one core
with taskset, so Ray's own processes (GCS, raylet, the controller, the proxy, the replica)
inherit that core:

    .venv-bench/bin/python benchmarks/_ray_serve.py --port P --model-uri FILE \
        --protocol v2 --temp-dir DIR

One deployment, one replica (`num_cpus` 0.1), mounted at `/`, answering the request shape of
`--protocol` on any path: "v2" (Open Inference Protocol, `outputs[0].data`) or "v1" (KServe v1,
`predictions`). Per-request access logs are off, as they are in our runtime. Prints `ready` when
the deployment answers, then stays up until SIGTERM or SIGINT, and shuts Serve and Ray down.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--model-name", default="iris")
    parser.add_argument("--protocol", choices=("v1", "v2"), default="v2")
    parser.add_argument("--temp-dir", required=True, help="Ray's session directory")
    args = parser.parse_args()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # no calls home

    import joblib
    import numpy as np
    import ray
    from ray import serve
    from ray.serve.schema import LoggingConfig
    from starlette.requests import Request

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=64)
    class Iris:
        def __init__(self, path: str, name: str, protocol: str) -> None:
            self._model = joblib.load(path)
            self._name = name
            self._v1 = protocol == "v1"

        async def __call__(self, request: Request) -> dict[str, Any]:
            body = await request.json()
            if self._v1:
                return {"predictions": self._model.predict(np.asarray(body["instances"])).tolist()}
            tensor = body["inputs"][0]
            rows = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
            labels = self._model.predict(rows)
            output = {
                "name": "predict",
                "datatype": "INT64",
                "shape": [len(labels)],
                "data": labels.tolist(),
            }
            return {"model_name": self._name, "outputs": [output]}

    ray.init(
        num_cpus=1,
        include_dashboard=False,
        object_store_memory=80 * 1024 * 1024,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _temp_dir=args.temp_dir,
    )
    stop = threading.Event()  # after ray.init, which installs its own SIGTERM handler
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    try:
        serve.start(
            http_options={"host": "127.0.0.1", "port": args.port},
            logging_config=LoggingConfig(enable_access_log=False, log_level="WARNING"),
        )
        app = Iris.bind(args.model_uri, args.model_name, args.protocol)
        serve.run(app, name=args.model_name, route_prefix="/")
        print("ready", flush=True)
        stop.wait()
        serve.shutdown()
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
