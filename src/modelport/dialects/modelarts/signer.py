"""Huawei's AK/SK request signature `SDK-HMAC-SHA256`, signing and verifying (spec C.3).

The canonical request is exactly what `huaweicloudsdkcore.signer.Signer` builds: method,
canonical URI (decoded, each segment re-encoded with `quote(seg, safe="~")`, a trailing `/`),
canonical query (pairs sorted, `%20` for spaces), the signed headers as `name:value` lines,
their names, and the payload hash (SHA-256 of the body; the empty hash for no body; the
`X-Sdk-Content-Sha256` value, `UNSIGNED-PAYLOAD`, when the client sent one).

`sign` is what a client does (used by the tests' vectors); `verify` is what the HTTP handler
calls with the received request and the access key's secret. Both are pure: the caller passes
`now`, and `verify` raises `SignatureError` naming why, which the handler renders in the
gateway's error shape. The clock-skew window is `MAX_SKEW` (15 minutes either way, what API
Gateway documents for `X-Sdk-Date`). Signatures are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
CONTENT_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=15)
REQUIRED_SIGNED = ("host", DATE_HEADER)


class SignatureError(Exception):
    """The request's signature does not hold; `reason` says why (never the secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Authorization:
    """A parsed `Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`."""

    access: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the signature covers: `path` is the raw (still %-encoded) path, `query` the decoded
    pairs, `headers` keyed by lower-case name."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: bytes = b""


def is_signed(authorization: str | None) -> bool:
    return authorization is not None and authorization.strip().split(" ", 1)[0] == ALGORITHM


def parse_authorization(value: str) -> Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(f"unsupported signing algorithm {algorithm!r}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, text = item.strip().partition("=")
        if not sep:
            raise SignatureError("malformed Authorization header")
        parts[name.strip()] = text.strip()
    try:
        access, names, signature = parts["Access"], parts["SignedHeaders"], parts["Signature"]
    except KeyError as exc:
        raise SignatureError(f"Authorization header lacks {exc.args[0]}") from exc
    if not access or not names or not signature:
        raise SignatureError("malformed Authorization header")
    return Authorization(access, tuple(names.split(";")), signature)


# -- the canonical request -------------------------------------------------------------------
def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def payload_hash(body: bytes, headers: Mapping[str, str]) -> str:
    if not body:
        return EMPTY_HASH
    declared = headers.get(CONTENT_HEADER)
    if declared:
        return declared.strip()
    return hashlib.sha256(body).hexdigest()


def canonical_request(request: SignedRequest, signed_headers: Iterable[str]) -> str:
    names = list(signed_headers)
    lines = []
    for name in names:
        value = request.headers.get(name)
        if value is None:
            raise SignatureError(f"signed header {name!r} is not in the request")
        lines.append(f"{name}:{value.strip()}\n")
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query),
            "".join(lines),
            ";".join(names),
            payload_hash(request.body, request.headers),
        ]
    )


def string_to_sign(canonical: str, date: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


# -- client and server -----------------------------------------------------------------------
def signed_header_names(headers: Mapping[str, str]) -> tuple[str, ...]:
    """What the SDK signs: every header whose name has no `_`, lower-cased, sorted."""
    return tuple(sorted(name.lower() for name in headers if "_" not in name))


def sign(access: str, secret: str, request: SignedRequest) -> str:
    """The `Authorization` value a client sends; `request.headers` must hold `x-sdk-date`."""
    names = signed_header_names(request.headers)
    canonical = canonical_request(request, names)
    signature = _hmac(secret, string_to_sign(canonical, request.headers[DATE_HEADER]))
    return f"{ALGORITHM} Access={access}, SignedHeaders={';'.join(names)}, Signature={signature}"


def parse_date(value: str | None) -> datetime:
    if not value:
        raise SignatureError("X-Sdk-Date is missing")
    try:
        return datetime.strptime(value.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(f"X-Sdk-Date {value!r} is not YYYYMMDDTHHMMSSZ") from exc


def verify(auth: Authorization, secret: str, request: SignedRequest, now: datetime) -> None:
    """Raise `SignatureError` unless `auth` signs `request` with `secret` within the skew."""
    missing = [n for n in REQUIRED_SIGNED if n not in auth.signed_headers]
    if missing:
        raise SignatureError(f"SignedHeaders must include {', '.join(missing)}")
    date = request.headers.get(DATE_HEADER, "")
    when = parse_date(date)
    if abs(now - when) > MAX_SKEW:
        raise SignatureError(f"X-Sdk-Date {date} is more than 15 minutes from the server's time")
    declared = request.headers.get(CONTENT_HEADER, "").strip()
    if (
        request.body
        and declared not in ("", UNSIGNED_PAYLOAD)
        and declared != hashlib.sha256(request.body).hexdigest()
    ):
        raise SignatureError("X-Sdk-Content-Sha256 does not match the body")
    canonical = canonical_request(request, auth.signed_headers)
    expected = _hmac(secret, string_to_sign(canonical, date.strip()))
    if not hmac.compare_digest(expected.encode(), auth.signature.lower().encode()):
        raise SignatureError("signature mismatch")
