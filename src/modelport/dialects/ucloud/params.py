"""Request parameters of UCloud's Action API: decoding, flattening and the public ones.

A request's parameters come from its query string and its body, a form
(`application/x-www-form-urlencoded`) or a JSON object (`application/json`), merged into one
flat `name → text` mapping (spec A.1). JSON values are flattened the way the SDKs encode
them (spec A.2): `K: [a, b]` → `K.0`, `K.1`; `K: {s: v}` → `K.s`; booleans → `true`/`false`;
a float with no fraction → its integer text; `null` dropped. The same mapping, minus
`Signature`, is what the caller signed (`signature.py`).

A name given twice with the same value counts once (the Go SDK sends `Action` in the query
string and in the body); with different values it is a `Params [name] not available` error,
since the signed set would be ambiguous.

Called by the HTTP handler (`modelport.api.dialects.ucloud`); pure, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from modelport.dialects.ucloud import errors

Params = dict[str, str]

MAX_FIELDS = 1000  # parameters per request, query string and body together
_FORM = "application/x-www-form-urlencoded"


def encode_value(value: Any) -> str:
    """One scalar as the SDKs write it: `true`/`false`, `42.0` → `42`, else `str`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def flatten(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A JSON object as flat `(name, text)` pairs (`K.0`, `K.s`, `K.0.Sub`); nulls dropped."""
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        _flatten_into(out, name, value)
    return out


def _flatten_into(out: list[tuple[str, str]], name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for sub, item in value.items():
            _flatten_into(out, f"{name}.{sub}", item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _flatten_into(out, f"{name}.{i}", item)
    else:
        out.append((name, encode_value(value)))


def decode(query: str, body: bytes, content_type: str) -> Params:
    """Merge the raw query string and the body into one flat mapping.

    Raises `UCloudError` (RetCode 230) for a body that cannot be read, a body of another
    content type, too many parameters, a name given twice with different values, or a NUL
    character in a name or a value; the
    error carries the `Action` read so far, so that its answer can name it.
    """
    params: Params = {}
    clashes: list[str] = []
    try:
        _merge(params, _form_pairs(query, "query string"), clashes)
        if body.strip():
            kind = content_type.split(";", 1)[0].strip().lower()
            if kind == _FORM:
                _merge(params, _form_pairs(_text(body), "body"), clashes)
            elif kind == "application/json" or kind.endswith("+json"):
                _merge(params, _json_pairs(_text(body)), clashes)
            else:
                raise errors.param("Content-Type")
        if clashes:
            raise errors.param(clashes[0])
        for name, value in params.items():  # no name, id or key of ours holds a NUL
            if "\0" in name or "\0" in value:
                raise errors.param(name)
        if len(params) > MAX_FIELDS:
            raise errors.param("body")
    except errors.UCloudError as err:
        err.action = params.get("Action", "")
        raise
    return params


def _merge(params: Params, pairs: Iterable[tuple[str, str]], clashes: list[str]) -> None:
    """Add `pairs`; a name already there with another value goes to `clashes` (the first
    value stays)."""
    for name, value in pairs:
        if params.setdefault(name, value) != value:
            clashes.append(name)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.param("body") from exc


def _form_pairs(text: str, where: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:  # bad percent-escapes (UnicodeDecodeError) or too many fields
        raise errors.param(where) from exc


def _json_pairs(text: str) -> list[tuple[str, str]]:
    try:
        values = json.loads(text, object_pairs_hook=_json_object)
        if not isinstance(values, dict):
            raise errors.param("body")
        return flatten(values)
    except (ValueError, RecursionError) as exc:  # not JSON, numbers too long, nested too deep
        raise errors.param("body") from exc


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if out.setdefault(name, value) != value:
            raise errors.param(name)
    return out


@dataclass(frozen=True, slots=True)
class PublicParams:
    """The parameters every action carries: what to do, who asks, and their signature."""

    action: str
    public_key: str
    signature: str


def public(params: Mapping[str, str]) -> PublicParams:
    """`Action`, `PublicKey`, `Signature`; missing (or empty) → RetCode 160, 170, 172."""
    action = params.get("Action", "")
    if not action:
        raise errors.missing_action()
    signature = params.get("Signature", "")
    if not signature:
        raise errors.missing_signature()
    public_key = params.get("PublicKey", "")
    if not public_key:
        raise errors.no_such_user()
    return PublicParams(action, public_key, signature)
