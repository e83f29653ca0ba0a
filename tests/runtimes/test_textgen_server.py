"""The text-generation runtime: OpenAI answers equal to transformers' own greedy `generate`.

The model is a tiny random GPT-2 with a byte-level BPE tokenizer trained here on a few
sentences, saved once per session with `save_pretrained`: nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
)

from modelport.domain.models import Framework
from modelport.runtimes.catalog import detect_framework
from modelport.runtimes.serving import ModelLoadError
from modelport.runtimes.textgen_server import CausalLM, InvalidRequest, Job, Sampling, build_app

StartRuntime = Callable[[str, str, str, str], tuple[str, "subprocess.Popen[bytes]"]]

NAME = "tiny-gpt2"
EOS = "<|endoftext|>"
CONTEXT = 64
SENTENCES = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "hello world, this is a tiny model",
    "models generate text one token at a time",
    "user: hello there\nassistant: hi, this is a model\n",
]
PROMPT = "the cat"
CHAT = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello world"}]
CHAT_PROMPT = "system: be brief\nuser: hello world\nassistant:"  # the documented fallback
GREEDY = {"temperature": 0, "max_tokens": 12}


def _tokenizer() -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=[EOS], show_progress=False)
    bpe.train_from_iterator(SENTENCES, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token=EOS, clean_up_tokenization_spaces=False
    )


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A tiny GPT-2 and its tokenizer, as `save_pretrained` writes them."""
    path = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = _tokenizer()
    eos = tokenizer.convert_tokens_to_ids(EOS)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=CONTEXT, n_layer=2, n_head=2, n_embd=32,
        bos_token_id=eos, eos_token_id=eos, initializer_range=0.3,
    )  # fmt: skip
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def _offline() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setenv("TOKENIZERS_PARALLELISM", "false")
        yield


@pytest.fixture(scope="module")
def reference(model_dir: pathlib.Path, _offline: None) -> tuple[Any, Any]:
    """An independent in-process model and tokenizer to compare the served answers with."""
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    return model, tokenizer


@pytest.fixture(scope="module")
def lm(model_dir: pathlib.Path, _offline: None) -> CausalLM:
    return CausalLM.load(str(model_dir))


@pytest.fixture
async def client(lm: CausalLM) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(lm, model_name=NAME, clock=lambda: 1700.0))
    async with httpx.AsyncClient(transport=transport, base_url="http://runtime") as client:
        yield client


def _greedy(reference: tuple[Any, Any], prompt: str, max_tokens: int) -> tuple[str, list[int], int]:
    """(text, generated ids, prompt tokens) of transformers' own greedy decoding."""
    model, tokenizer = reference
    ids = tokenizer(prompt, return_tensors="pt")
    out = model.generate(
        **ids, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id
    )
    prompt_tokens = ids["input_ids"].shape[1]
    generated = out[0, prompt_tokens:].tolist()
    return tokenizer.decode(generated, skip_special_tokens=True), generated, prompt_tokens


def _finish_reason(reference: tuple[Any, Any], generated: list[int], max_tokens: int) -> str:
    ended = generated[-1] == reference[1].eos_token_id
    return "stop" if ended or len(generated) < max_tokens else "length"


def _sse_data(lines: list[str]) -> list[str]:
    return [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]


def _texts(events: list[str], chat: bool) -> list[str]:
    """The text of every chunk event (the last event, `[DONE]`, excluded)."""
    choices = [json.loads(e)["choices"][0] for e in events[:-1]]
    if chat:
        return [c["delta"].get("content", "") for c in choices]
    return [c["text"] for c in choices]


