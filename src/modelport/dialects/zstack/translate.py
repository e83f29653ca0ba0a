"""ZStack query parameters → a native `ListQuery` over runtimes (spec B.3 semantics).

Conditions are AND-ed. A value is read as its field's kind (`fields.Kind`): a Boolean is
`true`/`false` (any case), an Integer is a whole number, a Timestamp is read by
`times.parse_time` and names a whole second. `?=` and `!?=` split the value on `,` as Java's
`String.split` does; `~=`/`!~=` take a SQL LIKE pattern and apply to String fields only. As
in SQL, a field with no value (shown absent) matches no comparison, only `is null`.

An unknown field name is ZQL's failure, `SYS.1000` with ZQL's message; a known field that is
only shown (`fields.Shown`), a value of the wrong kind, a negative `limit` or `start` are
`SYS.1007`. A `limit` above `MAX_LIMIT` is served as `MAX_LIMIT`. Without `sort`, the order
is `createDate` ascending (then `uuid`), which is ZStack's insertion order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from modelport.dialects.zstack import errors
from modelport.dialects.zstack.fields import (
    BY_NAME,
    CeilColumn,
    Column,
    Derived,
    Field,
    HostFacts,
    Kind,
    Shown,
    TextColumn,
)
from modelport.dialects.zstack.grammar import Condition, QueryOp, QueryParams
from modelport.dialects.zstack.times import parse_time
from modelport.query.ast import (
    MAX_LIMIT,
    MAX_OFFSET,
    And,
    Cond,
    Filter,
    ListQuery,
    Not,
    Op,
    Or,
    Sort,
    all_of,
)

INVENTORY = "ModelServiceInventory"
NOTHING: Filter = Cond("id", Op.IS_NULL)  # a runtime always has an id: matches none
SECOND = timedelta(seconds=1)
DEFAULT_SORT = (Sort("created_at"),)

_COMPARE = {
    QueryOp.EQ: Op.EQ,
    QueryOp.NOT_EQ: Op.NE,
    QueryOp.GT: Op.GT,
    QueryOp.GT_AND_EQ: Op.GE,
    QueryOp.LT: Op.LT,
    QueryOp.LT_AND_EQ: Op.LE,
}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_LIKE_OPS = frozenset({QueryOp.LIKE, QueryOp.NOT_LIKE})
_LIST_OPS = frozenset({QueryOp.IN, QueryOp.NOT_IN})


def to_list_query(params: QueryParams, host: HostFacts) -> ListQuery:
    """The native query for `params`; `count` asks only for the total."""
    if params.limit < 0:
        raise errors.invalid_argument(f"limit must be 0 or more, not {params.limit}")
    if params.start < 0:
        raise errors.invalid_argument(f"start must be 0 or more, not {params.start}")
    if params.start > MAX_OFFSET:  # no deeper page holds a row
        raise errors.invalid_argument(f"start must be at most {MAX_OFFSET}, not {params.start}")
    if params.fields is not None:
        for name in params.fields:
            field_named(name)
    flt = all_of(*(condition(c, host) for c in params.conditions))
    sort: tuple[Sort, ...] = DEFAULT_SORT
    if params.sort_by is not None:
        key = sort_key(params.sort_by, params.descending)
        sort = (key,) if key is not None else ()
    return ListQuery(
        filter=flt,
        sort=sort,
        offset=0 if params.count else params.start,
        limit=0 if params.count else min(params.limit, MAX_LIMIT),
        count=params.count or params.reply_with_count,
    )


def by_uuid(uuid: str) -> ListQuery:
    """`GET …/model-services/{uuid}`: the query with the one condition `uuid=<uuid>`."""
    return ListQuery(filter=Cond("id", Op.EQ, uuid), sort=DEFAULT_SORT, limit=1, count=False)


def field_named(name: str) -> Field:
    found = BY_NAME.get(name)
    if found is None:
        raise errors.ReplyError(
            errors.INTERNAL, f"inventory class[{INVENTORY}] not having field[{name}]"
        )
    return found


def _queryable(name: str) -> Field:
    head = name.split(".", 1)[0]
    found = field_named(head) if "." in name else field_named(name)
    if isinstance(found.source, Shown) or "." in name:
        raise errors.invalid_argument(
            f"field[{name}] of {INVENTORY} is shown only; it cannot be queried or sorted on"
        )
    return found


def sort_key(name: str, descending: bool) -> Sort | None:
    """The native sort key for a field; None for a constant (every row ties)."""
    src = _queryable(name).source
    if isinstance(src, Derived):
        return Sort(src.native, descending) if src.native else None
    assert not isinstance(src, Shown)
    return Sort(src.native, descending)


def condition(c: Condition, host: HostFacts) -> Filter | None:
    """One condition as a native filter; None when it holds for every runtime."""
    f = _queryable(c.name)
    src = f.source
    if isinstance(src, Derived):
        return _derived(f, src, c, host)
    if isinstance(src, TextColumn):
        if c.op is QueryOp.IS_NULL:
            return Cond(src.native, Op.EQ, "")
        if c.op is QueryOp.NOT_NULL:
            return Cond(src.native, Op.NE, "")
        return And((Cond(src.native, Op.NE, ""), _column(src.native, f, c)))
    if isinstance(src, CeilColumn):
        return _ceil(src.native, f, c)
    assert isinstance(src, Column)
    return _column(src.native, f, c)


# -- columns ---------------------------------------------------------------------------------
def _column(native: str, f: Field, c: Condition) -> Filter:
    if c.op is QueryOp.IS_NULL:
        return Cond(native, Op.IS_NULL)
    if c.op is QueryOp.NOT_NULL:
        return Cond(native, Op.NOT_NULL)
    raw = _value(c)
    if c.op in _LIKE_OPS:
        _like_on_string(f, c)
        like = Cond(native, Op.LIKE, raw)
        return like if c.op is QueryOp.LIKE else Not(like)
    if f.kind is Kind.TIME:
        return _ranged(c, [parse_time(v) for v in _items(c)], lambda t: _second(native, t))
    if c.op in _LIST_OPS:
        values = [_typed(f, v) for v in split_list(raw)]
        return Cond(native, Op.IN if c.op is QueryOp.IN else Op.NOT_IN, values)
    return Cond(native, _COMPARE[c.op], _typed(f, raw))


def _second(native: str, t: datetime) -> tuple[Filter, Filter]:
    """(at or after the second `t` begins, before it ends)."""
    return Cond(native, Op.GE, t), Cond(native, Op.LT, t + SECOND)


def _ceil(native: str, f: Field, c: Condition) -> Filter:
    """`requestCpu` shows ceil(request_cpu): n ⇔ n-1 < request_cpu <= n."""
    if c.op in (QueryOp.IS_NULL, QueryOp.NOT_NULL):
        return _column(native, f, c)
    if c.op in _LIKE_OPS:
        _like_on_string(f, c)
    numbers = [_typed(f, v) for v in _items(c)]
    return _ranged(c, numbers, lambda n: (Cond(native, Op.GT, n - 1), Cond(native, Op.LE, n)))


def _ranged(
    c: Condition, values: list[Any], bounds: Callable[[Any], tuple[Filter, Filter]]
) -> Filter:
    """A comparison with a value that stands for a range [low, high): `bounds(v)` gives the
    filters "at or above low" and "below high" of the range."""
    ranges = [bounds(v) for v in values]
    if c.op in _LIST_OPS:
        if not ranges:
            return NOTHING if c.op is QueryOp.IN else Not(NOTHING)
        inside: list[Filter] = [And(r) for r in ranges]
        any_of = inside[0] if len(inside) == 1 else Or(tuple(inside))
        return any_of if c.op is QueryOp.IN else Not(any_of)
    low, high = ranges[0]
    match c.op:
        case QueryOp.EQ:
            return And((low, high))
        case QueryOp.NOT_EQ:
            return Not(And((low, high)))
        case QueryOp.GT:
            return Not(high)
        case QueryOp.GT_AND_EQ:
            return low
        case QueryOp.LT:
            return Not(low)
        case _:
            return high


# -- derived fields and constants ------------------------------------------------------------
def _derived(f: Field, src: Derived, c: Condition, host: HostFacts) -> Filter | None:
    matching = [d for d in src.domain if _holds(f, c, src.value(d, host))]
    if len(matching) == len(src.domain):
        return None
    if not matching:
        return NOTHING
    assert src.native is not None
    return Cond(src.native, Op.IN, matching)


def _holds(f: Field, c: Condition, shown: Any) -> bool:
    """Does `c` hold for a field showing `shown`? (SQL semantics: null matches no comparison.)"""
    if c.op is QueryOp.IS_NULL:
        return shown is None
    if c.op is QueryOp.NOT_NULL:
        return shown is not None
    raw = _value(c)
    if c.op in _LIKE_OPS:
        _like_on_string(f, c)
        return shown is not None and like_matches(raw, str(shown)) == (c.op is QueryOp.LIKE)
    if c.op in _LIST_OPS:
        members = [_typed(f, v) for v in split_list(raw)]
        return shown is not None and (shown in members) == (c.op is QueryOp.IN)
    value = _typed(f, raw)
    if shown is None:
        return False
    match c.op:
        case QueryOp.EQ:
            return bool(shown == value)
        case QueryOp.NOT_EQ:
            return bool(shown != value)
        case QueryOp.GT:
            return bool(shown > value)
        case QueryOp.GT_AND_EQ:
            return bool(shown >= value)
        case QueryOp.LT:
            return bool(shown < value)
        case _:
            return bool(shown <= value)


# -- values ----------------------------------------------------------------------------------
def _value(c: Condition) -> str:
    assert c.value is not None
    return c.value


def _items(c: Condition) -> list[str]:
    return split_list(_value(c)) if c.op in _LIST_OPS else [_value(c)]


def split_list(text: str) -> list[str]:
    """Java's `text.split(",")`: trailing empty pieces are dropped."""
    pieces = text.split(",")
    while pieces and pieces[-1] == "":
        pieces.pop()
    return pieces


def _typed(f: Field, text: str) -> Any:
    if f.kind is Kind.BOOLEAN:
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise errors.invalid_argument(
                f"{f.name} is of type Boolean; {text!r} is not true or false"
            )
        return lowered == "true"
    if f.kind is Kind.INTEGER:
        if not _INTEGER.fullmatch(text.strip()):
            raise errors.invalid_argument(f"{f.name} is of type Integer; {text!r} is not one")
        return int(text.strip())
    return text


def _like_on_string(f: Field, c: Condition) -> None:
    if f.kind is not Kind.STRING:
        raise errors.invalid_argument(
            f"'{c.op.value}' applies to String fields only; {f.name} is of type {f.kind.value}"
        )


def like_matches(pattern: str, text: str) -> bool:
    """SQL LIKE: `%` any run, `_` any one character (case-sensitive)."""
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None
