"""A runtime's template as the YAML text ZStack shows in a model service's `yaml` field.

Every string is a JSON string (a valid YAML double-quoted scalar), so the text is YAML whatever
the command or environment holds. Keys come in a fixed order; the output is deterministic.
"""

from __future__ import annotations

import json

from modelport.domain.runtimes import Runtime


def render_yaml(rt: Runtime) -> str:
    lines = [
        f"name: {_s(rt.name)}",
        f"framework: {_s(rt.framework.value)}",
        *_list("command", rt.command),
        f"healthPath: {_s(rt.health_path)}",
        *_map("env", rt.env),
        "resources:",
        f"  cpu: {json.dumps(rt.request_cpu)}",
        f"  memoryMiB: {rt.request_memory}",
        f"  gpu: {rt.gpu}",
        f"supportsDistributed: {json.dumps(rt.supports_distributed)}",
    ]
    return "\n".join(lines) + "\n"


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _list(key: str, items: list[str]) -> list[str]:
    if not items:
        return [f"{key}: []"]
    return [f"{key}:", *(f"  - {_s(item)}" for item in items)]


def _map(key: str, values: dict[str, str]) -> list[str]:
    if not values:
        return [f"{key}: {{}}"]
    return [f"{key}:", *(f"  {_s(k)}: {_s(v)}" for k, v in sorted(values.items()))]
