"""The text-generation runtime: a transformers causal LM behind OpenAI's completions and chat APIs.

Run by a replica as `python -m modelport.runtimes.textgen_server --host H --port P
--model-uri DIR --model-name NAME` with HF_HUB_OFFLINE=1 (see `catalog.py`); DIR is what
`save_pretrained` wrote for an `AutoModelForCausalLM` and its `AutoTokenizer`. Tests call
`build_app` with a `CausalLM` they load once.

Routes:

    POST /v1/completions
        {"model": str, "prompt": str | [str], "max_tokens"?, "temperature"?, "top_p"?,
         "stop"?, "stream"?}
        -> {"id", "object": "text_completion", "created", "model": NAME,
            "choices": [{"index", "text", "logprobs": null, "finish_reason"}], "usage"}
    POST /v1/chat/completions
        {"model": str, "messages": [{"role", "content"}], ...the same options}
        -> {"id", "object": "chat.completion", "created", "model": NAME,
            "choices": [{"index": 0, "message": {"role": "assistant", "content"}, ...}], "usage"}
    GET  /v1/models   {"object": "list", "data": [{"id": NAME, "object": "model", ...}]}
    GET  /health      {"status": "ok"}   (the catalog's health path)

`temperature` 0 is greedy decoding. With `"stream": true` the answer is `text/event-stream`:
one `data: {chunk}` event for each generated token that adds text, sent as soon as the token
is generated, a last chunk with `finish_reason`, then `data: [DONE]`. Chat prompts use the
tokenizer's chat template, or else "role: content" lines followed by "assistant:".

Errors use OpenAI's shape: `{"error": {"message", "type", "param", "code": null}}`, with type
"invalid_request_error" and status 400 for a body the API cannot take, 404 for an unknown path.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from jinja2 import TemplateError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from modelport.runtimes import openai_api
from modelport.runtimes.openai_api import InvalidRequest
from modelport.runtimes.serving import ModelLoadError, ServeArgs, model_path, serve

COMPLETION_MAX_TOKENS = 16  # OpenAI's default for /v1/completions; chat defaults to the room left
FALLBACK_CONTEXT = 2048  # a model whose config and tokenizer name no context length
MAX_STOPS = 4
ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float  # 0: greedy
    top_p: float
    stop: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Job:
    """One generation: the prompt's token ids and how many tokens may follow them."""

    prompt_ids: list[int]
    max_tokens: int


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str  # "stop": end of sequence or a stop string; "length": max_tokens reached
    tokens: int  # generated tokens, up to the one that ended the text


