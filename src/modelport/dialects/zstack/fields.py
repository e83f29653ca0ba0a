"""The fields of ZStack's `ModelServiceInventory` (spec B.6) and where each comes from.

A ZStack model service is a Modelport runtime. Each field has one definition here, used both
to render it (`inventory`) and to filter and sort on it (`translate`), so that a condition
matches exactly what the field shows. Its `source` says how it relates to the native runtime:

- `Column`: a native column (`RUNTIME_FIELDS` in the store), compared as the field's kind;
- `TextColumn`: a native text column where an empty text is shown as absent (null);
- `CeilColumn`: whole units of a fractional column (`requestCpu` is an Integer in ZStack);
- `Derived`: a function of one native column with few values, or of none (a constant): a
  condition is decided here for each value and becomes an `IN` over the column;
- `Shown`: computed for display only; filtering or sorting on it is an invalid argument.

`HostFacts` are the facts of this server that some fields show (its Python, CPU architecture
and Modelport version); the HTTP handler reads them once.
"""

from __future__ import annotations

import enum
import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelport.dialects.zstack.manifest import render_yaml
from modelport.dialects.zstack.refs import Ref, render_ref
from modelport.dialects.zstack.times import format_time
from modelport.domain.runtimes import Runtime

ENDPOINT = "Endpoint"  # every Modelport runtime serves online inference endpoints
BUILTIN, CUSTOM = "builtin", "custom"


class Kind(enum.Enum):
    STRING = "String"
    INTEGER = "Integer"
    BOOLEAN = "Boolean"
    TIME = "Timestamp"
    LIST = "List"
    MAP = "Map"


@dataclass(frozen=True, slots=True)
class HostFacts:
    python_version: str
    cpu_architecture: str  # ZStack's spelling: X86_64, AARCH64, …
    modelport_version: str


_ARCHITECTURES = {"x86_64": "X86_64", "amd64": "X86_64", "aarch64": "AARCH64", "arm64": "AARCH64"}


def architecture(machine: str) -> str:
    """ZStack's name of a CPU architecture, from `platform.machine()`."""
    return _ARCHITECTURES.get(machine.lower(), machine.upper())


@dataclass(frozen=True, slots=True)
class Subject:
    """What one inventory is rendered from: the runtime and the models it serves."""

    runtime: Runtime
    refs: tuple[Ref, ...] = ()


@dataclass(frozen=True, slots=True)
class Column:
    native: str


@dataclass(frozen=True, slots=True)
class TextColumn:
    native: str


@dataclass(frozen=True, slots=True)
class CeilColumn:
    native: str


@dataclass(frozen=True, slots=True)
class Derived:
    """Shown value = `value(<native column value>, host)`; `native` None: a constant."""

    native: str | None
    domain: tuple[Any, ...]
    value: Callable[[Any, HostFacts], Any]


@dataclass(frozen=True, slots=True)
class Shown:
    pass


Source = Column | TextColumn | CeilColumn | Derived | Shown


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    source: Source
    render: Callable[[Subject, HostFacts], Any]


def _column(name: str, kind: Kind, native: str, get: Callable[[Runtime], Any]) -> Field:
    return Field(name, kind, Column(native), lambda s, _h: get(s.runtime))


def _text(name: str, native: str, get: Callable[[Runtime], str]) -> Field:
    return Field(name, Kind.STRING, TextColumn(native), lambda s, _h: get(s.runtime) or None)


def _derived(
    name: str,
    kind: Kind,
    native: str,
    domain: tuple[Any, ...],
    value: Callable[[Any, HostFacts], Any],
) -> Field:
    def render(s: Subject, h: HostFacts) -> Any:
        return value(getattr(s.runtime, native), h)

    return Field(name, kind, Derived(native, domain, value), render)


def _constant(name: str, kind: Kind, value: Callable[[HostFacts], Any]) -> Field:
    def of(_native: Any, h: HostFacts) -> Any:
        return value(h)

    return Field(name, kind, Derived(None, (None,), of), lambda _s, h: value(h))


def _shown(name: str, kind: Kind, render: Callable[[Subject, HostFacts], Any]) -> Field:
    return Field(name, kind, Shown(), render)


def _start_command(rt: Runtime) -> str | None:
    return shlex.join(rt.command) if rt.command else None


def _container_args(rt: Runtime) -> str | None:
    return shlex.join(rt.command[1:]) if len(rt.command) > 1 else None


def _time(rt: Runtime) -> str | None:
    return format_time(rt.created_at) if rt.created_at else None


FIELDS: tuple[Field, ...] = (
    _column("uuid", Kind.STRING, "id", lambda r: r.id),
    _column("name", Kind.STRING, "name", lambda r: r.name),
    _text("description", "readme", lambda r: r.readme),
    _text("readme", "readme", lambda r: r.readme),
    _shown("yaml", Kind.STRING, lambda s, _h: render_yaml(s.runtime)),
    Field(
        "requestCpu",
        Kind.INTEGER,
        CeilColumn("request_cpu"),
        lambda s, _h: math.ceil(s.runtime.request_cpu),
    ),
    _column("requestMemory", Kind.INTEGER, "request_memory", lambda r: r.request_memory),
    _column("modelCenterUuid", Kind.STRING, "project_id", lambda r: r.project_id),
    _constant("type", Kind.STRING, lambda _h: ENDPOINT),
    _column("framework", Kind.STRING, "framework", lambda r: r.framework.value),
    _derived(
        "source", Kind.STRING, "system", (True, False), lambda v, _h: BUILTIN if v else CUSTOM
    ),
    _constant("size", Kind.INTEGER, lambda _h: None),
    _column("system", Kind.BOOLEAN, "system", lambda r: r.system),
    _constant("hasNewVersion", Kind.BOOLEAN, lambda _h: False),
    _constant("gpuComputeCapability", Kind.STRING, lambda _h: None),
    _constant("installPath", Kind.STRING, lambda _h: None),
    _constant("pythonVersion", Kind.STRING, lambda h: h.python_version),
    _constant("condaVersion", Kind.STRING, lambda _h: None),
    _derived(
        "version",
        Kind.STRING,
        "system",
        (True, False),
        lambda v, h: h.modelport_version if v else None,
    ),
    _shown("startCommand", Kind.STRING, lambda s, _h: _start_command(s.runtime)),
    _shown(
        "containerCommand",
        Kind.STRING,
        lambda s, _h: s.runtime.command[0] if s.runtime.command else None,
    ),
    _shown("containerArgs", Kind.STRING, lambda s, _h: _container_args(s.runtime)),
    _column(
        "supportDistributed", Kind.BOOLEAN, "supports_distributed", lambda r: r.supports_distributed
    ),
    _shown("cpuArchitectures", Kind.LIST, lambda _s, h: [h.cpu_architecture]),
    _shown("vendorToSpecUuidsMap", Kind.MAP, lambda _s, _h: None),
    _shown("modelServiceRefs", Kind.LIST, lambda s, _h: [render_ref(r) for r in s.refs]),
    _shown("modelServiceImages", Kind.LIST, lambda _s, _h: None),
    _column("createDate", Kind.TIME, "created_at", _time),
    _column("lastOpDate", Kind.TIME, "created_at", _time),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
