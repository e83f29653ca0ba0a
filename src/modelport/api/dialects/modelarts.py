"""HTTP doors of the Huawei ModelArts dialect (spec C), mounted at the root.

- `POST /v3/auth/tokens`: the IAM token API (password method) → 201 + `X-Subject-Token`.
- `GET /v3/auth/tokens`: validate a token (`X-Auth-Token` + `X-Subject-Token`).
- `GET /v1/{project_id}/services/{service_id}`: service details.
- `GET /v1/{project_id}/services`: the v1 service list.
- `GET /v1/{project_id}/maas/services/custom-endpoint/services/{region_id}`: the MaaS list.

A caller is authenticated by AK/SK (`Authorization: SDK-HMAC-SHA256 …`; preferred whenever
such a header is present, and then any `X-Auth-Token` is ignored) or else by an IAM token
(`X-Auth-Token`). The `{project_id}` in the path, and `X-Project-Id` when sent, must be the
caller's project. Translation lives in `modelport.dialects.modelarts`; this module only does
the I/O. Every answer carries `X-Request-Id`. Unexpected exceptions are caught only at the top
of each handler, logged with their traceback and answered as the vendor's internal error.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from modelport.api.deps import ApiContext
from modelport.dialects.modelarts import details, errors, iam, listing, maas, params, signer
from modelport.dialects.modelarts.errors import ModelArtsError
from modelport.dialects.modelarts.iam import IamError
from modelport.dialects.modelarts.signer import SignatureError, SignedRequest
from modelport.domain.auth import Principal, Project
from modelport.domain.credentials import Session
from modelport.domain.errors import ModelportError, RateLimited, Unauthorized
from modelport.domain.models import Model
from modelport.query.ast import MAX_LIMIT, Cond, ListQuery, Op
from modelport.services import credentials, models

log = logging.getLogger(__name__)

Surface = Literal["v1", "maas"]
Handler = Callable[[Request, ApiContext], Awaitable[dict[str, Any]]]


def _answer(body: dict[str, Any], status: int, request_id: str, **headers: str) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"X-Request-Id": request_id, **headers})


# -- who calls -------------------------------------------------------------------------------
def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes) and raw:  # some servers leave the query on it
        return raw.partition(b"?")[0].decode("utf-8", errors="replace")
    return quote(request.url.path)


def _headers(request: Request) -> dict[str, str]:
    """Header values as the client signed them (UTF-8; ASGI hands them over as latin-1)."""
    return {
        name: value.encode("latin-1").decode("utf-8", errors="replace")
        for name, value in request.headers.items()
    }


async def _signed(request: Request, ctx: ApiContext, authorization: str) -> Principal:
    try:
        auth = signer.parse_authorization(authorization)
    except SignatureError as exc:
        raise errors.signature_invalid(exc.reason) from exc
    try:
        key = await credentials.access_key(ctx.store, ctx.cipher, auth.access)
    except Unauthorized as exc:
        raise errors.access_key_unknown(auth.access) from exc
    query = request.scope.get("query_string", b"").decode("latin-1")
    signed = SignedRequest(
        method=request.method,
        path=_raw_path(request),
        query=tuple(parse_qsl(query, keep_blank_values=True)),
        headers=_headers(request),
        body=await request.body(),
    )
    try:
        signer.verify(auth, key.secret, signed, ctx.clock())
    except SignatureError as exc:
        log.info("AK/SK request of %s rejected: %s", auth.access, exc.reason)
        raise errors.signature_invalid(exc.reason) from exc
    who = credentials.principal_of_key(key)
    sent = request.headers.get("x-project-id")
    if sent and sent != who.project_id:
        raise errors.project_mismatch()
    return who


async def _caller(request: Request, ctx: ApiContext, surface: Surface) -> Principal:
    authorization = request.headers.get("authorization")
    if authorization is not None and signer.is_signed(authorization):
        return await _signed(request, ctx, authorization)
    token = request.headers.get("x-auth-token")
    if not token:
        raise errors.maas_token_invalid() if surface == "maas" else errors.token_missing()
    try:
        session = await credentials.session(ctx.store, token, "iam")
    except Unauthorized as exc:
        raise (
            errors.maas_token_invalid() if surface == "maas" else errors.token_invalid()
        ) from exc
    return credentials.principal_of_session(session)


async def _authorized(request: Request, ctx: ApiContext, surface: Surface) -> Principal:
    who = await _caller(request, ctx, surface)
    if request.path_params["project_id"] != who.project_id:
        raise errors.project_mismatch()
    return who


# -- the APIs --------------------------------------------------------------------------------
async def _models_of(ctx: ApiContext, who: Principal, ids: set[str]) -> dict[str, Model]:
    return await models.by_ids(ctx.store, who, ids)


async def _details(request: Request, ctx: ApiContext) -> dict[str, Any]:
    who = await _authorized(request, ctx, "v1")
    service_id = request.path_params["service_id"]
    if "\0" in service_id:  # no service id holds one (and PostgreSQL cannot compare it)
        raise errors.service_not_found(service_id)
    svc = await ctx.ops.get(who, service_id)
    used = await _models_of(ctx, who, {d.model_id for d in svc.deployments if d.model_id})
    return details.render(svc, ctx.service_url(svc.id), used)


async def _list(request: Request, ctx: ApiContext) -> dict[str, Any]:
    who = await _authorized(request, ctx, "v1")
    wanted = params.parse_v1(request.query_params.multi_items())
    model_ids: list[str] = []
    if wanted.model_name is not None:
        by_name = ListQuery(
            filter=Cond("name", Op.EQ, wanted.model_name), limit=MAX_LIMIT, count=False
        )
        model_ids = [m.id for m in (await models.list_models(ctx.store, who, by_name))[0]]
    services, total = await ctx.ops.list(who, wanted.query(model_ids))
    return listing.page(services, total)


async def _maas(request: Request, ctx: ApiContext) -> dict[str, Any]:
    who = await _authorized(request, ctx, "maas")
    query = params.parse_maas(request.query_params.multi_items())
    services, total = await ctx.ops.list(who, query)
    return maas.page(services, total, query.limit)


def _endpoint(ctx: ApiContext, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        request_id = uuid.uuid4().hex
        try:
            return _answer(await handler(request, ctx), 200, request_id)
        except ModelArtsError as exc:
            failure = exc
        except ModelportError as exc:
            failure = errors.from_domain(exc)
        except Exception:
            log.exception("ModelArts %s %s failed", request.method, request.url.path)
            failure = errors.internal()
        return _answer(failure.body(request_id), failure.status, request_id)

    return endpoint


# -- IAM -------------------------------------------------------------------------------------
async def _project(ctx: ApiContext, session: Session) -> Project:
    who = credentials.principal_of_session(session)
    for project in await credentials.list_projects(ctx.store, who):
        if project.id == who.project_id:
            return project
    return Project(who.project_id, who.project_id, session.created_at)


async def _issue(request: Request, ctx: ApiContext) -> Response:
    """Issue a token for a password. Failed logins are throttled per (user, address): once
    locked out, a login is refused with 429 before its password is checked."""
    login = iam.parse_login(await request.body())
    address = request.client.host if request.client else ""
    try:
        ctx.logins.check(login.user, address)
    except RateLimited as exc:
        raise iam.locked_out(exc.message, exc.retry_after) from None
    try:
        session = await credentials.login(
            ctx.store, login.user, password=login.password, kind="iam"
        )
    except Unauthorized as exc:
        ctx.logins.failed(login.user, address)
        raise iam.wrong_password() from exc
    ctx.logins.succeeded(login.user, address)
    project = await _project(ctx, session)
    if login.project_id is not None and login.project_id != project.id:
        await credentials.logout(ctx.store, session.token)
        raise iam.unauthenticated()
    catalog = not request.query_params.get("nocatalog")
    body = iam.token_body(session, project, ctx.base_url, catalog)
    return JSONResponse(body, status_code=201, headers={"X-Subject-Token": session.token})


async def _validate(request: Request, ctx: ApiContext) -> Response:
    caller, subject = request.headers.get("x-auth-token"), request.headers.get("x-subject-token")
    try:
        mine = await credentials.session(ctx.store, caller or "", "iam")
    except Unauthorized as exc:
        raise iam.unauthenticated() from exc
    try:
        theirs = await credentials.session(ctx.store, subject or "", "iam")
    except Unauthorized as exc:
        raise iam.token_not_found() from exc
    if theirs.user.project_id != mine.user.project_id:
        raise iam.token_not_found()
    body = iam.token_body(theirs, await _project(ctx, theirs), ctx.base_url, True)
    return JSONResponse(body, headers={"X-Subject-Token": theirs.token})


def _iam_endpoint(
    ctx: ApiContext, handler: Callable[[Request, ApiContext], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        request_id = uuid.uuid4().hex
        try:
            response = await handler(request, ctx)
        except IamError as exc:
            response = _answer(exc.body(), exc.status, request_id, **exc.headers)
        except ModelportError as exc:
            failure = iam.from_domain(exc)
            response = _answer(failure.body(), failure.status, request_id, **failure.headers)
        except Exception:
            log.exception("IAM %s %s failed", request.method, request.url.path)
            failure = iam.internal()
            response = _answer(failure.body(), failure.status, request_id)
        response.headers["X-Request-Id"] = request_id
        return response

    return endpoint


def routes(ctx: ApiContext) -> list[BaseRoute]:
    base = "/v1/{project_id}"
    return [
        Route("/v3/auth/tokens", _iam_endpoint(ctx, _issue), methods=["POST"]),
        Route("/v3/auth/tokens", _iam_endpoint(ctx, _validate), methods=["GET"]),
        Route(f"{base}/services", _endpoint(ctx, _list), methods=["GET"]),
        Route(f"{base}/services/{{service_id}}", _endpoint(ctx, _details), methods=["GET"]),
        Route(
            f"{base}/maas/services/custom-endpoint/services/{{region_id}}",
            _endpoint(ctx, _maas),
            methods=["GET"],
        ),
    ]