class TextModel(Protocol):
    """A loaded causal LM. `encode*` run on the event loop; `generate` in a worker thread."""

    @property
    def context_length(self) -> int: ...

    def encode(self, text: str) -> list[int]:
        """Token ids of a completion prompt, with the tokenizer's special tokens."""
        ...

    def encode_chat(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """Token ids of a chat prompt, ending where the assistant's answer begins."""
        ...

    def generate(
        self, job: Job, sampling: Sampling, on_text: Callable[[str], None], cancel: threading.Event
    ) -> Finish:
        """Generate for `job`, calling `on_text` with each token's text as the token is made.

        Stops early once `cancel` is set. The texts passed to `on_text` add up to the answer.
        """
        ...


class _LanguageModel(Protocol):
    """What `CausalLM` uses of a transformers `AutoModelForCausalLM`."""

    config: Any
    generation_config: GenerationConfig

    def generate(
        self,
        inputs: torch.Tensor | None = None,
        *,
        generation_config: GenerationConfig | None = None,
        stopping_criteria: StoppingCriteriaList | None = None,
        streamer: BaseStreamer | None = None,
        **kwargs: Any,
    ) -> Any: ...


class CausalLM:
    """A transformers `AutoModelForCausalLM` and its tokenizer behind the `TextModel` protocol.

    Concurrency: `generate` holds a lock, so one generation runs at a time (its forward passes
    already use every core); the others wait in their worker threads.
    """

    def __init__(self, model: _LanguageModel, tokenizer: PreTrainedTokenizerBase) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._lock = threading.Lock()
        self._context_length = _context_length(model, tokenizer)
        self._eos = _eos_ids(model.generation_config)

    @classmethod
    def load(cls, uri: str) -> CausalLM:
        path = model_path(uri)
        if not path.is_dir():
            raise ModelLoadError("not a directory (a transformers model is a folder)")
        if not (path / "config.json").is_file():
            raise ModelLoadError("not a transformers model (no config.json)")
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
        return cls(model, tokenizer)  # from_pretrained leaves it in eval mode

    @property
    def context_length(self) -> int:
        return self._context_length

    def encode(self, text: str) -> list[int]:
        return self._ids(text, special_tokens=True)

    def encode_chat(self, messages: Sequence[dict[str, str]]) -> list[int]:
        if getattr(self._tokenizer, "chat_template", None) is None:
            return self.encode(_plain_chat(messages))
        try:
            text = self._tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )
        except TemplateError as exc:
            message = f"the model's chat template rejects 'messages': {exc}"
            raise InvalidRequest(message, "messages") from exc
        return self._ids(str(text), special_tokens=False)  # the template wrote them

    def generate(
        self, job: Job, sampling: Sampling, on_text: Callable[[str], None], cancel: threading.Event
    ) -> Finish:
        stream = _TokenStream(_Detokenizer(self._decode), _StopText(sampling.stop), on_text, cancel)
        ids = torch.tensor([job.prompt_ids])
        with self._lock:
            self._model.generate(
                inputs=ids,
                attention_mask=torch.ones_like(ids),
                generation_config=self._config(job.max_tokens, sampling),
                streamer=stream,
                stopping_criteria=StoppingCriteriaList([_Halt(stream)]),
            )
        return stream.finish(self._eos)

    def _ids(self, text: str, *, special_tokens: bool) -> list[int]:
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=special_tokens)
        return ids

    def _decode(self, ids: Sequence[int]) -> str:
        text = self._tokenizer.decode(
            list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return str(text)

    def _config(self, max_tokens: int, sampling: Sampling) -> GenerationConfig:
        """The model's own generation config with the request's options on top."""
        config = copy.deepcopy(self._model.generation_config)
        greedy = sampling.temperature == 0
        config.max_new_tokens = max_tokens
        config.do_sample = not greedy
        config.temperature = None if greedy else sampling.temperature
        config.top_p = None if greedy else sampling.top_p
        if greedy:
            config.top_k = None
        if config.pad_token_id is None and self._eos:
            config.pad_token_id = self._eos[0]  # what generate would pick, without its warning
        return config


def _plain_chat(messages: Sequence[dict[str, str]]) -> str:
    """The chat prompt of a tokenizer without a chat template."""
    lines = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
    return lines + "assistant:"


def _context_length(model: _LanguageModel, tokenizer: PreTrainedTokenizerBase) -> int:
    for value in (
        getattr(model.config, "max_position_embeddings", None),
        tokenizer.model_max_length,
    ):
        if isinstance(value, int) and 0 < value < 10**7:  # transformers' "no limit" is ~1e30
            return value
    return FALLBACK_CONTEXT


def _eos_ids(config: GenerationConfig) -> tuple[int, ...]:
    eos = config.eos_token_id
    if eos is None:
        return ()
    return (eos,) if isinstance(eos, int) else tuple(eos)


class _Detokenizer:
    """Turns token ids into text one token at a time.

    Each step decodes a window that starts one token back, so a token's leading space is kept,
    and text that ends in an incomplete UTF-8 character is held until the character is whole.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str]) -> None:
        self._decode = decode
        self._ids: list[int] = []
        self._prefix = 0  # the window starts here
        self._read = 0  # text of ids before this was handed out

    def push(self, token: int) -> str:
        self._ids.append(token)
        return self._advance(final=False)

    def flush(self) -> str:
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> str:
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if len(after) <= len(before) or (after.endswith("\ufffd") and not final):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]


class _StopText:
    """Cuts text at the first stop string, holding back a tail that may begin one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = stops
        self._pending = ""
        self.hit = False

    def push(self, text: str) -> str:
        text = self._pending + text
        cuts = [i for i in (text.find(stop) for stop in self._stops) if i >= 0]
        if cuts:
            self.hit = True
            self._pending = ""
            return text[: min(cuts)]
        keep = max((_overlap(text, stop) for stop in self._stops), default=0)
        self._pending = text[len(text) - keep :]
        return text[: len(text) - keep]

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest


def _overlap(text: str, stop: str) -> int:
    """The length of the longest end of `text` that is a proper start of `stop`."""
    for size in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:size]):
            return size
    return 0


class _TokenStream(BaseStreamer):
    """`generate`'s streamer: each new token's text goes to `on_text` while generation goes on.

    Once a stop string appears, or `cancel` is set, `done` is true, `_Halt` ends generation
    and later tokens are ignored. Called from the generating thread only.
    """

    def __init__(
        self,
        detokenizer: _Detokenizer,
        stops: _StopText,
        on_text: Callable[[str], None],
        cancel: threading.Event,
    ) -> None:
        self._detokenizer = detokenizer
        self._stops = stops
        self._on_text = on_text
        self._cancel = cancel
        self._prompt_seen = False  # generate's first put() is the prompt
        self.tokens: list[int] = []

    @property
    def done(self) -> bool:
        return self._stops.hit or self._cancel.is_set()

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            if self.done:
                return
            self.tokens.append(int(token))
            self._emit(self._stops.push(self._detokenizer.push(int(token))))

    def end(self) -> None:
        if self.done:
            return
        text = self._stops.push(self._detokenizer.flush())
        self._emit(text if self._stops.hit else text + self._stops.flush())

    def finish(self, eos: tuple[int, ...]) -> Finish:
        ended = self._stops.hit or (bool(self.tokens) and self.tokens[-1] in eos)
        return Finish("stop" if ended else "length", len(self.tokens))

    def _emit(self, text: str) -> None:
        if text:
            self._on_text(text)


