"""The process plumbing every built-in runtime shares: arguments, load-then-listen, uvicorn.

Called by the `main()` of `sklearn_server`, `onnx_server` and `embeddings_server`, which the
catalog launches as `python -m modelport.runtimes.<server> --host H --port P --model-uri URI
--model-name NAME`.

The model loads before the port is bound, so a replica that accepts connections has its model
in memory: readiness is "listening", and the health path answers 200 from the first request.
A model that cannot load ends the process with status 1 and one line on stderr:

    modelport-runtime: cannot load model '/x/y.joblib': <reason>

uvicorn handles SIGTERM and SIGINT: it stops accepting, finishes in-flight requests, then
re-raises the signal, so a stopped runtime's exit status is -15 (143 in a shell), as for any
process ended by SIGTERM. Status 1 means the model did not load; 3 (uvicorn's startup failure)
that the port could not be bound.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)

EXIT_LOAD_FAILED = 1
EXIT_BIND_FAILED = 3  # what uvicorn itself exits with when it cannot bind


class ModelLoadError(Exception):
    """The model artifact is missing or unusable; the message is shown to the operator."""


@dataclass(frozen=True)
class ServeArgs:
    host: str
    port: int
    model_uri: str
    model_name: str


def parse_args(prog: str, argv: Sequence[str] | None) -> ServeArgs:
    parser = argparse.ArgumentParser(prog=prog, description="Serve one model over HTTP.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, required=True, help="port to bind")
    parser.add_argument("--model-uri", required=True, help="path of the model artifact")
    parser.add_argument("--model-name", required=True, help="name the model is served under")
    ns = parser.parse_args(argv)
    return ServeArgs(host=ns.host, port=ns.port, model_uri=ns.model_uri, model_name=ns.model_name)


def model_path(uri: str) -> Path:
    """The local path a model URI names (a bare path or `file://`); raises ModelLoadError."""
    path = Path(uri.removeprefix("file://"))
    if not path.exists():
        raise ModelLoadError("no such file or directory")
    return path


def serve(
    prog: str,
    argv: Sequence[str] | None,
    load: Callable[[ServeArgs], ASGIApp],
) -> int:
    """Parse `argv`, build the app with `load` (it loads the model), and serve until stopped.

    Returns the process exit status. This is the runtime process's top-level handler: any
    failure while loading is reported in one line rather than a traceback.
    """
    args = parse_args(prog, argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app = load(args)
    except Exception as exc:  # noqa: BLE001 - top-level handler: unpickling can raise anything
        reason = " ".join(str(exc).split())
        if not isinstance(exc, ModelLoadError):
            reason = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
        print(
            f"modelport-runtime: cannot load model {args.model_uri!r}: {reason}",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_LOAD_FAILED
    log.info("%s: model %r loaded, binding %s:%d", prog, args.model_name, args.host, args.port)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,  # the client address is not used; X-Forwarded-For is the gateway's
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else EXIT_BIND_FAILED
