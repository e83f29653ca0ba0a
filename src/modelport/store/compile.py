"""Compile a `ListQuery` to SQL over a whitelist of fields, and run it with its total count.

A field outside the whitelist is an `Invalid` error naming it; nothing is filtered, sorted or
paged in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import FunctionType
from typing import Any

from sqlalchemy import ColumnElement, Select, TypeDecorator, and_, func, not_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from modelport.domain.errors import Invalid
from modelport.query.ast import And, Cond, Filter, ListQuery, Not, Op, Or

Column = ColumnElement[Any] | InstrumentedAttribute[Any]


class Keyed:
    """A family of fields named `prefix:<key>` (e.g. `tag:team`), registered as `prefix:`."""

    def __init__(self, build: Callable[[str, Op, Any], ColumnElement[bool]]) -> None:
        self.build = build


# a field is a column, a function building a condition (for fields in other tables), or keyed
Field = Column | Callable[[Op, Any], ColumnElement[bool]] | Keyed


def condition(flt: Filter, fields: Mapping[str, Field]) -> ColumnElement[bool]:
    if isinstance(flt, And):
        return and_(*(condition(p, fields) for p in flt.parts))
    if isinstance(flt, Or):
        return or_(*(condition(p, fields) for p in flt.parts))
    if isinstance(flt, Not):
        return not_(condition(flt.part, fields))
    return _cond(flt, fields)


def _cond(c: Cond, fields: Mapping[str, Field]) -> ColumnElement[bool]:
    target = fields.get(c.field)
    prefix, _, key = c.field.partition(":")
    if target is None and key and isinstance(fields.get(prefix + ":"), Keyed):
        keyed = fields[prefix + ":"]
        assert isinstance(keyed, Keyed)
        return keyed.build(key, c.op, c.value)
    if target is None:
        raise Invalid(c.field, f"cannot filter on {c.field!r}; fields: {', '.join(sorted(fields))}")
    if isinstance(target, Keyed):
        raise Invalid(c.field, f"name a key: {c.field}<key>")
    if isinstance(target, ColumnElement | InstrumentedAttribute):
        return compare(target, c.op, coerce(c.field, target, c.op, c.value))
    return target(c.op, c.value)


def coerce(name: str, col: Column, op: Op, value: Any) -> Any:
    """Turn text from a URL into the column's type (`"10"` → 10), naming the field if it can't."""
    if op in (Op.IS_NULL, Op.NOT_NULL, Op.LIKE):
        return value
    if op in (Op.IN, Op.NOT_IN):
        return [coerce(name, col, Op.EQ, v) for v in value]
    if not isinstance(value, str):
        return value
    column_type = col.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    try:
        kind = column_type.python_type
    except NotImplementedError:
        return value
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if kind in (int, float):
            number = kind(value)
            if kind is int and not -(2**31) <= number < 2**31:  # what an INTEGER holds
                raise ValueError(value)
            return number
        if kind is datetime:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError as exc:
        raise Invalid(name, f"not a valid {kind.__name__}: {value!r}") from exc
    return value


def compare(field: Column, op: Op, value: Any) -> ColumnElement[bool]:
    col: ColumnElement[Any] = (
        field.__clause_element__() if isinstance(field, InstrumentedAttribute) else field
    )
    expr: ColumnElement[bool]
    match op:
        case Op.EQ:
            expr = col == value
        case Op.NE:
            expr = col != value
        case Op.LT:
            expr = col < value
        case Op.LE:
            expr = col <= value
        case Op.GT:
            expr = col > value
        case Op.GE:
            expr = col >= value
        case Op.IN:
            expr = col.in_(list(value))
        case Op.NOT_IN:
            expr = col.not_in(list(value))
        case Op.LIKE:
            expr = col.like(value)
        case Op.IS_NULL:
            expr = col.is_(None)
        case Op.NOT_NULL:
            expr = col.is_not(None)
        case _:
            raise Invalid("op", f"unknown operator {op!r}")
    return expr


async def run(
    session: AsyncSession,
    stmt: Select[Any],
    query: ListQuery,
    fields: Mapping[str, Field],
    tiebreak: Column,
) -> tuple[Sequence[Any], int]:
    """Filter, sort and page `stmt`; return the page's rows and the total before paging."""
    if query.filter is not None:
        stmt = stmt.where(condition(query.filter, fields))
    total = -1
    if query.count:
        # count(*) straight over the filtered table: an index-only count where one fits
        count_stmt = stmt.with_only_columns(func.count()).order_by(None)
        total = int((await session.execute(count_stmt)).scalar_one())
    order: list[Any] = []
    for key in query.sort:
        col = fields.get(key.field)
        if col is None or isinstance(col, FunctionType | Keyed):
            raise Invalid("sort", f"cannot sort by {key.field!r}")
        order.append(col.desc() if key.descending else col.asc())  # type: ignore[union-attr]
    # the tiebreak runs the way the last key does, so one index can give the whole order
    last_descending = bool(query.sort) and query.sort[-1].descending
    order.append(tiebreak.desc() if last_descending else tiebreak.asc())
    if query.limit == 0:
        return [], total
    if query.offset == 0:  # the first page: one query, the index gives the order
        rows = await session.execute(stmt.order_by(*order).limit(query.limit))
        return rows.scalars().all(), total
    # a deferred join: page over the ids alone (an index-only walk, however deep the offset),
    # then read the rows of that page
    ids_stmt = stmt.with_only_columns(tiebreak).order_by(*order)
    ids = (await session.execute(ids_stmt.offset(query.offset).limit(query.limit))).scalars()
    page = list(ids)
    if not page:
        return [], total
    name = tiebreak.key or "id"
    rows = (await session.execute(stmt.where(tiebreak.in_(page)))).scalars()
    found = {getattr(r, name): r for r in rows}
    return [found[i] for i in page if i in found], total
