"""The built-in runtimes: the exact commands they render, their defaults, framework detection.

vLLM is not installed where these tests run and needs a GPU, so its runtime is checked by the
command it renders, not by running it.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import pytest

from modelport.domain.models import Framework
from modelport.domain.runtimes import Runtime, render_command
from modelport.runtimes.catalog import BUILTIN, DEFAULT_RUNTIME, detect_framework

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "runtimes.md"


def builtin(name: str) -> Runtime:
    return next(rt for rt in BUILTIN if rt.name == name)


def render(rt: Runtime, gpus: int) -> list[str]:
    return render_command(
        rt.command,
        host="127.0.0.1",
        port=8001,
        model_uri="/models/qwen",
        model_name="qwen",
        python=sys.executable,
        gpus=gpus,
    )


@pytest.mark.parametrize(("gpus", "parallel"), [(2, "2"), (1, "1"), (0, "1")])
def test_vllm_command(gpus: int, parallel: str) -> None:
    assert render(builtin("vllm"), gpus) == [
        "vllm", "serve", "/models/qwen", "--host", "127.0.0.1", "--port", "8001",
        "--served-model-name", "qwen", "--tensor-parallel-size", parallel,
    ]  # fmt: skip


def test_vllm_runtime() -> None:
    rt = builtin("vllm")
    assert (rt.id, rt.framework, rt.health_path, rt.gpu) == (
        "rt-vllm",
        Framework.TRANSFORMERS,
        "/health",
        1,
    )
    assert rt.env["HF_HUB_OFFLINE"] == rt.env["TRANSFORMERS_OFFLINE"] == "1"
    assert rt.system


def test_text_generation_runtime() -> None:
    rt = builtin("text-generation")
    assert (rt.id, rt.framework, rt.health_path, rt.gpu) == (
        "rt-text-generation",
        Framework.TRANSFORMERS,
        "/health",
        0,
    )
    assert render(rt, 0) == [
        sys.executable, "-m", "modelport.runtimes.textgen_server", "--host", "127.0.0.1",
        "--port", "8001", "--model-uri", "/models/qwen", "--model-name", "qwen",
    ]  # fmt: skip
    assert rt.env["HF_HUB_OFFLINE"] == rt.env["TRANSFORMERS_OFFLINE"] == "1"


def test_every_framework_defaults_to_a_builtin_of_its_own() -> None:
    assert set(DEFAULT_RUNTIME) == set(Framework)
    for framework, name in DEFAULT_RUNTIME.items():
        assert builtin(name).framework == framework
    assert DEFAULT_RUNTIME[Framework.TRANSFORMERS] == "text-generation"


def test_ids_and_names_are_unique() -> None:
    assert len({rt.id for rt in BUILTIN}) == len({rt.name for rt in BUILTIN}) == len(BUILTIN)


def write_config(path: pathlib.Path, config: object) -> pathlib.Path:
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    return path


@pytest.mark.parametrize("architecture", ["LlamaForCausalLM", "GPT2LMHeadModel"])
def test_a_causal_lm_directory_is_transformers(tmp_path: pathlib.Path, architecture: str) -> None:
    path = write_config(tmp_path / "lm", {"architectures": [architecture]})
    assert detect_framework(path) == Framework.TRANSFORMERS


def test_sentence_transformers_is_checked_first(tmp_path: pathlib.Path) -> None:
    path = write_config(tmp_path / "st", {"architectures": ["Qwen3ForCausalLM"]})
    (path / "modules.json").write_text("[]")
    assert detect_framework(path) == Framework.SENTENCE_TRANSFORMERS


@pytest.mark.parametrize(
    "config",
    [
        {"architectures": ["BertModel"]},
        {"architectures": ["T5WithLMHeadModel"], "is_encoder_decoder": True},
        {"model_type": "gpt2"},
        ["LlamaForCausalLM"],
    ],
)
def test_other_directories_are_refused(tmp_path: pathlib.Path, config: object) -> None:
    path = write_config(tmp_path / "other", config)
    with pytest.raises(ValueError, match="neither a sentence-transformers model"):
        detect_framework(path)


def test_a_broken_config_is_named(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "broken"
    path.mkdir()
    (path / "config.json").write_text("{nope")
    with pytest.raises(ValueError, match=r"config\.json is not valid JSON"):
        detect_framework(path)


def test_every_builtin_runtime_and_placeholder_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for rt in BUILTIN:
        row = f"| `{rt.name}` | `{rt.id}` | `{rt.framework}` | `{rt.health_path}` |"
        assert row in text, f"docs/runtimes.md lacks the row of {rt.name}"
    placeholders = {p for rt in BUILTIN for p in re.findall(r"\{[a-z_]+\}", " ".join(rt.command))}
    for placeholder in placeholders | {"{python}"}:
        assert f"| `{placeholder}` |" in text, f"docs/runtimes.md lacks {placeholder}"
