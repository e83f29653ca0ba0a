"""UCloud's Action API at `GET /` and `POST /` (requests without `X-TC-Action`).

One request: decode the parameters (query string + form or JSON body), check `Action`,
`Signature`, `PublicKey`, verify the signature with the access key's secret, then answer
`GetUMInferService` from the caller's project. Every answer is HTTP 200 with a JSON body and
an `X-UCLOUD-REQUEST-UUID` header; errors carry a non-zero `RetCode` (spec A.4), never a 500.
Translation is `modelport.dialects.ucloud`'s; the wire contract is docs/dialects/ucloud.md.
Called by the root route of `modelport.api.dialects`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from modelport.api.deps import ApiContext
from modelport.dialects.ucloud import errors, params, query, render, signature
from modelport.domain.errors import ModelportError
from modelport.services import credentials, models

log = logging.getLogger(__name__)

REQUEST_ID = "X-UCLOUD-REQUEST-UUID"


async def handle(request: Request, ctx: ApiContext) -> Response:
    request_id = str(uuid.uuid4())
    action = ""
    body: dict[str, Any]
    try:
        given = params.decode(
            request.url.query, await request.body(), request.headers.get("content-type", "")
        )
        action = given.get("Action", "")
        body = await _answer(given, ctx)
    except errors.UCloudError as err:
        body = errors.envelope(action or err.action, err)
    except ModelportError as exc:
        body = errors.envelope(action, errors.from_domain(exc))
    except Exception:  # the top-level handler: a vendor SDK must get an envelope, not a 500
        log.exception("ucloud %s failed (request %s)", action or "request", request_id)
        body = errors.envelope(action, errors.internal())
    return JSONResponse(body, headers={REQUEST_ID: request_id})


async def _answer(given: params.Params, ctx: ApiContext) -> dict[str, Any]:
    public = params.public(given)
    key = await credentials.access_key(ctx.store, ctx.cipher, public.public_key)
    if not signature.verify(given, key.secret):
        raise errors.bad_signature()
    who = credentials.principal_of_key(key)
    if public.action != query.ACTION:
        raise errors.no_such_action(public.action)
    asked = query.parse(given, who.project_id)
    if asked is None:
        return render.response(public.action, [], 0)
    services, total = await ctx.ops.list(who, asked)
    found = await models.by_ids(ctx.store, who, [render.model_id(s) for s in services])
    # service keys for admin callers (one read for the page); members see ""
    keys = await ctx.ops.keys(who, [s.id for s in services]) if who.is_admin else {}
    data = [
        render.service_data(
            s,
            url=ctx.service_url(s.id),
            # a model deleted since the list was read shows as ""
            model_name=m.name if (m := found.get(render.model_id(s))) else "",
            key=keys.get(s.id, ""),
        )
        for s in services
    ]
    return render.response(public.action, data, total)
