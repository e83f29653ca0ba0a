"""The query parameters of a ZStack query API, read as `RestServer.handleQueryApi` reads them
(spec B.3): `q` conditions, `limit`, `start`, `count`, `replyWithCount`, `sort`, `fields`.

This module knows the syntax only; which fields exist, and what they mean, is `translate`'s.
Every syntax error is a `RestError` (plain-text 400) with ZStack's exact message.

Parameter names are trimmed. For every parameter but `q` only the first value counts, trimmed.
Each `q` value is one condition; a parameter with an empty name is a `q` too (ZStack tests
`"q".startsWith(name)`). Parameters ZStack does not know are ignored, and so are `groupBy` and
`filterName`. Two tolerances beyond ZStack: repeated `fields` values are merged, and when
`sort` is absent `sortBy` + `sortDirection` (sent by some generated SDKs) sort instead.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from modelport.dialects.zstack import errors

DEFAULT_LIMIT = 1000
_INT = re.compile(r"^[+-]?[0-9]+$")
_INT_MAX = 2**31 - 1


class QueryOp(enum.StrEnum):
    """ZStack's `QueryOp` values (what its messages print)."""

    EQ = "="
    NOT_EQ = "!="
    GT = ">"
    GT_AND_EQ = ">="
    LT = "<"
    LT_AND_EQ = "<="
    IN = "in"
    NOT_IN = "not in"
    IS_NULL = "is null"
    NOT_NULL = "is not null"
    LIKE = "like"
    NOT_LIKE = "not like"


# the operator tokens, in the order ZStack tries them: the first one the condition contains wins
TOKENS: tuple[tuple[str, QueryOp], ...] = (
    ("!=", QueryOp.NOT_EQ),
    (">=", QueryOp.GT_AND_EQ),
    ("<=", QueryOp.LT_AND_EQ),
    ("!?=", QueryOp.NOT_IN),
    ("!~=", QueryOp.NOT_LIKE),
    ("~=", QueryOp.LIKE),
    ("?=", QueryOp.IN),
    ("=", QueryOp.EQ),
    (">", QueryOp.GT),
    ("<", QueryOp.LT),
    ("is null", QueryOp.IS_NULL),
    ("not null", QueryOp.NOT_NULL),
)
NULL_OPS = frozenset({QueryOp.IS_NULL, QueryOp.NOT_NULL})


@dataclass(frozen=True, slots=True)
class Condition:
    """One `q` condition: a field name (trimmed), an operator and the raw value (not trimmed;
    None for `is null` / `not null`)."""

    name: str
    op: QueryOp
    value: str | None = None


@dataclass(frozen=True, slots=True)
class QueryParams:
    conditions: tuple[Condition, ...] = ()
    limit: int = DEFAULT_LIMIT
    start: int = 0
    count: bool = False
    reply_with_count: bool = False
    sort_by: str | None = None
    descending: bool = False
    fields: tuple[str, ...] | None = None


def parse_condition(text: str) -> Condition:
    """`name!=a` → (name, NOT_EQ, "a"); `a=b=c` → (a, EQ, "b=c"); `x is null` → (x, IS_NULL)."""
    found = next(((token, op) for token, op in TOKENS if token in text), None)
    if found is None:
        valid = ", ".join(token for token, _ in TOKENS)
        raise errors.bad_request(
            f"Invalid query parameter. The '{text}' in the parameter[q] doesn't contain any "
            f"query operator. Valid query operators are [{valid}]"
        )
    token, op = found
    parts = split_by_whole_separator(text, token, 2)
    if op in NULL_OPS:
        return Condition(parts[0].strip() if parts else "", op)
    if len(parts) != 2:
        raise errors.bad_request(
            f"Invalid query parameter. The '{text}' in parameter[q] is not a key-value pair "
            f"split by {op.value}"
        )
    return Condition(parts[0].strip(), op, parts[1])


def split_by_whole_separator(text: str, separator: str, limit: int) -> list[str]:
    """Apache commons-lang `StringUtils.splitByWholeSeparator(text, separator, limit)`: empty
    pieces between adjacent separators are dropped, the last piece keeps the rest."""
    pieces: list[str] = []
    begin, end, size = 0, 0, len(text)
    while end < size:
        end = text.find(separator, begin)
        if end == -1:
            pieces.append(text[begin:])
            end = size
        elif end > begin:
            if len(pieces) + 1 == limit:
                pieces.append(text[begin:])
                end = size
            else:
                pieces.append(text[begin:end])
                begin = end + len(separator)
        else:
            begin = end + len(separator)
    return pieces


def parse(items: Iterable[tuple[str, str]]) -> QueryParams:
    """The query parameters of a request (name, value pairs in the order they came)."""
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name.strip(), []).append(value)
    conditions: list[Condition] = []
    fields: list[str] | None = None
    limit, start = DEFAULT_LIMIT, 0
    count = reply_with_count = False
    sort: tuple[str, bool] | None = None
    for name, values in grouped.items():
        first = values[0].strip()
        if name == "limit":
            limit = _integer("limit", first)
        elif name == "start":
            start = _integer("start", first)
        elif name == "count":
            count = first.lower() == "true"
        elif name == "replyWithCount":
            reply_with_count = first.lower() == "true"
        elif name == "sort":
            sort = _sort(first)
        elif "q".startswith(name):
            conditions.extend(parse_condition(v) for v in values)
        elif name == "fields":
            fields = [f.strip() for v in values for f in v.split(",") if f.strip()]
            if not fields:
                raise errors.bad_request("Invalid query parameter. 'fields' contains zero field")
    if sort is None and grouped.get("sortBy"):
        by, descending = _sort(grouped["sortBy"][0].strip())
        direction = (grouped.get("sortDirection") or ["asc"])[0].strip().lower()
        sort = (by, descending or direction == "desc")
    return QueryParams(
        conditions=tuple(dict.fromkeys(conditions)),  # identical conditions collapse (a Set)
        limit=limit,
        start=start,
        count=count,
        reply_with_count=reply_with_count,
        sort_by=sort[0] if sort and sort[0] else None,
        descending=sort[1] if sort else False,
        fields=tuple(dict.fromkeys(fields)) if fields is not None else None,
    )


def _integer(name: str, text: str) -> int:
    """Java's `Integer.valueOf`: optional sign, ASCII digits, 32-bit."""
    if not _INT.match(text) or not -_INT_MAX - 1 <= int(text) <= _INT_MAX:
        raise errors.bad_request(f"Invalid query parameter. '{name}' must be an integer")
    return int(text)


def _sort(text: str) -> tuple[str, bool]:
    """`+name` / `name` ascending, `-name` descending (a `+` sent unencoded arrives as a space,
    which trimming removed)."""
    if text.startswith("-"):
        return text.lstrip("-"), True
    return text.lstrip("+"), False
