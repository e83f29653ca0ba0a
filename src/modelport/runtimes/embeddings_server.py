"""The embeddings runtime: a sentence-transformers model directory behind OpenAI's embeddings API.

Run by a replica as `python -m modelport.runtimes.embeddings_server --host H --port P
--model-uri DIR --model-name NAME` with HF_HUB_OFFLINE=1 (see `catalog.py`); tests call
`build_app` with a `SentenceEmbedder` they load once.

Routes:

    POST /v1/embeddings
        {"input": str | [str], "model"?: str, "encoding_format"?: "float" | "base64"}
        -> {"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
            "model": NAME, "usage": {"prompt_tokens", "total_tokens"}}
    GET  /v1/models   {"object": "list", "data": [{"id": NAME, "object": "model", ...}]}
    GET  /health      {"status": "ok"}   (the catalog's health path)

The request's "model" is not checked against NAME (the gateway routes by service, and may use
an alias); the response always names the served model. Token counts come from the model's own
tokenizer, special tokens included, truncated at the model's max sequence length as encoding
is. "base64" embeddings are little-endian float32 bytes, as OpenAI sends them.

Errors use OpenAI's shape: `{"error": {"message", "type", "param", "code": null}}`, with type
"invalid_request_error" and status 400 for a body the API cannot take, 404 for an unknown path.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from modelport.runtimes import openai_api
from modelport.runtimes.openai_api import InvalidRequest
from modelport.runtimes.protocol import Array
from modelport.runtimes.serving import ModelLoadError, ServeArgs, model_path, serve

MAX_INPUTS = 2048
ENCODING_FORMATS = ("float", "base64")


class Embedder(Protocol):
    """A loaded embedding model. Called from Starlette's threadpool, possibly concurrently."""

    def embed(self, texts: Sequence[str]) -> tuple[Array, int]:
        """Embeddings for `texts` as a [len(texts), dim] array, and their total token count."""
        ...


class SentenceEmbedder:
    """A `SentenceTransformer` behind the `Embedder` protocol.

    Concurrency: the model and its fast tokenizer are not safe to share between threads, so
    `embed` holds a lock; requests are encoded one batch at a time.
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        self._lock = threading.Lock()

    @classmethod
    def load(cls, uri: str) -> SentenceEmbedder:
        path = model_path(uri)
        if not path.is_dir():
            raise ModelLoadError("not a directory (a sentence-transformers model is a folder)")
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelLoadError("not a sentence-transformers model (no modules.json)")
        return cls(_sentence_transformer(path))

    def embed(self, texts: Sequence[str]) -> tuple[Array, int]:
        batch = list(texts)
        with self._lock:
            vectors = np.asarray(self._model.encode(batch, convert_to_numpy=True))
            encoded = self._model.tokenizer(
                batch, truncation=True, max_length=self._model.max_seq_length
            )
        tokens = sum(len(ids) for ids in encoded["input_ids"])
        return vectors, tokens


def _sentence_transformer(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


def _texts(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", None)
    if "input" not in body:
        raise InvalidRequest("'input' is required", "input")
    raw = body["input"]
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise InvalidRequest("'input' must be a string or a list of strings", "input")
    if not texts:
        raise InvalidRequest("'input' must not be an empty list", "input")
    if len(texts) > MAX_INPUTS:
        raise InvalidRequest(f"'input' may hold at most {MAX_INPUTS} strings", "input")
    for index, text in enumerate(texts):
        if not text:
            raise InvalidRequest(f"'input[{index}]' must not be an empty string", "input")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequest("'model' must be a string", "model")
    return texts


def _encoding_format(body: dict[str, Any]) -> str:
    value = body.get("encoding_format")
    if value is None:
        return "float"
    if value not in ENCODING_FORMATS:
        raise InvalidRequest(
            f"'encoding_format' must be one of {', '.join(ENCODING_FORMATS)}", "encoding_format"
        )
    return str(value)


def _render(vector: Array, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    floats: list[float] = vector.astype(np.float32).tolist()
    return floats


def build_app(embedder: Embedder, *, model_name: str) -> Starlette:
    """A Starlette app serving `embedder` under `model_name` with OpenAI's embeddings API."""

    async def embeddings(request: Request) -> Response:
        body = await openai_api.json_body(request)
        texts = _texts(body)
        encoding_format = _encoding_format(body)
        vectors, tokens = await run_in_threadpool(embedder.embed, texts)
        data = [
            {"object": "embedding", "index": i, "embedding": _render(v, encoding_format)}
            for i, v in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse({"object": "list", "data": data, "model": model_name, "usage": usage})

    return openai_api.app(
        [Route("/v1/embeddings", embeddings, methods=["POST"])], model_name=model_name
    )


def _load(args: ServeArgs) -> ASGIApp:
    return build_app(SentenceEmbedder.load(args.model_uri), model_name=args.model_name)


def main(argv: Sequence[str] | None = None) -> int:
    return serve("modelport.runtimes.embeddings_server", argv, _load)


if __name__ == "__main__":
    raise SystemExit(main())
