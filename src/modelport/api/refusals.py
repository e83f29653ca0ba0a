"""Answers given before any handler runs, in the words of the door the request came by.

A request whose body is over the limit (413, from `api.limits.BodyLimit`), or whose path or
method no route takes (404 and 405 from the root router: for instance a path with a newline
in it, which no `Mount` matches), is answered the way its door answers errors:

- native API (`/api/v1/…`, and any path of no door): the envelope, code `too_large`,
  `not_found` or `method_not_allowed`;
- UCloud (`/` without `X-TC-Action`): HTTP 200, `{"Action", "RetCode": 230, "Message"}`;
- TI-ONE (`/` with `X-TC-Action`): HTTP 200, `Response.Error.Code` `RequestSizeLimitExceeded`;
- ZStack (`/zstack/…`): plain text, as its REST layer answers;
- at `/`, a method neither UCloud nor TI-ONE takes: a plain 405;
- ModelArts (`/v1/…`): API Gateway's `{"error_code": "APIG.0201"` (413) or `"APIG.0101"` (404),
  `"error_msg", "request_id"}`; its IAM (`/v3/…`): `{"error": {"code", "title", "message"}}`.

A refused request whose body was not read closes its connection (`Connection: close`).
Used by `modelport.server.build` (the root app's handler for `HTTPException`, and the body
limit's `refuse`).
"""

from __future__ import annotations

import enum
import uuid
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Scope

from modelport.api import errors
from modelport.dialects.modelarts import errors as modelarts
from modelport.dialects.modelarts.iam import IamError
from modelport.dialects.tione import envelope as tione
from modelport.dialects.tione.errors import Code, TioneError
from modelport.dialects.ucloud import errors as ucloud


class Door(enum.Enum):
    NATIVE = "native"
    UCLOUD = "ucloud"
    TIONE = "tione"
    ZSTACK = "zstack"
    MODELARTS = "modelarts"
    IAM = "iam"


def door_of(scope: Scope) -> Door:
    """The door of a request, by its path (and at `/`, by `X-TC-Action`), as the routes
    of `modelport.server.build` and `modelport.api.dialects` share the port."""
    path: str = scope.get("path", "")
    if path == "/":
        return Door.TIONE if "x-tc-action" in Headers(scope=scope) else Door.UCLOUD
    if path == "/zstack" or path.startswith("/zstack/"):
        return Door.ZSTACK
    if path.startswith("/v3/"):
        return Door.IAM
    if path.startswith("/v1/"):
        return Door.MODELARTS
    return Door.NATIVE


def too_large(scope: Scope, limit: int) -> Response:
    """413 (or each door's own status) for a request body over `limit` bytes."""
    message = f"request body over {limit} bytes"
    response: Response
    match door_of(scope):
        case Door.UCLOUD:
            query = scope.get("query_string", b"").decode("latin-1")
            action = dict(parse_qsl(query)).get("Action", "")
            response = JSONResponse(ucloud.envelope(action, ucloud.too_large(limit)))
        case Door.TIONE:
            err = TioneError(Code.REQUEST_SIZE_LIMIT_EXCEEDED, f"The {message}.")
            body = tione.body(tione.error(err, str(uuid.uuid4())))
            response = Response(body, tione.STATUS, media_type=tione.CONTENT_TYPE)
        case Door.ZSTACK:
            response = PlainTextResponse(message, 413)
        case Door.MODELARTS:
            response = _modelarts(modelarts.too_large(limit))
        case Door.IAM:
            response = _iam(IamError(413, f"The {message}."))
        case Door.NATIVE:
            response = errors.too_large(limit)
    response.headers["Connection"] = "close"
    return response


async def not_routed(request: Request, exc: Exception) -> Response:
    """The root app's answer to an `HTTPException` (no route for the path or the method)."""
    assert isinstance(exc, HTTPException)
    method, path = request.method, request.scope["path"]  # `url` drops a newline
    match door_of(request.scope):
        case Door.ZSTACK:
            if exc.status_code == 405:
                text = f"The method[{method}] is not allowed for the path[{path}]"
                return PlainTextResponse(text, 405)
            api_path = path.removeprefix("/zstack") or "/"  # as ZStack names it
            return PlainTextResponse(f"no api mapping to {api_path}", exc.status_code)
        case Door.MODELARTS:
            return _modelarts(modelarts.no_api(method, path))
        case Door.IAM:
            return _iam(IamError(404, f"No API answers {method} {path}."))
        case Door.UCLOUD | Door.TIONE:  # another method on `/`: as the SDKs see any non-200
            return PlainTextResponse(str(exc.detail), exc.status_code)
        case _:
            return await errors.on_http_error(request, exc)


def _modelarts(err: modelarts.ModelArtsError) -> Response:
    request_id = uuid.uuid4().hex
    return JSONResponse(err.body(request_id), err.status, headers={"X-Request-Id": request_id})


def _iam(err: IamError) -> Response:
    return JSONResponse(err.body(), err.status, headers={"X-Request-Id": uuid.uuid4().hex})
