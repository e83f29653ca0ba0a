"""The built-in runtimes (system rows seeded into every store) and framework detection."""

from __future__ import annotations

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
        env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        request_cpu=1.0,
        request_memory=1024,
        readme="sentence-transformers model directory; OpenAI /v1/embeddings.",
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

DEFAULT_RUNTIME = {rt.framework: rt.name for rt in BUILTIN}


def detect_framework(path: Path) -> Framework:
    """Guess a model's framework from its artifact. Raises ValueError when it cannot tell."""
    if path.is_dir():
        markers = ("modules.json", "config_sentence_transformers.json")
        if any((path / m).is_file() for m in markers):
            return Framework.SENTENCE_TRANSFORMERS
        raise ValueError("directory is not a sentence-transformers model (no modules.json)")
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


def artifact_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
