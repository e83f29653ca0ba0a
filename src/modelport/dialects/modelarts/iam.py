"""The IAM token API, minimal emulation (C.2): parse a password login, render the token body.

`POST /v3/auth/tokens` with the `password` method logs a Modelport user in; the token is the
`X-Subject-Token` response header and the body describes it. The token is always scoped to
the user's own project: a scope naming another project *id* is refused; a project *name* is
accepted as is (Huawei scripts name the region there, e.g. `cn-north-4`), and so is a domain.

IAM answers errors Keystone's way, `{"error": {"code", "title", "message"}}`, which
`huaweicloudsdkcore` reads too (the first nested object with `code` and `message`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from modelport.dialects.modelarts.times import iam_time
from modelport.domain.auth import Project
from modelport.domain.credentials import Session
from modelport.domain.errors import (
    Invalid,
    ModelportError,
    NotFound,
    TemporaryError,
    Unauthorized,
    Unavailable,
)

REGION = "modelport"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class IamError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}  # extra response headers (`Retry-After`)

    def body(self) -> dict[str, Any]:
        title = TITLES.get(self.status, "Error")
        return {"error": {"code": self.status, "title": title, "message": self.message}}


def wrong_password() -> IamError:
    return IamError(401, "The username or password is wrong.")


def locked_out(message: str, retry_after: float) -> IamError:
    """Too many failed logins of this user from this address (Modelport's login throttle):
    429, as API Gateway answers a throttled call, with `Retry-After`."""
    return IamError(429, message, {"Retry-After": str(max(1, math.ceil(retry_after)))})


def unauthenticated() -> IamError:
    return IamError(401, "The request you have made requires authentication.")


def token_not_found() -> IamError:
    return IamError(404, "Could not find token.")


def from_domain(exc: ModelportError) -> IamError:
    """A Modelport error raised while answering, in Keystone's words."""
    if isinstance(exc, Invalid):
        return IamError(400, exc.message)
    if isinstance(exc, Unauthorized | NotFound):
        return unauthenticated()
    if isinstance(exc, TemporaryError | Unavailable):
        return IamError(503, "The service is unavailable; retry.", {"Retry-After": "1"})
    return internal()


def internal() -> IamError:
    return IamError(500, "An unexpected error prevented the server from fulfilling your request.")


@dataclass(frozen=True, slots=True)
class PasswordLogin:
    user: str
    password: str
    project_id: str | None  # a scope by project id, which must be the user's project


def _get(node: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise IamError(400, f"Invalid input for field 'auth.{path}': it is required.")
        node = node[part]
    return node


def _string(node: Any, path: str) -> str:
    value = _get(node, path)
    if not isinstance(value, str) or not value:
        raise IamError(400, f"Invalid input for field 'auth.{path}': not a non-empty string.")
    if "\0" in value:  # no user name or password holds one
        raise IamError(400, f"Invalid input for field 'auth.{path}': a NUL character.")
    return value


def parse_login(body: bytes) -> PasswordLogin:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IamError(400, "The request body is not valid JSON.") from exc
    auth = doc.get("auth") if isinstance(doc, dict) else None
    if not isinstance(auth, dict):
        raise IamError(400, "Invalid input for field 'auth': it is required.")
    methods = _get(auth, "identity.methods")
    if not isinstance(methods, list) or "password" not in methods:
        raise IamError(400, "Only the 'password' authentication method is supported.")
    user = _string(auth, "identity.password.user.name")
    password = _string(auth, "identity.password.user.password")
    project_id: str | None = None
    scope = auth.get("scope")
    if isinstance(scope, dict) and isinstance(scope.get("project"), dict):
        value = scope["project"].get("id")
        project_id = value if isinstance(value, str) and value else None
    return PasswordLogin(user, password, project_id)


def token_body(session: Session, project: Project, base_url: str, catalog: bool) -> dict[str, Any]:
    ref = {"id": project.id, "name": project.name}
    token: dict[str, Any] = {
        "expires_at": iam_time(session.expires_at),
        "issued_at": iam_time(session.created_at),
        "methods": ["password"],
        "project": {"domain": dict(ref), **ref},
        "roles": [{"id": session.user.role.value, "name": session.user.role.value}],
        "user": {
            "domain": dict(ref),
            "id": session.user.id,
            "name": session.user.name,
            "password_expires_at": "",
        },
    }
    if catalog:
        endpoint = {
            "id": "modelarts-public",
            "interface": "public",
            "region": REGION,
            "region_id": REGION,
            "url": base_url,
        }
        token["catalog"] = [
            {"id": "modelarts", "name": "modelarts", "type": "modelarts", "endpoints": [endpoint]}
        ]
    return {"token": token}
