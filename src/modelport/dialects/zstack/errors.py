"""ZStack's two kinds of failure, and domain errors mapped to them (spec B.5).

- `RestError`: a problem the REST layer finds before any API runs (a missing `Authorization`
  header, an unparsable `limit`, an unknown path). ZStack answers it with a plain-text body;
  `Problem` names the kind and the HTTP handler (`modelport.api.dialects.zstack`) picks the
  status for it.
- `ReplyError`: an API that ran and failed. ZStack answers `{"error": {code, description,
  details}}` (the Java SDK reads that body only with HTTP 503); `body` builds it.

The codes are ZStack's own (`conf/errorCodes/identity.xml`, `sys.xml`), with their fixed
descriptions; `details` is free text.
"""

from __future__ import annotations

import enum
from typing import Any

from modelport.domain.errors import (
    Forbidden,
    Invalid,
    ModelportError,
    NotFound,
    Unauthorized,
)

AUTH_FAILED = "ID.1000"
SESSION_INVALID = "ID.1001"
PERMISSION_DENIED = "ID.1002"
INTERNAL = "SYS.1000"
INVALID_ARGUMENT = "SYS.1007"

DESCRIPTIONS = {
    AUTH_FAILED: "Unable to authenticate a user",
    SESSION_INVALID: (
        "The session is invalid, either wrong session id or the session has been expired"
    ),
    PERMISSION_DENIED: "The user doesn't have permission to perform the operation",
    INTERNAL: "An internal error happened in system",
    INVALID_ARGUMENT: "One or more API argument is invalid",
}


class Problem(enum.Enum):
    """What kind of REST-layer problem a `RestError` is (the handler maps it to a status)."""

    BAD_REQUEST = "bad request"
    CLOCK_SKEW = "request time too skewed"
    NO_MAPPING = "no api mapping"
    METHOD = "method not allowed"


class RestError(Exception):
    """A REST-layer problem, answered with `message` as plain text."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


class ReplyError(Exception):
    """A failed API reply: a ZStack error code and free-text details."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details


def bad_request(message: str) -> RestError:
    return RestError(Problem.BAD_REQUEST, message)


def invalid_argument(details: str) -> ReplyError:
    return ReplyError(INVALID_ARGUMENT, details)


def internal(details: str = "an internal error happened; see the server log") -> ReplyError:
    return ReplyError(INTERNAL, details)


def session_invalid() -> ReplyError:
    return ReplyError(SESSION_INVALID, "Session expired")


def wrong_credentials() -> ReplyError:
    return ReplyError(AUTH_FAILED, "wrong account name or password")


def locked_out(details: str) -> ReplyError:
    """A login refused because of too many failed ones (Modelport's throttle; ZStack has no
    code of its own for it, so it is the failed-login code with details saying why)."""
    return ReplyError(AUTH_FAILED, details)


def wrong_access_key() -> ReplyError:
    return ReplyError(AUTH_FAILED, "wrong access key id or signature")


def body(err: ReplyError) -> dict[str, Any]:
    """`{"error": {code, description, details}}`; ZStack's null fields are left out."""
    return {
        "error": {
            "code": err.code,
            "description": DESCRIPTIONS.get(err.code, DESCRIPTIONS[INTERNAL]),
            "details": err.details,
        }
    }


def from_domain(exc: ModelportError) -> ReplyError:
    """A domain error as ZStack would report it (unknown objects are not errors in queries)."""
    if isinstance(exc, Invalid):
        return invalid_argument(exc.message)
    if isinstance(exc, Unauthorized):
        return session_invalid()
    if isinstance(exc, Forbidden):
        return ReplyError(PERMISSION_DENIED, exc.message)
    if isinstance(exc, NotFound):
        return invalid_argument(exc.message)
    return internal(exc.message)
