"""Runtimes: how a framework is served (a built-in model server or a user command template).

ZStack calls a runtime a "model service". A runtime's `command` is a list of arguments in
which `{host}`, `{port}`, `{model_uri}`, `{model_name}`, `{python}` and `{gpus}` are replaced
when a replica starts; `$PORT` in an argument is replaced too, and `PORT` is set in its
environment. The backend renders the command (`render_command`) with the deployment's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from modelport.domain.ids import ProjectId, RuntimeId
from modelport.domain.models import Framework


@dataclass(frozen=True, slots=True)
class Runtime:
    id: RuntimeId
    project_id: ProjectId | None  # None: a system runtime every project sees
    name: str
    framework: Framework
    command: list[str]
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    request_cpu: float = 1.0
    request_memory: int = 512
    gpu: int = 0
    supports_distributed: bool = False
    readme: str = ""
    system: bool = False
    created_at: datetime | None = None
    revision: int = 1


def render_command(
    template: list[str],
    *,
    host: str,
    port: int,
    model_uri: str,
    model_name: str,
    python: str,
    gpus: int,
) -> list[str]:
    """Fill a runtime's command template for one replica.

    `gpus` is the deployment's GPU request; `{gpus}` renders at least 1, since a server's GPU
    count (vLLM's `--tensor-parallel-size`) cannot be 0.
    """
    values = {
        "host": host,
        "port": str(port),
        "model_uri": model_uri,
        "model_name": model_name,
        "python": python,
        "gpus": str(max(gpus, 1)),
    }
    out: list[str] = []
    for arg in template:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        out.append(arg.replace("$PORT", str(port)))
    return out