class _Halt(StoppingCriteria):
    """Ends generation once its `_TokenStream` is done (a stop string, or the caller left)."""

    def __init__(self, stream: _TokenStream) -> None:
        self._stream = stream

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        rows = input_ids.shape[0]
        return torch.full((rows,), self._stream.done, dtype=torch.bool, device=input_ids.device)


# -- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    """What a completions or chat request asks for besides its prompt."""

    max_tokens: int | None
    sampling: Sampling
    stream: bool


def _body(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidRequest("the request body must be a JSON object", None)
    model = raw.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string", "model")
    return raw


def _prompts(body: dict[str, Any]) -> list[str]:
    if "prompt" not in body:
        raise InvalidRequest("'prompt' is required", "prompt")
    raw = body["prompt"]
    prompts = [raw] if isinstance(raw, str) else raw
    if not isinstance(prompts, list) or not prompts:
        raise InvalidRequest("'prompt' must be a string or a non-empty list of strings", "prompt")
    if not all(isinstance(p, str) and p for p in prompts):
        raise InvalidRequest("'prompt' must hold non-empty strings only", "prompt")
    return prompts


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    if "messages" not in body:
        raise InvalidRequest("'messages' is required", "messages")
    raw = body["messages"]
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("'messages' must be a non-empty list of messages", "messages")
    return [_message(m, f"messages[{i}]") for i, m in enumerate(raw)]


def _message(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidRequest(f"'{where}' must be an object", where)
    role = raw.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidRequest(f"'{where}.role' must be one of {', '.join(ROLES)}", f"{where}.role")
    return {"role": role, "content": _content(raw.get("content"), f"{where}.content")}


def _content(raw: Any, where: str) -> str:
    """A message's text: a string, or a list of `{"type": "text", "text": str}` parts."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(_is_text_part(part) for part in raw):
        return "".join(part["text"] for part in raw)
    raise InvalidRequest(f"'{where}' must be a string or a list of text parts", where)


def _is_text_part(part: Any) -> bool:
    return (
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
    )


def _options(body: dict[str, Any]) -> Options:
    sampling = Sampling(
        temperature=_number(body, "temperature", default=1.0, low=0.0, high=2.0),
        top_p=_number(body, "top_p", default=1.0, low=0.0, high=1.0, open_low=True),
        stop=_stops(body.get("stop")),
    )
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be true or false", "stream")
    return Options(_max_tokens(body.get("max_tokens")), sampling, stream is True)


def _number(
    body: dict[str, Any],
    name: str,
    *,
    default: float,
    low: float,
    high: float,
    open_low: bool = False,
) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"'{name}' must be a number", name)
    above = low < value if open_low else low <= value
    if not (above and value <= high):
        bounds = f"{'above' if open_low else 'at least'} {low:g} and at most {high:g}"
        raise InvalidRequest(f"'{name}' must be {bounds}", name)
    return float(value)


def _max_tokens(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("'max_tokens' must be an integer", "max_tokens")
    if value < 1:
        raise InvalidRequest("'max_tokens' must be at least 1", "max_tokens")
    return value


def _stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not 1 <= len(stops) <= MAX_STOPS:
        raise InvalidRequest(f"'stop' must be a string or a list of 1 to {MAX_STOPS}", "stop")
    if not all(isinstance(s, str) and s for s in stops):
        raise InvalidRequest("'stop' must hold non-empty strings only", "stop")
    return tuple(stops)


def _job(
    ids: list[int], max_tokens: int | None, context: int, *, default: int | None, param: str
) -> Job:
    """Fit a prompt and its answer in the model's context; `default` None: all the room left."""
    if not ids:
        raise InvalidRequest(f"'{param}' encodes to no tokens", param)
    room = context - len(ids)
    if room < 1:
        message = f"'{param}' has {len(ids)} tokens; the model's context is {context} tokens"
        raise InvalidRequest(message, param)
    if max_tokens is None:
        return Job(ids, room if default is None else min(default, room))
    if max_tokens > room:
        message = (
            f"'max_tokens' is {max_tokens}, but the model's context of {context} tokens "
            f"leaves {room} after the {len(ids)} of '{param}'"
        )
        raise InvalidRequest(message, "max_tokens")
    return Job(ids, max_tokens)


# -- generation on the event loop ----------------------------------------------------------------


async def _generate(model: TextModel, job: Job, sampling: Sampling) -> AsyncIterator[str | Finish]:
    """The text of each token as the worker thread makes it, then the `Finish`.

    Leaving the loop early (the client went away) sets `cancel`, which stops the worker.
    """
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()
    cancel = threading.Event()

    def on_text(text: str) -> None:
        loop.call_soon_threadsafe(pieces.put_nowait, text)

    task = asyncio.ensure_future(run_in_threadpool(model.generate, job, sampling, on_text, cancel))
    task.add_done_callback(lambda _: pieces.put_nowait(None))  # after every on_text put
    try:
        while (piece := await pieces.get()) is not None:
            yield piece
        yield task.result()
    finally:
        cancel.set()


async def _complete(model: TextModel, job: Job, sampling: Sampling) -> tuple[str, Finish]:
    texts: list[str] = []
    async for item in _generate(model, job, sampling):
        if isinstance(item, Finish):
            return "".join(texts), item
        texts.append(item)
    raise AssertionError("_generate always ends with a Finish")


def _usage(jobs: Sequence[Job], finishes: Sequence[Finish]) -> dict[str, int]:
    prompt = sum(len(job.prompt_ids) for job in jobs)
    completion = sum(finish.tokens for finish in finishes)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def _events(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"


def _sse(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(chunks), media_type="text/event-stream", headers=headers)


async def _completion_chunks(
    model: TextModel, jobs: Sequence[Job], sampling: Sampling, head: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    for index, job in enumerate(jobs):
        async for item in _generate(model, job, sampling):
            text, reason = ("", item.reason) if isinstance(item, Finish) else (item, None)
            choice = {"index": index, "text": text, "logprobs": None, "finish_reason": reason}
            yield {**head, "choices": [choice]}


async def _chat_chunks(
    model: TextModel, job: Job, sampling: Sampling, head: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    def chunk(delta: dict[str, str], reason: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return {**head, "choices": [choice]}

    yield chunk({"role": "assistant", "content": ""}, None)
    async for item in _generate(model, job, sampling):
        yield chunk({}, item.reason) if isinstance(item, Finish) else chunk({"content": item}, None)


# -- the app -------------------------------------------------------------------------------------


async def _json(request: Request) -> dict[str, Any]:
    return _body(await openai_api.json_body(request))


def build_app(
    model: TextModel, *, model_name: str, clock: Callable[[], float] = time.time
) -> Starlette:
    """A Starlette app serving `model` under `model_name` with OpenAI's completions APIs."""

    def head(prefix: str, kind: str) -> dict[str, Any]:
        return {
            "id": f"{prefix}-{uuid.uuid4().hex}",
            "object": kind,
            "created": int(clock()),
            "model": model_name,
        }

    async def completions(request: Request) -> Response:
        body = await _json(request)
        prompts, options = _prompts(body), _options(body)
        context = model.context_length
        jobs = [
            _job(
                model.encode(p),
                options.max_tokens,
                context,
                default=COMPLETION_MAX_TOKENS,
                param="prompt",
            )
            for p in prompts
        ]
        if options.stream:
            return _sse(
                _completion_chunks(model, jobs, options.sampling, head("cmpl", "text_completion"))
            )
        answers = [await _complete(model, job, options.sampling) for job in jobs]
        choices = [
            {"index": i, "text": text, "logprobs": None, "finish_reason": finish.reason}
            for i, (text, finish) in enumerate(answers)
        ]
        usage = _usage(jobs, [finish for _, finish in answers])
        return JSONResponse({**head("cmpl", "text_completion"), "choices": choices, "usage": usage})

    async def chat(request: Request) -> Response:
        body = await _json(request)
        messages, options = _messages(body), _options(body)
        ids = model.encode_chat(messages)
        job = _job(ids, options.max_tokens, model.context_length, default=None, param="messages")
        if options.stream:
            return _sse(
                _chat_chunks(
                    model, job, options.sampling, head("chatcmpl", "chat.completion.chunk")
                )
            )
        text, finish = await _complete(model, job, options.sampling)
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish.reason}
        usage = _usage([job], [finish])
        return JSONResponse(
            {**head("chatcmpl", "chat.completion"), "choices": [choice], "usage": usage}
        )

    routes = [
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
    ]
    return openai_api.app(routes, model_name=model_name)


def _load(args: ServeArgs) -> ASGIApp:
    return build_app(CausalLM.load(args.model_uri), model_name=args.model_name)


def main(argv: Sequence[str] | None = None) -> int:
    return serve("modelport.runtimes.textgen_server", argv, _load)


if __name__ == "__main__":
    raise SystemExit(main())
