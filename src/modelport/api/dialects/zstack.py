"""ZStack's REST API under `/zstack` (spec B): login, logout and `QueryModelService`.

- `PUT /zstack/v1/accounts/login`: `{"logInByAccount": {accountName, password}}` → a session;
- `DELETE /zstack/v1/accounts/sessions/{uuid}`: log out;
- `GET /zstack/v1/ai/model-services[/{uuid}]`: the caller's runtimes as model services, with
  `Authorization: OAuth <session>` or `ZStack <AccessKeyId>:<Signature>` + `Date`; their
  `modelServiceRefs` (the models each serves) are fetched only when the reply shows them, by
  one query for the whole page (`modelport.dialects.zstack.refs`).

Each request goes through `_answer`: REST-layer problems are plain text with 400, 403, 404 or
405; failed APIs are 503 with `{"error": …}`; unexpected errors are logged with their
traceback and answered as a 503 `SYS.1000`, never a 500. Translation is
`modelport.dialects.zstack`'s; the wire contract is docs/dialects/zstack.md. Mounted by
`modelport.api.dialects`.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from modelport import __version__
from modelport.api.deps import ApiContext
from modelport.dialects.zstack import (
    auth,
    errors,
    grammar,
    inventory,
    refs,
    session,
    translate,
)
from modelport.dialects.zstack.fields import HostFacts, Subject, architecture
from modelport.domain.auth import Principal
from modelport.domain.errors import ModelportError, RateLimited, Unauthorized
from modelport.domain.models import Model
from modelport.domain.runtimes import Runtime
from modelport.services import credentials, models, runtimes

log = logging.getLogger(__name__)

KIND = "zstack"  # the kind of the sessions this dialect opens
JSON_TYPE = "application/json; charset=utf-8"
STATUS = {
    errors.Problem.BAD_REQUEST: 400,
    errors.Problem.CLOCK_SKEW: 403,
    errors.Problem.NO_MAPPING: 404,
    errors.Problem.METHOD: 405,
}
# every route takes every method and answers a wrong one itself, in ZStack's words
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
FAILED = 503  # what the Java SDK reads an `{"error": …}` body from


def routes(ctx: ApiContext) -> list[BaseRoute]:
    door = ZStackDoor(ctx, host_facts())
    return [
        Route("/v1/accounts/login", door.login, methods=METHODS),
        Route("/v1/accounts/sessions/{uuid}", door.logout, methods=METHODS),
        Route("/v1/ai/model-services", door.query, methods=METHODS),
        Route("/v1/ai/model-services/{uuid}", door.query, methods=METHODS),
        Route("/{path:path}", door.no_mapping, methods=METHODS),
    ]


def host_facts() -> HostFacts:
    return HostFacts(platform.python_version(), architecture(platform.machine()), __version__)


class ZStackDoor:
    """The request handlers; stateless between requests (safe to call concurrently)."""

    def __init__(self, ctx: ApiContext, host: HostFacts) -> None:
        self.ctx = ctx
        self.host = host

    async def login(self, request: Request) -> Response:
        """Open a session. Failed logins are throttled per (account, address): once locked
        out, a login is refused with `ID.1000` before its password is checked."""

        async def work() -> Response:
            _allow(request, "PUT")
            given = session.parse_login(await request.body())
            address = request.client.host if request.client else ""
            throttle = self.ctx.logins
            try:
                throttle.check(given.account_name, address)
            except RateLimited as exc:
                raise errors.locked_out(exc.message) from None
            try:
                opened = await credentials.login(
                    self.ctx.store, given.account_name, digest=given.password_digest, kind=KIND
                )
            except Unauthorized:
                throttle.failed(given.account_name, address)
                raise errors.wrong_credentials() from None
            throttle.succeeded(given.account_name, address)
            return _json(session.inventory(opened))

        return await _answer(request, work)

    async def logout(self, request: Request) -> Response:
        """Always a success, as in ZStack; only a ZStack session is closed."""

        async def work() -> Response:
            _allow(request, "DELETE")
            token = request.path_params["uuid"]
            try:
                await credentials.session(self.ctx.store, token, KIND)
            except Unauthorized:
                return Response(b"", 200)
            await credentials.logout(self.ctx.store, token)
            return Response(b"", 200)

        return await _answer(request, work)

    async def query(self, request: Request) -> Response:
        async def work() -> Response:
            _allow(request, "GET", "HEAD")
            creds = auth.read(
                request.headers.get("authorization"),
                request.headers.get("date"),
                self.ctx.clock(),
            )
            uuid = request.path_params.get("uuid")
            params = grammar.QueryParams()
            if uuid is None:  # `…/{uuid}` ignores every parameter, as ZStack does
                params = grammar.parse(request.query_params.multi_items())
            who = await self._principal(creds, request)
            asked = (
                translate.by_uuid(uuid)
                if uuid is not None
                else (translate.to_list_query(params, self.host))
            )
            found, total = await runtimes.list_runtimes(self.ctx.store, who, asked)
            served: dict[str, tuple[refs.Ref, ...]] = {}
            if found and inventory.wants(params, "modelServiceRefs"):
                served = await self._refs(who, found)
            items = [
                inventory.render(Subject(rt, served.get(rt.id, ())), self.host, params.fields)
                for rt in found
            ]
            return _json(inventory.reply(params, items, total))

        return await _answer(request, work)

    async def no_mapping(self, request: Request) -> Response:
        async def work() -> Response:
            raise errors.RestError(
                errors.Problem.NO_MAPPING, f"no api mapping to {_api_path(request)}"
            )

        return await _answer(request, work)

    async def _principal(self, creds: auth.Credentials, request: Request) -> Principal:
        if isinstance(creds, auth.SessionAuth):
            try:
                found = await credentials.session(self.ctx.store, creds.session, KIND)
            except Unauthorized:
                raise errors.session_invalid() from None
            return credentials.principal_of_session(found)
        try:
            key = await credentials.access_key(self.ctx.store, self.ctx.cipher, creds.key_id)
        except Unauthorized:
            raise errors.wrong_access_key() from None
        if not auth.verify(creds, key.secret, request.method, _api_path(request)):
            raise errors.wrong_access_key()
        return credentials.principal_of_key(key)

    async def _refs(
        self, who: Principal, found: Sequence[Runtime]
    ) -> dict[str, tuple[refs.Ref, ...]]:
        """The caller's models that each runtime of `found` serves: one query over every
        framework on the page; while an answer is full, one more for the frameworks it may
        have cut short (so at most one query per framework)."""
        wanted = refs.frameworks(found)
        answers: list[Model] = []
        while wanted:
            asked = refs.query(wanted)
            answer, _ = await models.list_models(self.ctx.store, who, asked)
            answers.extend(answer)
            wanted = refs.short(wanted, answer, asked.limit)
        return refs.by_runtime(found, answers)


async def _answer(request: Request, work: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await work()
    except errors.RestError as err:
        return PlainTextResponse(err.message, status_code=STATUS[err.problem])
    except errors.ReplyError as err:
        return _json(errors.body(err), FAILED)
    except ModelportError as exc:
        return _json(errors.body(errors.from_domain(exc)), FAILED)
    except Exception:  # the top-level handler: a ZStack client gets an error reply, never a 500
        log.exception("zstack %s %s failed", request.method, _loggable(request))
        return _json(errors.body(errors.internal()), FAILED)


def _loggable(request: Request) -> str:
    """The request's path for the log: a logout's path holds the session, a secret."""
    if "uuid" in request.path_params and "/sessions/" in request.url.path:
        return request.url.path.rsplit("/", 1)[0] + "/{uuid}"
    return request.url.path


def _allow(request: Request, *methods: str) -> None:
    if request.method not in methods:
        uri = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        raise errors.RestError(
            errors.Problem.METHOD,
            f"The method[{request.method}] is not allowed for the path[{uri}]",
        )


def _api_path(request: Request) -> str:
    """The path under the `/zstack` context (`/v1/...`), as ZStack routes and signs it."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _json(body: Any, status: int = 200) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text.encode(), status_code=status, media_type=JSON_TYPE)
