"""List the runtimes a project sees and register its own command templates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from modelport.domain.auth import Principal
from modelport.domain.errors import Invalid
from modelport.domain.ids import RuntimeId, new_id
from modelport.domain.models import Framework
from modelport.domain.runtimes import Runtime
from modelport.query.ast import ListQuery
from modelport.services import validate
from modelport.store import Store


async def create(
    store: Store,
    who: Principal,
    *,
    name: str,
    command: list[str],
    health_path: str = "/",
    framework: Framework = Framework.CUSTOM,
    env: dict[str, str] | None = None,
    request_cpu: float = 0.5,
    request_memory: int = 256,
    gpu: int = 0,
    readme: str = "",
) -> Runtime:
    validate.name("name", name)
    if not command or not all(isinstance(a, str) and a for a in command):
        raise Invalid("command", "a non-empty list of arguments")
    if not health_path.startswith("/"):
        raise Invalid("health_path", "must start with '/'")
    validate.positive("request_cpu", request_cpu)
    validate.positive("request_memory", request_memory)
    validate.not_negative("gpu", gpu)
    rt = Runtime(
        id=RuntimeId(new_id("runtime")),
        project_id=who.project_id,
        name=name,
        framework=framework,
        command=command,
        health_path=health_path,
        env=validate.env("env", env or {}),
        request_cpu=request_cpu,
        request_memory=request_memory,
        gpu=gpu,
        readme=validate.text("readme", readme),
        created_at=datetime.now(UTC),
    )
    async with store.write() as tx:
        await tx.runtimes.add(rt)
    return rt


async def get(store: Store, who: Principal, ref: str) -> Runtime:
    async with store.read() as tx:
        return await tx.runtimes.get(who.project_id, ref)


async def list_runtimes(
    store: Store, who: Principal, query: ListQuery
) -> tuple[Sequence[Runtime], int]:
    async with store.read() as tx:
        return await tx.runtimes.list(who.project_id, query)
