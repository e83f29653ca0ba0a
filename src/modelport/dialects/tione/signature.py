"""TC3-HMAC-SHA256: parse the `Authorization` header and verify a request's signature.

The exact algorithm of `tencentcloud-sdk-python-common` (`AbstractClient._get_tc3_signature`,
`sign.py::sign_tc3`), spec D.2.1:

    CanonicalRequest = Method \\n / \\n RawQuery \\n CanonicalHeaders \\n SignedHeaders \\n
                       hex(SHA256(body))            (of "UNSIGNED-PAYLOAD" when so declared)
    StringToSign     = TC3-HMAC-SHA256 \\n X-TC-Timestamp \\n <date>/tione/tc3_request \\n
                       hex(SHA256(CanonicalRequest))
    key              = HMAC(HMAC(HMAC("TC3" + SecretKey, date), "tione"), "tc3_request")
    Signature        = hex(HMAC(key, StringToSign))

Canonical headers are the headers the client lists in `SignedHeaders` (which must include
`content-type` and `host`), lower-case names, values as received and trimmed (the SDK does not
lower-case values). The comparison is constant-time. `X-TC-Timestamp` must lie within
`WINDOW` seconds of the server's clock, either way — Tencent's own five minutes.

Called by the HTTP handler in `modelport.api.dialects.tione`, in this order:
`parse_authorization` (no secret needed), then, once the secret of the SecretId is known,
`check_timestamp` and `verify`. No I/O here; `now` is given.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from modelport.dialects.tione.errors import Code, TioneError

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "tione"
TERMINATOR = "tc3_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
WINDOW = 300  # seconds of clock skew accepted either way
REQUIRED_HEADERS = ("content-type", "host")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FAILURE_MESSAGE = (
    "The provided credentials could not be validated. Please check your signature is correct."
)


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parts of `Authorization: TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the signature covers, as received. `headers` has lower-case names."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


def _invalid(message: str) -> TioneError:
    return TioneError(Code.INVALID_AUTHORIZATION, message)


def parse_authorization(header: str | None) -> Authorization:
    """Split the header; anything missing or garbled is `AuthFailure.InvalidAuthorization`."""
    if not header or not header.strip():
        raise _invalid("The request has no Authorization header.")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _invalid(f"The Authorization header must use {ALGORITHM}.")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or key in parts:
            raise _invalid("The Authorization header is malformed.")
        parts[key] = value.strip()
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise _invalid("The Authorization header needs Credential, SignedHeaders and Signature.")
    scope = parts["Credential"].split("/")
    if len(scope) != 4 or not scope[0] or scope[3] != TERMINATOR or not _DATE.match(scope[1]):
        raise _invalid("Credential must be <SecretId>/<YYYY-MM-DD>/<service>/tc3_request.")
    signed = tuple(h.strip().lower() for h in parts["SignedHeaders"].split(";"))
    if any(not h for h in signed) or not set(REQUIRED_HEADERS) <= set(signed):
        raise _invalid("SignedHeaders must list content-type and host.")
    if not _HEX64.match(parts["Signature"]):
        raise _invalid("Signature must be 64 lower-case hex digits.")
    return Authorization(scope[0], scope[1], scope[2], signed, parts["Signature"])


def check_timestamp(timestamp: str | None, now: float) -> int:
    """The request's `X-TC-Timestamp` as an int, if within `WINDOW` seconds of `now`."""
    if timestamp is None or not timestamp.strip():
        raise TioneError(Code.MISSING_PARAMETER, "The header X-TC-Timestamp is required.")
    if not timestamp.strip().isdigit():
        raise TioneError(Code.INVALID_PARAMETER, "X-TC-Timestamp must be a Unix time in seconds.")
    value = int(timestamp)
    if abs(now - value) > WINDOW:
        raise TioneError(
            Code.SIGNATURE_EXPIRE,
            f"The signature expired: X-TC-Timestamp {value} is more than {WINDOW} seconds "
            f"away from the server time {int(now)}.",
        )
    return value


def utc_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def canonical_request(req: SignedRequest, signed_headers: tuple[str, ...]) -> str:
    lines = []
    for name in signed_headers:
        value = req.headers.get(name)
        if value is None:
            raise _invalid(f"The signed header {name!r} is not in the request.")
        lines.append(f"{name}:{value.strip()}\n")
    payload = req.body
    if req.headers.get("x-tc-content-sha256", "").strip() == UNSIGNED_PAYLOAD:
        payload = UNSIGNED_PAYLOAD.encode()
    return "\n".join(
        [
            req.method.upper(),
            req.path or "/",
            req.query,
            "".join(lines),
            ";".join(signed_headers),
            hashlib.sha256(payload).hexdigest(),
        ]
    )


def string_to_sign(timestamp: int, date: str, service: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{date}/{service}/{TERMINATOR}\n{digest}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(secret_key: str, date: str, service: str, to_sign: str) -> str:
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), TERMINATOR)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(auth: Authorization, req: SignedRequest, secret_key: str, timestamp: int) -> None:
    """Recompute the signature; any difference is `AuthFailure.SignatureFailure`."""
    if auth.service != SERVICE:
        raise TioneError(
            Code.SIGNATURE_FAILURE, f"The credential scope names {auth.service!r}, not {SERVICE!r}."
        )
    if auth.date != utc_date(timestamp):
        raise TioneError(
            Code.SIGNATURE_FAILURE,
            "The credential date is not the UTC date of X-TC-Timestamp.",
        )
    canonical = canonical_request(req, auth.signed_headers)
    expected = sign(
        secret_key, auth.date, SERVICE, string_to_sign(timestamp, auth.date, SERVICE, canonical)
    )
    if not hmac.compare_digest(expected, auth.signature):
        raise TioneError(Code.SIGNATURE_FAILURE, FAILURE_MESSAGE)