async def test_completion_equals_greedy_generate(
    client: httpx.AsyncClient, reference: tuple[Any, Any]
) -> None:
    answer = await client.post("/v1/completions", json={"model": NAME, "prompt": PROMPT, **GREEDY})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    text, generated, prompt_tokens = _greedy(reference, PROMPT, 12)
    assert len(text) > 5
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert (body["created"], body["model"]) == (1700, NAME)
    assert body["choices"] == [
        {
            "index": 0,
            "text": text,
            "logprobs": None,
            "finish_reason": _finish_reason(reference, generated, 12),
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(generated),
        "total_tokens": prompt_tokens + len(generated),
    }


async def test_a_list_of_prompts_gives_a_choice_each(
    client: httpx.AsyncClient, reference: tuple[Any, Any]
) -> None:
    prompts = [PROMPT, "a dog"]
    body = {"model": NAME, "prompt": prompts, "temperature": 0, "max_tokens": 5}
    answer = await client.post("/v1/completions", json=body)
    assert answer.status_code == 200, answer.text
    choices = answer.json()["choices"]
    assert [(c["index"], c["text"]) for c in choices] == [
        (i, _greedy(reference, p, 5)[0]) for i, p in enumerate(prompts)
    ]


async def test_chat_without_a_template_joins_role_lines(
    client: httpx.AsyncClient, reference: tuple[Any, Any]
) -> None:
    answer = await client.post(
        "/v1/chat/completions", json={"model": NAME, "messages": CHAT, **GREEDY}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    text, generated, prompt_tokens = _greedy(reference, CHAT_PROMPT, 12)
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": text}
    assert choice["finish_reason"] == _finish_reason(reference, generated, 12)
    assert body["usage"]["prompt_tokens"] == prompt_tokens
    assert body["usage"]["completion_tokens"] == len(generated)


def test_chat_uses_the_tokenizers_template(model_dir: pathlib.Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    text = "<system>be brief\n<user>hello world\n<assistant>"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert CausalLM(model, tokenizer).encode_chat(CHAT) == ids


def test_a_template_that_refuses_the_messages_is_a_400(model_dir: pathlib.Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    tokenizer.chat_template = "{{ raise_exception('roles must alternate') }}"
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    with pytest.raises(InvalidRequest, match="roles must alternate") as raised:
        CausalLM(model, tokenizer).encode_chat(CHAT)
    assert raised.value.param == "messages"


@pytest.mark.parametrize("chat", [False, True])
async def test_stop_strings_cut_the_text(
    client: httpx.AsyncClient, reference: tuple[Any, Any], chat: bool
) -> None:
    full = _greedy(reference, CHAT_PROMPT if chat else PROMPT, 12)[0]
    stop = full[6:9]
    path, prompt = (
        ("/v1/chat/completions", {"messages": CHAT})
        if chat
        else ("/v1/completions", {"prompt": PROMPT})
    )
    body = {"model": NAME, **prompt, **GREEDY, "stop": [stop, "never appears"]}
    plain = await client.post(path, json=body)
    streamed = await client.post(path, json={**body, "stream": True})
    (choice,) = plain.json()["choices"]
    text = choice["message"]["content"] if chat else choice["text"]
    assert text == full[: full.index(stop)]
    assert choice["finish_reason"] == "stop"
    events = _sse_data(streamed.text.splitlines())
    assert "".join(_texts(events, chat)) == text
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "stop"


async def test_sampling_gives_some_text(client: httpx.AsyncClient) -> None:
    body = {"model": NAME, "prompt": PROMPT, "temperature": 1.5, "top_p": 0.9, "max_tokens": 4}
    answer = await client.post("/v1/completions", json=body)
    assert answer.status_code == 200, answer.text
    assert 1 <= answer.json()["usage"]["completion_tokens"] <= 4


def test_text_is_handed_out_token_by_token(reference: tuple[Any, Any]) -> None:
    """Each token's text reaches `on_text` before the next token is computed."""
    model, tokenizer = reference
    forwards: list[int] = []
    hook = model.register_forward_hook(lambda *_: forwards.append(1))
    seen: list[tuple[int, str]] = []
    ids = tokenizer.encode(PROMPT)
    try:
        finish = CausalLM(model, tokenizer).generate(
            Job(ids, 8),
            Sampling(temperature=0, top_p=1, stop=()),
            lambda text: seen.append((len(forwards), text)),
            threading.Event(),
        )
    finally:
        hook.remove()
    assert finish.tokens == 8
    assert [count for count, _ in seen] == list(range(1, 9))
    assert "".join(text for _, text in seen) == _greedy(reference, PROMPT, 8)[0]


def test_cancel_ends_generation(reference: tuple[Any, Any]) -> None:
    """A caller that goes away sets `cancel`; no text follows and generation stops."""
    model, tokenizer = reference
    forwards: list[int] = []
    hook = model.register_forward_hook(lambda *_: forwards.append(1))
    cancel = threading.Event()
    seen: list[str] = []

    def on_text(text: str) -> None:
        seen.append(text)
        cancel.set()

    try:
        finish = CausalLM(model, tokenizer).generate(
            Job(tokenizer.encode(PROMPT), 30), Sampling(0, 1, ()), on_text, cancel
        )
    finally:
        hook.remove()
    assert len(seen) == finish.tokens == 1
    assert len(forwards) <= 2  # the step that saw `cancel` may already have run


async def _asgi_post(app: Any, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Call `app` directly and return every message it sends."""
    sent: list[dict[str, Any]] = []
    requested = False
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if requested:
            await never.wait()
        requested = True
        return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "headers": [(b"content-type", b"application/json")],
        "server": ("runtime", 80), "client": ("test", 1),
    }  # fmt: skip
    await app(scope, receive, send)
    return sent


async def test_each_event_is_sent_on_its_own(lm: CausalLM) -> None:
    """The app sends one body message per SSE event: nothing is buffered."""
    app = build_app(lm, model_name=NAME)
    body = {"model": NAME, "prompt": PROMPT, **GREEDY, "stream": True}
    sent = await _asgi_post(app, "/v1/completions", body)
    start = sent[0]
    assert start["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    bodies = [m["body"].decode() for m in sent[1:] if m["body"]]
    assert len(bodies) >= 4  # at least two tokens, the finish chunk and [DONE]
    assert all(b.startswith("data: ") and b.count("data: ") == 1 for b in bodies)
    assert all(b.endswith("\n\n") for b in bodies)
    assert bodies[-1] == "data: [DONE]\n\n"


async def test_models_and_health(client: httpx.AsyncClient) -> None:
    models = await client.get("/v1/models")
    health = await client.get("/health")
    assert models.json() == {
        "object": "list",
        "data": [{"id": NAME, "object": "model", "created": 0, "owned_by": "modelport"}],
    }
    assert health.status_code == 200


COMPLETION = {"model": NAME, "prompt": PROMPT}
MESSAGES = {"model": NAME, "messages": CHAT}


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/completions", {"prompt": PROMPT}, "model"),
        ("/v1/completions", {**COMPLETION, "model": 3}, "model"),
        ("/v1/completions", {"model": NAME}, "prompt"),
        ("/v1/completions", {**COMPLETION, "prompt": 5}, "prompt"),
        ("/v1/completions", {**COMPLETION, "prompt": []}, "prompt"),
        ("/v1/completions", {**COMPLETION, "prompt": ["ok", ""]}, "prompt"),
        ("/v1/completions", {**COMPLETION, "prompt": "the " * CONTEXT}, "prompt"),
        ("/v1/completions", {**COMPLETION, "max_tokens": 0}, "max_tokens"),
        ("/v1/completions", {**COMPLETION, "max_tokens": "3"}, "max_tokens"),
        ("/v1/completions", {**COMPLETION, "max_tokens": True}, "max_tokens"),
        ("/v1/completions", {**COMPLETION, "max_tokens": 1.5}, "max_tokens"),
        ("/v1/completions", {**COMPLETION, "max_tokens": CONTEXT}, "max_tokens"),
        ("/v1/completions", {**COMPLETION, "temperature": -0.1}, "temperature"),
        ("/v1/completions", {**COMPLETION, "temperature": 2.5}, "temperature"),
        ("/v1/completions", {**COMPLETION, "temperature": "hot"}, "temperature"),
        ("/v1/completions", {**COMPLETION, "top_p": 0}, "top_p"),
        ("/v1/completions", {**COMPLETION, "top_p": 1.5}, "top_p"),
        ("/v1/completions", {**COMPLETION, "stop": 5}, "stop"),
        ("/v1/completions", {**COMPLETION, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ("/v1/completions", {**COMPLETION, "stop": [""]}, "stop"),
        ("/v1/completions", {**COMPLETION, "stream": "yes"}, "stream"),
        ("/v1/completions", [PROMPT], None),
        ("/v1/chat/completions", {"model": NAME}, "messages"),
        ("/v1/chat/completions", {**MESSAGES, "messages": []}, "messages"),
        ("/v1/chat/completions", {**MESSAGES, "messages": "hi"}, "messages"),
        ("/v1/chat/completions", {**MESSAGES, "messages": ["hi"]}, "messages[0]"),
        (
            "/v1/chat/completions",
            {**MESSAGES, "messages": [{"role": "wizard", "content": "hi"}]},
            "messages[0].role",
        ),
        (
            "/v1/chat/completions",
            {**MESSAGES, "messages": [*CHAT, {"role": "user"}]},
            "messages[2].content",
        ),
        (
            "/v1/chat/completions",
            {**MESSAGES, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content",
        ),
        ("/v1/chat/completions", {**MESSAGES, "max_tokens": -1}, "max_tokens"),
        ("/v1/chat/completions", {**MESSAGES, "model": None}, "model"),
    ],
)
async def test_bad_requests_are_openai_400s(
    client: httpx.AsyncClient, path: str, body: Any, param: str | None
) -> None:
    answer = await client.post(path, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["code"] is None
    if param:
        assert param.split("[")[0] in error["message"]


async def test_text_parts_are_joined(client: httpx.AsyncClient, reference: tuple[Any, Any]) -> None:
    parts = [{"type": "text", "text": "hello "}, {"type": "text", "text": "world"}]
    messages = [CHAT[0], {"role": "user", "content": parts}]
    answer = await client.post(
        "/v1/chat/completions", json={"model": NAME, "messages": messages, **GREEDY}
    )
    assert answer.status_code == 200, answer.text
    text = _greedy(reference, CHAT_PROMPT, 12)[0]
    assert answer.json()["choices"][0]["message"]["content"] == text


async def test_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/completions", content=b"{nope")
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_path_is_an_openai_404(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/embeddings", json={})
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_detect_framework_knows_the_directory(model_dir: pathlib.Path) -> None:
    assert detect_framework(model_dir) == Framework.TRANSFORMERS


def test_a_file_or_a_folder_without_config_is_not_a_model(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="not a directory"):
        CausalLM.load(str(path))
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        CausalLM.load(str(tmp_path))


def _stream(client: httpx.Client, path: str, body: dict[str, Any]) -> list[str]:
    """The data of each SSE event, read as the lines arrive."""
    with client.stream("POST", path, json={**body, "stream": True}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        return _sse_data(list(answer.iter_lines()))


def test_real_process_serves_completions_and_chat(
    start_runtime: StartRuntime, model_dir: pathlib.Path, reference: tuple[Any, Any]
) -> None:
    url, process = start_runtime("textgen_server", str(model_dir), NAME, "/health")
    completion = {"model": NAME, "prompt": PROMPT, **GREEDY}
    chat = {"model": NAME, "messages": CHAT, **GREEDY}
    with httpx.Client(base_url=url, timeout=30) as client:
        models = client.get("/v1/models").json()
        plain = client.post("/v1/completions", json=completion).json()
        plain_chat = client.post("/v1/chat/completions", json=chat).json()
        events = _stream(client, "/v1/completions", completion)
        chat_events = _stream(client, "/v1/chat/completions", chat)
        bad = client.post("/v1/completions", json={**completion, "max_tokens": 0})
    assert [m["id"] for m in models["data"]] == [NAME]
    assert plain["choices"][0]["text"] == _greedy(reference, PROMPT, 12)[0]
    chat_text = plain_chat["choices"][0]["message"]["content"]
    assert chat_text == _greedy(reference, CHAT_PROMPT, 12)[0]
    streams = [(events, plain["choices"][0]["text"], False), (chat_events, chat_text, True)]
    for stream, text, is_chat in streams:
        assert stream[-1] == "[DONE]"
        deltas = [d for d in _texts(stream, is_chat) if d]
        assert len(deltas) >= 2
        assert "".join(deltas) == text
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "max_tokens"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == -signal.SIGTERM
