"""The filter AST: conditions combined with and/or/not, sort keys, offset and limit."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from modelport.domain.errors import Invalid


class Op(enum.StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"
    LIKE = "like"
    IS_NULL = "is null"
    NOT_NULL = "not null"


@dataclass(frozen=True, slots=True)
class Cond:
    field: str
    op: Op
    value: Any = None


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Filter


Filter = Cond | And | Or | Not


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> Sort:
        """`-created_at` sorts descending, `name` or `+name` ascending."""
        text = text.strip()
        if text.startswith("-"):
            return cls(text[1:], True)
        return cls(text.lstrip("+"), False)


MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1  # deeper pages are empty; and a SQL integer must hold it


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: Filter | None = None
    sort: tuple[Sort, ...] = ()
    offset: int = 0
    limit: int = 100
    count: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.offset <= MAX_OFFSET:
            raise Invalid("offset", f"must be between 0 and {MAX_OFFSET}")
        if not 0 <= self.limit <= MAX_LIMIT:
            raise Invalid("limit", f"must be between 0 and {MAX_LIMIT}")
        if self.filter is not None:
            _no_nul(self.filter)


def _no_nul(flt: Filter) -> None:
    """No stored text holds a NUL character (PostgreSQL's cannot): a value with one is bad
    input, named by its field, not a database error."""
    if isinstance(flt, And | Or):
        for part in flt.parts:
            _no_nul(part)
    elif isinstance(flt, Not):
        _no_nul(flt.part)
    else:
        values = flt.value if isinstance(flt.value, list | tuple) else [flt.value]
        if "\0" in flt.field or any(isinstance(v, str) and "\0" in v for v in values):
            raise Invalid(flt.field, "a value cannot contain a NUL character")


def all_of(*parts: Filter | None) -> Filter | None:
    kept = tuple(p for p in parts if p is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else And(kept)
