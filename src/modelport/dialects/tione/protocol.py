"""The call's envelope headers: API version and action name.

`X-TC-Version` must be `2021-11-11` (`NoSuchVersion` otherwise) and `X-TC-Action` one of
`ACTIONS` (`InvalidAction` otherwise; the SDK upper-cases the first letter, and so does the
check). Pure; called by the HTTP handler after the signature is verified.
"""

from __future__ import annotations

from modelport.dialects.tione.errors import Code, TioneError

VERSION = "2021-11-11"

ACTIONS: tuple[str, ...] = (
    "DescribeModelServiceGroups",
    "DescribeModelServiceGroup",
    "DescribeModelService",
    "CreateModelService",
    "ModifyModelService",
    "DeleteModelService",
    "DeleteModelServiceGroup",
    "ModifyServiceGroupWeights",
    "DescribeModelServiceCallInfo",
)


def check_version(version: str | None) -> None:
    if not version:
        raise TioneError(Code.MISSING_PARAMETER, "The header X-TC-Version is required.")
    if version != VERSION:
        raise TioneError(
            Code.NO_SUCH_VERSION, f"The API version {version!r} does not exist; use {VERSION}."
        )


def action_of(header: str | None) -> str:
    name = (header or "").strip()
    name = name[:1].upper() + name[1:]
    if name not in ACTIONS:
        raise TioneError(Code.INVALID_ACTION, f"The action {name or '(none)'!r} does not exist.")
    return name
