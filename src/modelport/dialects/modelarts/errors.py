"""ModelArts error answers: `{"error_code", "error_msg"}` with the vendor's HTTP status (C.4).

`ModelArtsError` carries the status, code and message of one row of the vendor's error tables;
the constructors below are the rows Modelport answers with, and `from_domain` translates
Modelport's own errors. The HTTP handler renders `body(request_id)` with `status` and an
`X-Request-Id` header. The statuses are the vendor's (part of its wire contract, like the
codes), so they live here beside the codes rather than in `api/`.

Gateway-level failures (authentication, before the service) use API Gateway's `APIG.0301` and
carry `request_id` in the body as APIG does; service-level errors do not.
"""

from __future__ import annotations

from typing import Any

from modelport.domain.errors import (
    Conflict,
    Forbidden,
    Invalid,
    ModelportError,
    NotFound,
    Unauthorized,
)

APIG_AUTH = "Incorrect IAM authentication information: "


class ModelArtsError(Exception):
    """One error answer of the ModelArts dialect."""

    def __init__(self, status: int, code: str, message: str, *, gateway: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.gateway = gateway

    def body(self, request_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"error_code": self.code, "error_msg": self.message}
        if self.gateway:
            out["request_id"] = request_id
        return out


# -- authentication (API Gateway) ------------------------------------------------------------
def token_missing() -> ModelArtsError:
    return ModelArtsError(401, "APIG.0301", APIG_AUTH + "x-auth-token not found", gateway=True)


def token_invalid() -> ModelArtsError:
    return ModelArtsError(401, "APIG.0301", APIG_AUTH + "decrypt token fail", gateway=True)


def signature_invalid(reason: str) -> ModelArtsError:
    message = f"verify aksk signature fail, {reason}"
    return ModelArtsError(401, "APIG.0301", APIG_AUTH + message, gateway=True)


def access_key_unknown(access: str) -> ModelArtsError:
    message = f"Get secretKey failed,ak:{access},err:ak not exist"
    return ModelArtsError(401, "APIG.0301", APIG_AUTH + message, gateway=True)


def no_api(method: str, path: str) -> ModelArtsError:
    """No API answers `method` at `path` (API Gateway's "API not found")."""
    message = f"The API does not exist: {method} {path}"
    return ModelArtsError(404, "APIG.0101", message, gateway=True)


def too_large(limit: int) -> ModelArtsError:
    """A request body over the server's limit, refused by the gateway before the service."""
    return ModelArtsError(
        413, "APIG.0201", f"Request entity too large: over {limit} bytes", gateway=True
    )


def maas_token_invalid() -> ModelArtsError:
    """What the MaaS custom-endpoint page documents for a missing or bad token."""
    return ModelArtsError(400, "ModelArts.0104", "Invalid token.")


# -- the service -----------------------------------------------------------------------------
def project_mismatch() -> ModelArtsError:
    return ModelArtsError(
        403, "ModelArts.0210", "The project id in the request URL does not match the token."
    )


def forbidden(operation: str) -> ModelArtsError:
    return ModelArtsError(
        403, "ModelArts.0108", f"You are not authorized to perform the ({operation}) operation."
    )


def service_not_found(service_id: str) -> ModelArtsError:
    return ModelArtsError(404, "ModelArts.3502", f"Service {service_id} does not exist.")


def model_not_found(model_id: str) -> ModelArtsError:
    return ModelArtsError(404, "ModelArts.3507", f"Model {model_id} does not exist.")


def invalid_argument(detail: str) -> ModelArtsError:
    return ModelArtsError(400, "ModelArts.0101", f"Invalid Argument: {detail}.")


def invalid_value(name: str, value: str) -> ModelArtsError:
    return ModelArtsError(
        400, "ModelArts.0107", f"The values of the request parameters ({name},{value}) are invalid."
    )


def parameter_error(detail: str) -> ModelArtsError:
    """MaaS's parameter error (`ModelArts.0104`, "Parameter error")."""
    return ModelArtsError(400, "ModelArts.0104", f"Parameter error: {detail}.")


def internal() -> ModelArtsError:
    return ModelArtsError(500, "ModelArts.0010", "Internal error.")


def from_domain(exc: ModelportError) -> ModelArtsError:
    """Modelport's error tree → the closest ModelArts answer."""
    if isinstance(exc, NotFound):
        if exc.kind == "model":
            return model_not_found(exc.object_id)
        if exc.kind == "service":
            return service_not_found(exc.object_id)
        return invalid_argument(exc.message)
    if isinstance(exc, Invalid):
        return invalid_argument(exc.message)
    if isinstance(exc, Unauthorized):
        return token_invalid()
    if isinstance(exc, Forbidden):
        return forbidden(exc.message)
    if isinstance(exc, Conflict):
        return ModelArtsError(409, "ModelArts.3503", exc.message)
    return internal()
