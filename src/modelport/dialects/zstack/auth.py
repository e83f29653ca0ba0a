"""The `Authorization` header of a ZStack API call (spec B.2, B.5).

- `OAuth <session uuid>`: a session opened by `PUT /v1/accounts/login`. Checking that the
  session exists is the handler's (an unknown one is `ID.1001`).
- `ZStack <AccessKeyId>:<Signature>` with a `Date` header: `Signature` is
  base64(HMAC-SHA1(secret, METHOD + "\\n" + Date + "\\n" + "/v1" + api path)), the path without
  `/zstack` and without the query string; `Date` must be within `SKEW` of the server's clock.

`read` checks the header's syntax and the date (REST-layer errors, plain text); `sign` and
`verify` compute the signature given the key's secret, which the handler looks up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from modelport.dialects.zstack import errors

SKEW = timedelta(minutes=15)
OAUTH = "OAuth"
ACCESS_KEY = "ZStack"


@dataclass(frozen=True, slots=True)
class SessionAuth:
    session: str


@dataclass(frozen=True, slots=True)
class AccessKeyAuth:
    key_id: str
    signature: str
    date: str  # the Date header as sent: it is signed as is


Credentials = SessionAuth | AccessKeyAuth


def read(authorization: str | None, date: str | None, now: datetime) -> Credentials:
    """Parse the header (and, for an access key, check `Date` against `now`)."""
    if authorization is None:
        raise errors.bad_request("missing header 'Authorization'")
    auth = authorization.strip()
    if auth.startswith(OAUTH):
        return SessionAuth(auth.replace(OAUTH, "", 1).strip())
    if not auth.startswith(ACCESS_KEY):
        raise errors.bad_request(f"Authorization type must be '{OAUTH}'")
    key_id, sep, signature = auth[len(ACCESS_KEY) :].strip().partition(":")
    if not sep or not key_id.strip() or not signature.strip():
        raise errors.bad_request("accessKey format is 'ZStack AccessKeyId:Signature'")
    if date is None:
        raise errors.bad_request("'Date' must be incuded in request header")
    when = parse_date(date)
    if abs(now - when) > SKEW:
        raise errors.RestError(errors.Problem.CLOCK_SKEW, "requestTimeTooSkewed")
    return AccessKeyAuth(key_id.strip(), signature.strip(), date)


def parse_date(text: str) -> datetime:
    """`EEE, dd MMM yyyy HH:mm:ss z`, e.g. `Mon, 01 Jan 2024 00:00:00 GMT` (GMT, UTC or an
    offset such as +0800)."""
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        when = None
    if when is None or when.tzinfo is None:
        raise errors.bad_request(
            "'Date' format error, correct format is 'EEE, dd MMM yyyy HH:mm:ss z'"
        )
    return when


def sign(secret: str, method: str, date: str, path: str) -> str:
    """The signature of a request to `path` (`/v1/...`, as the SDKs sign it)."""
    text = f"{method.upper()}\n{date}\n{path}".encode()
    digest = hmac.new(secret.encode(), text, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify(auth: AccessKeyAuth, secret: str, method: str, path: str) -> bool:
    expected = sign(secret, method, auth.date, path)
    return hmac.compare_digest(expected.encode(), auth.signature.encode())  # bytes: any text
