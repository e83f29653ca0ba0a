"""Pins the public surface of `modelport` and the methods of its `Client` (after httpx's
`tests/test_exported_members.py`).

Adding or removing a name here is an API change: do it on purpose, with a docs entry.
"""

from __future__ import annotations

import inspect
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


def test_client_methods_are_pinned() -> None:
    """`Client`'s public methods, and the keyword arguments of those that take a spec."""
    methods = sorted(name for name in vars(modelport.Client) if not name.startswith("_"))
    assert methods == [
        "add_deployment", "close", "create_access_key", "create_project", "create_runtime",
        "create_service", "create_user", "delete_access_key", "delete_model", "delete_service",
        "deploy", "events", "from_settings", "get_model", "get_runtime", "get_service", "health",
        "invoke", "list_access_keys", "list_models", "list_projects", "list_runtimes",
        "list_services", "logs", "register_model", "remove_deployment", "replicas", "rotate_key",
        "scale", "service_key", "service_stats", "set_weights", "start", "stop",
        "update_deployment", "update_service", "wait_ready",
    ]  # fmt: skip

    def parameters(method: str) -> list[str]:
        return list(inspect.signature(getattr(modelport.Client, method)).parameters)[1:]

    assert parameters("create_service") == [
        "name", "deployments", "description", "tags", "auth", "lb_policy", "traffic",
    ]  # fmt: skip
    assert parameters("update_service") == [
        "service_id", "description", "tags", "revision", "lb_policy", "auth", "traffic",
    ]  # fmt: skip
    assert "traffic" in parameters("deploy")
    assert parameters("service_stats") == ["service_id", "minutes"]
    assert parameters("update_deployment") == ["service_id", "deployment_id", "changes", "revision"]
    assert inspect.signature(modelport.Client.service_stats).parameters["minutes"].default == 5
