"""The built-in runtimes (system rows seeded into every store) and framework detection.

`BUILTIN` is seeded by `Store.open`; `DEFAULT_RUNTIME` names the runtime a deployment gets when
it names none; `detect_framework` is called by the models service when a model is registered
without a framework.
"""

from __future__ import annotations

import json
from pathlib import Path

from modelport.domain.ids import RuntimeId
from modelport.domain.models import Framework
from modelport.domain.runtimes import Runtime


def _server(module: str) -> list[str]:
    return [
        "{python}",
        "-m",
        f"modelport.runtimes.{module}",
        "--host",
        "{host}",
        "--port",
        "{port}",
        "--model-uri",
        "{model_uri}",
        "--model-name",
        "{model_name}",
    ]


OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
CAUSAL_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")  # GPT-2's class is GPT2LMHeadModel

VLLM_COMMAND = [
    "vllm", "serve", "{model_uri}",
    "--host", "{host}", "--port", "{port}",
    "--served-model-name", "{model_name}",
    "--tensor-parallel-size", "{gpus}",
]  # fmt: skip

BUILTIN: tuple[Runtime, ...] = (
    Runtime(
        id=RuntimeId("rt-sklearn"),
        project_id=None,
        name="sklearn",
        framework=Framework.SKLEARN,
        command=_server("sklearn_server"),
        health_path="/v2/health/ready",
        request_cpu=0.5,
        request_memory=256,
        readme="scikit-learn model (joblib/pickle); Open Inference Protocol v2 and KServe v1.",
        system=True,
    ),
    Runtime(
        id=RuntimeId("rt-onnx"),
        project_id=None,
        name="onnx",
        framework=Framework.ONNX,
        command=_server("onnx_server"),
        health_path="/v2/health/ready",
        request_cpu=0.5,
        request_memory=256,
        readme="ONNX model on onnxruntime (CPU); Open Inference Protocol v2 and KServe v1.",
        system=True,
    ),
    Runtime(
        id=RuntimeId("rt-embeddings"),
        project_id=None,
        name="embeddings",
        framework=Framework.SENTENCE_TRANSFORMERS,
        command=_server("embeddings_server"),
        health_path="/health",
        env={**OFFLINE, "TOKENIZERS_PARALLELISM": "false"},
        request_cpu=1.0,
        request_memory=1024,
        readme="sentence-transformers model directory; OpenAI /v1/embeddings.",
        system=True,
    ),
    Runtime(
        id=RuntimeId("rt-text-generation"),
        project_id=None,
        name="text-generation",
        framework=Framework.TRANSFORMERS,
        command=_server("textgen_server"),
        health_path="/health",
        env={**OFFLINE, "TOKENIZERS_PARALLELISM": "false"},
        request_cpu=1.0,
        request_memory=2048,
        readme="transformers causal LM directory on CPU; OpenAI completions and chat, streamed.",
        system=True,
    ),
    Runtime(
        id=RuntimeId("rt-vllm"),
        project_id=None,
        name="vllm",
        framework=Framework.TRANSFORMERS,
        command=VLLM_COMMAND,
        health_path="/health",
        env={**OFFLINE, "VLLM_NO_USAGE_STATS": "1"},
        request_cpu=2.0,
        request_memory=8192,
        gpu=1,
        readme="transformers causal LM directory on vLLM (needs `vllm` and GPUs); OpenAI API.",
        system=True,
    ),
    Runtime(
        id=RuntimeId("rt-command"),
        project_id=None,
        name="command",
        framework=Framework.CUSTOM,
        command=[],
        health_path="/",
        request_cpu=0.5,
        request_memory=256,
        readme="Any command line that listens on {port} / $PORT; give it with the deployment.",
        system=True,
    ),
)

DEFAULT_RUNTIME: dict[Framework, str] = {
    Framework.SKLEARN: "sklearn",
    Framework.ONNX: "onnx",
    Framework.SENTENCE_TRANSFORMERS: "embeddings",
    Framework.TRANSFORMERS: "text-generation",  # not vllm: that one needs a GPU
    Framework.CUSTOM: "command",
}


def detect_framework(path: Path) -> Framework:
    """Guess a model's framework from its artifact. Raises ValueError when it cannot tell."""
    if path.is_dir():
        return _directory_framework(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return Framework.ONNX
    if suffix in {".joblib", ".pkl", ".pickle"}:
        return Framework.SKLEARN
    with path.open("rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80":  # a pickle protocol header
        return Framework.SKLEARN
    raise ValueError(f"cannot tell the framework of {path.name!r}; give --framework")


def _directory_framework(path: Path) -> Framework:
    # first: a sentence-transformers folder also holds a transformers config.json
    markers = ("modules.json", "config_sentence_transformers.json")
    if any((path / m).is_file() for m in markers):
        return Framework.SENTENCE_TRANSFORMERS
    if _is_causal_lm(path / "config.json"):
        return Framework.TRANSFORMERS
    raise ValueError(
        "directory is neither a sentence-transformers model (no modules.json) nor a "
        "transformers causal LM (no config.json with a ...ForCausalLM architecture)"
    )


def _is_causal_lm(config: Path) -> bool:
    """Whether `config` is a transformers config.json of a decoder-only language model."""
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"config.json is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("is_encoder_decoder") is True:
        return False
    names = data.get("architectures")
    return isinstance(names, list) and any(
        isinstance(name, str) and name.endswith(CAUSAL_LM_SUFFIXES) for name in names
    )


def artifact_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
