"""An OpenAI client's view: a tiny GPT-2 (built by the test) deployed with the text-generation
runtime, called by service name through the gateway's OpenAI front, streamed event by event."""

from __future__ import annotations

import json
import pathlib

import pytest
from tests.e2e.conftest import Serve
from tests.runtimes.test_textgen_server import model_dir  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

CHAT = {
    "model": "chat",
    "messages": [{"role": "user", "content": "hello world"}],
    "max_tokens": 8,
    "temperature": 0,
}


def deploy_chat(serve: Serve, path: pathlib.Path) -> tuple[str, str]:
    r = serve.api("POST", "/models", json={"name": "tiny-gpt2", "uri": str(path)})
    assert r.status_code == 201, r.text
    assert r.json()["framework"] == "transformers"
    body = {"name": "chat", "deployments": [{"model_id": r.json()["id"], "replicas": 1}]}
    r = serve.api("POST", "/services", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    serve.wait_status(sid, "running", ready=1)
    return sid, serve.api("GET", f"/services/{sid}/key").json()["key"]


def test_chat_by_service_name_streams_through_the_gateway(
    serve_factory,
    model_dir: pathlib.Path,  # noqa: F811 - the imported fixture
) -> None:
    serve = serve_factory()
    serve.start()
    _, key = deploy_chat(serve, model_dir)
    auth = {"Authorization": f"Bearer {key}"}

    models = serve.http.get(f"{serve.gateway}/v1/models", headers=auth).json()
    assert [m["id"] for m in models["data"]] == ["chat"]

    whole = serve.http.post(f"{serve.gateway}/v1/chat/completions", json=CHAT, headers=auth)
    assert whole.status_code == 200, whole.text
    answer = whole.json()
    assert answer["model"] == "tiny-gpt2"  # the name the replica serves it under
    text = answer["choices"][0]["message"]["content"]

    chunks: list[bytes] = []
    stream = {**CHAT, "stream": True}
    with serve.http.stream(
        "POST", f"{serve.gateway}/v1/chat/completions", json=stream, headers=auth
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        chunks = list(r.iter_raw())
    events = [
        line.removeprefix("data: ")
        for line in b"".join(chunks).decode().split("\n\n")
        if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    deltas = [json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]]
    assert sum(1 for d in deltas if d) >= 2
    assert "".join(deltas) == text
    assert len(chunks) >= 2  # relayed as they came, not gathered into one answer
