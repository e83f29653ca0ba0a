"""Strategies of the dialect fuzz (`test_dialects.py`): nasty values, parameter sets.

Values are text of any Unicode (NUL and control characters included), numbers as text,
huge numbers, long text, and nested JSON of every type. Parameter sets name known
parameters (missing some), add unknown ones, repeat one; `mutants` change one parameter of
a request that works, so that the fuzz reaches each parameter's own parsing. `fuzz` is
`@given` with bounded, deterministic settings (`derandomize`, no example database).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

EXAMPLES = 100  # per request shape

ODD = [
    "",
    " ",
    "0",
    "-1",
    "01",
    "1.5",
    "1e999",
    "NaN",
    "Infinity",
    "true",
    "True",
    "null",
    "9" * 30,
    "-" + "9" * 30,
    str(2**31),
    str(2**63),
    "%",
    "%zz",
    "%00",
    "\x00",
    "a\x00b",
    "\r\n",
    "\u202e",
    "\U0001f600",
    "a,b,,c",
    "|",
    "k|v,|x",
    "'\"<>&;",
    "../..",
    "*",
    "%_",
]
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="\x00\t\r\n %&=+?#/\\'\",.|;:!<>~*_-0aZ\u00e9\u4e2d", max_size=12),
    st.sampled_from(ODD),
    st.integers().map(str),
    st.text(min_size=1, max_size=4).map(lambda s: s * 300),
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def one_in(n: int, rare: st.SearchStrategy[Any], usual: st.SearchStrategy[Any]) -> Any:
    """`rare` one time in `n`, else `usual` (which Hypothesis, drawn to 0, tries first)."""
    return st.integers(0, n - 1).flatmap(lambda i: rare if i == n - 1 else usual)


def mostly(value: Any, other: st.SearchStrategy[Any] = TEXT) -> st.SearchStrategy[Any]:
    """`value` nine times in ten, else something from `other`."""
    return one_in(10, other, st.just(value))


def params_of(
    known: dict[str, st.SearchStrategy[Any]],
    values: st.SearchStrategy[Any] = TEXT,
    keep: int = 4,
) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """Parameter pairs: each known name `keep - 1` times in `keep`, with a fitting value (or
    a random one, one time in four); one time in five an unknown name, one in five a name
    twice."""
    names = sorted(known)

    @st.composite
    def build(draw: st.DrawFn) -> list[tuple[str, Any]]:
        chosen = [n for n in names if draw(one_in(keep, st.just(False), st.just(True)))]
        pairs = [(n, draw(one_in(4, values, known[n]))) for n in chosen]
        if draw(st.integers(0, 4)) == 4:
            pairs.append(draw(st.tuples(TEXT, values)))
        if pairs and draw(st.integers(0, 4)) == 4:
            name = draw(st.sampled_from([n for n, _ in pairs]))
            pairs.append((name, draw(values)))
        return pairs

    return build()


def mutants(
    template: dict[str, Any],
    known: dict[str, st.SearchStrategy[Any]],
    values: st.SearchStrategy[Any] = TEXT,
) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """`template` (a request that works) with one parameter set to a fitting or random value
    (one time in ten an unknown name): the fuzz then reaches each parameter's own parsing."""

    @st.composite
    def build(draw: st.DrawFn) -> list[tuple[str, Any]]:
        name = draw(one_in(10, TEXT, st.sampled_from(sorted(known))))
        value = draw(one_in(2, values, known.get(name, values)))
        return [*((k, v) for k, v in template.items() if k != name), (name, value)]

    return build()


def pairs_of(
    template: dict[str, Any],
    known: dict[str, st.SearchStrategy[Any]],
    values: st.SearchStrategy[Any] = TEXT,
    keep: int = 4,
) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """Half mutants of `template`, half random parameter sets."""
    return one_in(2, params_of(known, values, keep), mutants(template, known, values))


def no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [no_nulls(v) for v in value if v is not None]
    return value


def flat(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Pairs for a query string or a form: text values as is, others as JSON text."""
    return [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in pairs]


def fuzz(
    strategy: st.SearchStrategy[Any], examples: int = EXAMPLES, regressions: Sequence[Any] = ()
) -> Callable[..., Any]:
    """`@given(strategy)` with this module's bounded, deterministic settings; `regressions`
    (inputs that once found a bug) are always tried first."""

    def wrap(test: Callable[[Any], None]) -> Callable[[], None]:
        for case in regressions:
            test = example(case)(test)
        return settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )(given(strategy)(test))

    return wrap
