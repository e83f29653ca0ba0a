"""Register, list, get and delete models."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from modelport.domain.auth import Principal
from modelport.domain.errors import Conflict, Invalid
from modelport.domain.ids import ModelId, new_id
from modelport.domain.models import Framework, Model
from modelport.query.ast import Cond, ListQuery, Op
from modelport.runtimes.catalog import artifact_size, detect_framework
from modelport.services import validate
from modelport.store import Store

DIRECTORIES = (Framework.SENTENCE_TRANSFORMERS, Framework.TRANSFORMERS)  # never one file


async def register(
    store: Store,
    who: Principal,
    *,
    name: str,
    uri: str | None,
    framework: Framework | None = None,
    version: str = "1",
    description: str = "",
) -> Model:
    validate.name("name", name)
    validate.name("version", version)
    validate.text("description", description)
    path, detected, size = await asyncio.to_thread(_inspect, uri, framework)
    model = Model(
        id=ModelId(new_id("model")),
        project_id=who.project_id,
        name=name,
        version=version,
        framework=detected,
        uri=path,
        size=size,
        description=description,
        created_at=datetime.now(UTC),
    )
    async with store.write() as tx:
        if await tx.models.find(who.project_id, name, version):
            raise Conflict(f"model {name!r} version {version!r} already exists")
        await tx.models.add(model)
    return model


async def get(store: Store, who: Principal, model_id: str) -> Model:
    async with store.read() as tx:
        return await tx.models.get(who.project_id, model_id)


async def by_ids(store: Store, who: Principal, ids: Iterable[str]) -> dict[str, Model]:
    """The project's models among `ids`, in one read; unknown ids are left out."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = ListQuery(filter=Cond("id", Op.IN, wanted), limit=len(wanted), count=False)
    async with store.read() as tx:
        found, _ = await tx.models.list(who.project_id, query)
    return {m.id: m for m in found}


async def list_models(
    store: Store, who: Principal, query: ListQuery
) -> tuple[Sequence[Model], int]:
    async with store.read() as tx:
        return await tx.models.list(who.project_id, query)


async def delete(store: Store, who: Principal, model_id: str) -> None:
    async with store.write() as tx:
        in_use, total = await tx.services.list(
            who.project_id, ListQuery(filter=Cond("model_id", Op.EQ, model_id), limit=1)
        )
        if total:
            raise Conflict(f"model {model_id} is used by service {in_use[0].id}")
        await tx.models.delete(who.project_id, model_id)


def _inspect(uri: str | None, framework: Framework | None) -> tuple[str | None, Framework, int]:
    """Check the artifact, detect its framework and size (file I/O: run in a thread); an
    artifact the server cannot read is bad input, not a server error."""
    try:
        return _read_artifact(uri, framework)
    except OSError as exc:
        raise Invalid("uri", f"cannot read {uri!r}: {exc.strerror or exc}") from exc


def _read_artifact(
    uri: str | None, framework: Framework | None
) -> tuple[str | None, Framework, int]:
    if not uri:
        if framework not in (None, Framework.CUSTOM):
            raise Invalid("uri", f"a {framework} model needs a file")
        return None, Framework.CUSTOM, 0
    try:
        path = Path(uri).expanduser()
    except RuntimeError as exc:  # `~name` of no such user
        raise Invalid("uri", f"no home directory for {uri.split('/')[0]!r}") from exc
    if not path.is_absolute():
        raise Invalid("uri", "must be an absolute path on the server's machine")
    if not path.exists():
        raise Invalid("uri", f"no file or directory at {uri!r}")
    if framework is None:
        try:
            framework = detect_framework(path)
        except ValueError as exc:
            raise Invalid("framework", str(exc)) from exc
    elif framework in DIRECTORIES and not path.is_dir():
        raise Invalid("uri", f"a {framework.value} model is a directory")
    return str(path.resolve()), framework, artifact_size(path)
