"""TI-ONE error codes, the dialect's one exception, and the translation of domain errors.

The pure translators of this package raise `TioneError(code, message)` for what the vendor's
protocol rejects (bad signature, unknown filter, a Limit over 100); the HTTP handler renders it
as the vendor's error envelope (`envelope.error`). Domain errors raised by the use cases are
translated once, by `of_domain`:

    NotFound (model)      → ResourceNotFound.NoModel
    NotFound (other)      → ResourceNotFound
    Invalid               → InvalidParameterValue
    Conflict              → FailedOperation
    Unauthorized          → AuthFailure
    Forbidden             → UnauthorizedOperation
    Unavailable           → ResourceUnavailable
    TemporaryError        → FailedOperation.Processing   (retry later)
    PermanentError        → FailedOperation
    anything else         → InternalError
"""

from __future__ import annotations

import enum

from modelport.domain.errors import (
    Conflict,
    Forbidden,
    Invalid,
    ModelportError,
    NotFound,
    PermanentError,
    TemporaryError,
    Unauthorized,
    Unavailable,
)


class Code(enum.StrEnum):
    """Every code this dialect answers with (common platform codes and TI-ONE's own)."""

    INVALID_AUTHORIZATION = "AuthFailure.InvalidAuthorization"
    SECRET_ID_NOT_FOUND = "AuthFailure.SecretIdNotFound"
    SIGNATURE_EXPIRE = "AuthFailure.SignatureExpire"
    SIGNATURE_FAILURE = "AuthFailure.SignatureFailure"
    AUTH_FAILURE = "AuthFailure"
    UNAUTHORIZED_OPERATION = "UnauthorizedOperation"
    INVALID_ACTION = "InvalidAction"
    NO_SUCH_VERSION = "NoSuchVersion"
    MISSING_PARAMETER = "MissingParameter"
    UNKNOWN_PARAMETER = "UnknownParameter"
    INVALID_PARAMETER = "InvalidParameter"
    INVALID_PARAMETER_VALUE = "InvalidParameterValue"
    INVALID_FILTER = "InvalidParameterValue.InvalidFilter"
    PAGE_LIMIT_EXCEEDED = "InvalidParameterValue.PageLimitExceeded"
    BAD_NAME = "InvalidParameterValue.BadName"
    IMAGE_NOT_FOUND = "InvalidParameterValue.ImageNotFound"
    RESOURCE_NOT_FOUND = "ResourceNotFound"
    NO_MODEL = "ResourceNotFound.NoModel"
    RESOURCE_UNAVAILABLE = "ResourceUnavailable"
    FAILED_OPERATION = "FailedOperation"
    PROCESSING = "FailedOperation.Processing"
    UNSUPPORTED_OPERATION = "UnsupportedOperation"
    REQUEST_SIZE_LIMIT_EXCEEDED = "RequestSizeLimitExceeded"
    INTERNAL_ERROR = "InternalError"


class TioneError(Exception):
    """A request the dialect answers with `Response.Error{Code, Message}`."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def missing(name: str) -> TioneError:
    return TioneError(Code.MISSING_PARAMETER, f"The parameter `{name}` is required.")


def not_found(kind: str, object_id: str) -> TioneError:
    return TioneError(Code.RESOURCE_NOT_FOUND, f"{kind} {object_id!r} does not exist.")


def of_domain(exc: ModelportError) -> TioneError:
    """The vendor code of a domain error (see the module docstring)."""
    if isinstance(exc, NotFound):
        if exc.kind == "model":
            return TioneError(Code.NO_MODEL, f"model {exc.object_id!r} does not exist.")
        return TioneError(Code.RESOURCE_NOT_FOUND, f"{exc.kind} {exc.object_id!r} does not exist.")
    code = Code.INTERNAL_ERROR
    if isinstance(exc, Invalid):
        code = Code.INVALID_PARAMETER_VALUE
    elif isinstance(exc, Conflict | PermanentError):
        code = Code.FAILED_OPERATION
    elif isinstance(exc, Unauthorized):
        code = Code.AUTH_FAILURE
    elif isinstance(exc, Forbidden):
        code = Code.UNAUTHORIZED_OPERATION
    elif isinstance(exc, Unavailable):
        code = Code.RESOURCE_UNAVAILABLE
    elif isinstance(exc, TemporaryError):
        code = Code.PROCESSING
    message = exc.message if code != Code.INTERNAL_ERROR else "internal error"
    return TioneError(code, message)
