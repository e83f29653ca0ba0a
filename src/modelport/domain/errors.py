"""The one exception tree of Modelport.

    ModelportError
    ├── NotFound          an object does not exist (or is not visible to the caller)
    ├── Conflict          a write lost a race (stale revision) or a name is taken
    ├── Invalid           bad input; `field` names what was wrong
    ├── Unauthorized      missing or wrong credentials
    ├── Forbidden         the credentials are good but may not do this
    ├── Unavailable       the object exists but cannot serve now (no ready replica)
    ├── TemporaryError    an outside effect failed; retry after `delay` seconds
    └── PermanentError    an outside effect failed; retrying will not help

Services and the controller raise these; only `api/` and `gateway/` turn them into HTTP
status codes, and each dialect into its vendor's error shape. Foreign exceptions (OSError,
SQLAlchemy, httpx) are translated once, at the boundary, with `raise … from exc`.
"""

from __future__ import annotations

from typing import Any


class ModelportError(Exception):
    """Base of every error Modelport raises on purpose."""

    code = "internal"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class NotFound(ModelportError):
    code = "not_found"

    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"{kind} {object_id!r} not found", details={"kind": kind, "id": object_id})
        self.kind = kind
        self.object_id = object_id


class Conflict(ModelportError):
    code = "conflict"


class Invalid(ModelportError):
    code = "invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", details={"field": field})
        self.field = field


class Unauthorized(ModelportError):
    code = "unauthorized"


class Forbidden(ModelportError):
    code = "forbidden"


class Unavailable(ModelportError):
    code = "unavailable"


class Overloaded(Unavailable):
    """Every ready replica of the service has its `max_concurrency` requests in flight."""

    code = "overloaded"


class RateLimited(ModelportError):
    """The service's request-rate limit is reached; `retry_after` seconds until a call fits."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class UpstreamTimeout(ModelportError):
    """A replica did not answer within the service's timeout."""

    code = "timeout"


class TemporaryError(ModelportError):
    code = "temporary"

    def __init__(self, message: str, *, delay: float = 1.0) -> None:
        super().__init__(message, details={"retry_after": delay})
        self.delay = delay


class PermanentError(ModelportError):
    code = "permanent"
