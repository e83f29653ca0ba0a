"""Pins the public surface of `modelport` (after httpx's `tests/test_exported_members.py`).

Adding or removing a name here is an API change: do it on purpose, with a docs entry.
"""

from __future__ import annotations

import types

import modelport
import modelport.client


def test_all_is_pinned() -> None:
    assert modelport.__all__ == ["ApiError", "Client", "__version__"]
    assert modelport.client.__all__ == ["ApiError", "Client"]


def test_exported_members_exist_and_are_the_client_s() -> None:
    for name in modelport.__all__:
        assert hasattr(modelport, name), name
    assert modelport.Client is modelport.client.Client
    assert modelport.ApiError is modelport.client.ApiError
    assert issubclass(modelport.ApiError, Exception)
    assert modelport.__version__ == "0.1.0"


def test_every_public_member_is_exported() -> None:
    """Nothing public lives in `modelport` without being in `__all__` (httpx's check)."""
    members = {
        name
        for name, value in vars(modelport).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)  # subpackages, once imported
        and name != "annotations"  # `from __future__ import annotations`
    }
    assert sorted(members | {"__version__"}) == sorted(modelport.__all__)
