"""Action parameters: decode the request body (or query), then read typed fields from it.

The SDK posts a JSON object (`Content-Type: application/json`). TC3 also allows a GET, or a
form-encoded POST, whose parameters are flattened (`Filters.0.Values.1=Normal`) and all text
(booleans as Python prints them, `True`/`False`); `decode` rebuilds the nested structure and
marks it `loose`, so that `Reader` parses numbers and booleans out of text there, and only
there.

`Reader` names each field by its full path (`Filters.0.Negative`) in its errors:
a wrong type is `InvalidParameter`, a missing required field `MissingParameter`, a field the
action does not have `UnknownParameter`, an Integer outside 32 bits or a String with a NUL
character `InvalidParameterValue`. JSON `null` reads as absent, as the SDK omits unset
fields anyway. Called by the per-action parsers of this package; pure.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qsl

from modelport.dialects.tione.errors import Code, TioneError, missing

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_TRUE = {"true": True, "false": False}
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # every Integer of these actions fits 32 bits


def _bad(message: str) -> TioneError:
    return TioneError(Code.INVALID_PARAMETER, message)


def decode(method: str, content_type: str, query: str, body: bytes) -> tuple[dict[str, Any], bool]:
    """The action's parameters and whether they are `loose` (all text, from a form)."""
    if method.upper() == "GET":
        return unflatten(_pairs(query)), True
    media = content_type.split(";")[0].strip().lower()
    if media == FORM:
        return unflatten(_pairs(body.decode("utf-8", "replace"))), True
    if media != JSON:
        raise _bad(f"Content-Type {content_type!r} is not supported; send {JSON}.")
    if not body.strip():
        return {}, False
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object.")
    return data, False


def _pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:  # pragma: no cover - parse_qsl rarely raises
        raise _bad(f"The query string is malformed: {exc}.") from exc


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`[("Filters.0.Name", "Status")]` → `{"Filters": [{"Name": "Status"}]}`."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.split(".")
        node = root
        for i, part in enumerate(parts):
            if not part:
                raise _bad(f"The parameter name {key!r} is malformed.")
            last = i == len(parts) - 1
            existing = node.get(part)
            if last:
                if existing is not None:
                    raise _bad(f"The parameter {key!r} is given twice or conflicts with another.")
                node[part] = value
            else:
                if existing is None:
                    existing = node[part] = {}
                if not isinstance(existing, dict):
                    raise _bad(f"The parameter {key!r} conflicts with another.")
                node = existing
    out: dict[str, Any] = _lists(root, "")
    return out


def _lists(node: Any, path: str) -> Any:
    """Dicts whose keys are all indices become lists (indices must run 0, 1, 2, …)."""
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        indices = sorted(int(k) for k in node)
        if indices != list(range(len(indices))):
            raise _bad(f"The indices of {path or 'the list'} must run 0, 1, 2, ….")
        return [_lists(node[str(i)], f"{path}.{i}") for i in indices]
    return {k: _lists(v, f"{path}.{k}" if path else k) for k, v in node.items()}


class Reader:
    """Typed, path-naming access to one object of parameters."""

    def __init__(self, data: Mapping[str, Any], loose: bool = False, path: str = "") -> None:
        self.data = data
        self.loose = loose
        self.path = path

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def check_known(self, known: Collection[str]) -> None:
        unknown = sorted(k for k in self.data if k not in known)
        if unknown:
            raise TioneError(
                Code.UNKNOWN_PARAMETER, f"The parameter `{self._name(unknown[0])}` is not defined."
            )

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            raise missing(self._name(key))
        return value

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _bad(f"The parameter `{self._name(key)}` must be a String.")
        _no_nul(value, self._name(key))
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        return _integer(value, self._name(key), self.loose)

    def boolean(self, key: str) -> bool | None:
        value = self._get(key, False)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if self.loose and isinstance(value, str) and value.lower() in _TRUE:
            return _TRUE[value.lower()]
        raise _bad(f"The parameter `{self._name(key)}` must be a Boolean.")

    def _array(self, key: str, required: bool) -> list[Any] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise _bad(f"The parameter `{self._name(key)}` must be an Array.")
        return value

    def strings(self, key: str, *, required: bool = False) -> list[str] | None:
        items = self._array(key, required)
        if items is None:
            return None
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise _bad(f"The parameter `{self._name(key)}.{i}` must be a String.")
            _no_nul(item, f"{self._name(key)}.{i}")
        return items

    def obj(self, key: str, *, required: bool = False) -> Reader | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _bad(f"The parameter `{self._name(key)}` must be an Object.")
        return Reader(value, self.loose, self._name(key))

    def objects(self, key: str, *, required: bool = False) -> list[Reader] | None:
        items = self._array(key, required)
        if items is None:
            return None
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise _bad(f"The parameter `{self._name(key)}.{i}` must be an Object.")
            out.append(Reader(item, self.loose, f"{self._name(key)}.{i}"))
        return out


def _no_nul(value: str, name: str) -> None:
    """No name, id or text of Modelport's holds a NUL character (nor can a process argument)."""
    if "\0" in value:
        raise TioneError(
            Code.INVALID_PARAMETER_VALUE, f"The parameter `{name}` cannot contain a NUL character."
        )


def _integer(value: Any, name: str, loose: bool) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif loose and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    if number is None:
        raise _bad(f"The parameter `{name}` must be an Integer.")
    if not INT_MIN <= number <= INT_MAX:
        raise TioneError(
            Code.INVALID_PARAMETER_VALUE,
            f"The parameter `{name}` must be between {INT_MIN} and {INT_MAX}.",
        )
    return number
