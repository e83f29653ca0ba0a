"""UCloud's error answers: the RetCodes we return, `UCloudError`, and domain errors mapped to them.

Every error is an HTTP 200 answer `{"Action": "<Action>Response", "RetCode": n, "Message": …}`
(spec A.4); the HTTP handler (`modelport.api.dialects.ucloud`) sends what `envelope` builds.
The codes below 2000 are UCloud's common codes (spec A.5), so the SDK never retries them.
Messages follow UCloud's wording where it is known (171, 172, 230), and are ours otherwise.
"""

from __future__ import annotations

import enum
from typing import Any

from modelport.domain.errors import (
    Conflict,
    Forbidden,
    Invalid,
    ModelportError,
    NotFound,
    TemporaryError,
    Unauthorized,
    Unavailable,
)


class RetCode(enum.IntEnum):
    OK = 0
    INTERNAL = 130  # "API gateway or authentication service error": our unexpected failures
    UNAVAILABLE = 150  # "service temporarily unavailable, retry later"
    MISSING_ACTION = 160
    NO_SUCH_ACTION = 161
    MISSING_SIGNATURE = 170
    BAD_SIGNATURE = 171
    NO_SUCH_USER = 172
    PARAM_INVALID = 230
    NO_SUCH_PROJECT = 292
    PERMISSION = 299  # "IAM permission check failed"


class UCloudError(Exception):
    """An error answer of the UCloud dialect: a RetCode and its message.

    `action` is the request's `Action` when the error was raised before the caller could
    know it (a request whose parameters could not all be read); "" otherwise.
    """

    def __init__(self, code: RetCode, message: str, action: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.action = action


def missing_action() -> UCloudError:
    return UCloudError(RetCode.MISSING_ACTION, "Missing Action")


def no_such_action(action: str) -> UCloudError:
    return UCloudError(RetCode.NO_SUCH_ACTION, f"Action [{action}] not exist")


def missing_signature() -> UCloudError:
    return UCloudError(RetCode.MISSING_SIGNATURE, "Missing Signature")


def bad_signature() -> UCloudError:
    return UCloudError(RetCode.BAD_SIGNATURE, "Signature VerifyAC Error")


def no_such_user() -> UCloudError:
    return UCloudError(RetCode.NO_SUCH_USER, "User Not Exists")


def param(name: str) -> UCloudError:
    return UCloudError(RetCode.PARAM_INVALID, f"Params [{name}] not available")


def too_large(limit: int) -> UCloudError:
    """A request body over the server's limit (no UCloud code known: the parameter error)."""
    return UCloudError(RetCode.PARAM_INVALID, f"Params [body] not available: over {limit} bytes")


def no_such_project(project_id: str) -> UCloudError:
    return UCloudError(RetCode.NO_SUCH_PROJECT, f"Project [{project_id}] not exist")


def internal() -> UCloudError:
    return UCloudError(RetCode.INTERNAL, "Internal Error")


def from_domain(exc: ModelportError) -> UCloudError:
    """The RetCode of a domain error raised while answering (see docs/dialects/ucloud.md)."""
    if isinstance(exc, Unauthorized):
        return no_such_user()
    if isinstance(exc, Forbidden):
        return UCloudError(RetCode.PERMISSION, exc.message)
    if isinstance(exc, Invalid):
        return param(exc.field)
    if isinstance(exc, NotFound):
        return param(exc.kind)
    if isinstance(exc, Conflict | TemporaryError | Unavailable):
        return UCloudError(RetCode.UNAVAILABLE, exc.message)
    return internal()


def envelope(action: str, err: UCloudError) -> dict[str, Any]:
    """The error body; `action` is the request's `Action` ("" when it had none)."""
    return {"Action": f"{action}Response", "RetCode": int(err.code), "Message": err.message}
