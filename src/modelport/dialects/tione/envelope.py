"""The response envelope: always HTTP 200, `Content-Type: application/json` exactly.

    success: {"Response": {<action fields>, "RequestId": "<uuid>"}}
    error:   {"Response": {"Error": {"Code": "...", "Message": "..."}, "RequestId": "<uuid>"}}

The SDK parses an error only when the Content-Type is exactly `application/json` (no
`charset` parameter): with anything else it takes an error envelope for a success (spec D.3).
Any status but 200 is a `ServerNetworkError` to it, so errors are 200 too. The HTTP handler
sends `body(...)` with `STATUS` and `Content-Type: CONTENT_TYPE`. Pure.
"""

from __future__ import annotations

import json
from typing import Any

from modelport.dialects.tione.errors import TioneError

STATUS = 200
CONTENT_TYPE = "application/json"


def success(fields: dict[str, Any], request_id: str) -> dict[str, Any]:
    return {"Response": {**fields, "RequestId": request_id}}


def error(err: TioneError, request_id: str) -> dict[str, Any]:
    return {
        "Response": {
            "Error": {"Code": err.code.value, "Message": err.message},
            "RequestId": request_id,
        }
    }


def body(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
