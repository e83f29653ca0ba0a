"""ZStack login: the `logInByAccount` body and the `SessionInventory` reply (spec B.2).

A ZStack account is a Modelport user: `accountName` is the user name and `password` the
lowercase hex SHA-512 of the password, which Modelport's password hash is built over. The
reply's `uuid` is the session (32 hex digits), `accountUuid` the user's project (the tenant),
`userUuid` the user, `userType` `Account` (the login API that opened it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelport.dialects.zstack import errors
from modelport.dialects.zstack.times import format_time
from modelport.domain.credentials import Session

ACTION = "logInByAccount"
MESSAGE = "org.zstack.header.identity.APILogInByAccountMsg"


@dataclass(frozen=True, slots=True)
class Login:
    account_name: str
    password_digest: str


def parse_login(raw: bytes) -> Login:
    """The body of `PUT /v1/accounts/login`. Not JSON → plain-text 400; a missing or non-string
    `accountName`/`password` → SYS.1007 (ZStack's mandatory-field check), and one with a NUL
    character too."""
    try:
        doc = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_request("the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise errors.bad_request("the body is not a JSON object")
    action = doc.get(ACTION)
    if action is None:
        action = {}
    if not isinstance(action, dict):
        raise errors.invalid_argument(f"'{ACTION}' must be an object")
    values: dict[str, str] = {}
    for name in ("accountName", "password"):
        value = action.get(name)
        if value is None:
            raise errors.invalid_argument(
                f"field[{name}] of message[{MESSAGE}] is mandatory, can not be null"
            )
        if not isinstance(value, str):
            raise errors.invalid_argument(f"field[{name}] of message[{MESSAGE}] must be a String")
        if "\0" in value:  # no account name or password digest holds one
            raise errors.invalid_argument(
                f"field[{name}] of message[{MESSAGE}] cannot contain a NUL character"
            )
        values[name] = value
    return Login(values["accountName"], values["password"])


def inventory(s: Session) -> dict[str, Any]:
    return {
        "inventory": {
            "uuid": s.token,
            "accountUuid": s.user.project_id,
            "userUuid": s.user.id,
            "userType": "Account",
            "createDate": format_time(s.created_at),
            "expiredDate": format_time(s.expires_at),
            "noSessionEvaluation": False,
        }
    }
