"""Fuzz of the four dialects' parameters: every answer is the dialect's own, never a 5xx.

One real server (`server`, see conftest.py) per dialect, holding a service with two
deployments so that real ids are among the values tried. Requests are signed the way each
vendor's client signs them (UCloud's SDK encoder and `verify_ac`, huaweicloudsdkcore's
`Signer`, the Tencent SDK's `Sign.sign_tc3`; ZStack has no Python SDK: a session from its
login API), so the fuzz reaches parameter parsing. Values: text of any Unicode (NUL and
control characters included), numbers as text, huge numbers, long text, nested JSON of
every type; parameter sets with known names missing, unknown names added and names repeated
(`values.py`), and inputs that once found a bug (`*_REGRESSIONS`).

Each answer must be the dialect's envelope (or a success) and not its internal error:

- UCloud: HTTP 200, `application/json`, `{"Action": "…Response", "RetCode", …}`, RetCode
  not 130;
- ZStack: 200 or 503 JSON (503: `{"error": {code, description, details}}`, not the internal
  `SYS.1000`; ZStack answers an unknown query field with `SYS.1000` too), or plain text 400,
  403, 404, 405; a logout: 200, empty;
- ModelArts: JSON `{"error_code", "error_msg"}` below 500 (IAM: `{"error": {code, title,
  message}}`);
- TI-ONE: HTTP 200, `Content-Type: application/json` exactly, `{"Response": {…, "RequestId"}}`,
  no `InternalError`.

Bounded and deterministic (`derandomize`, no example database).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import strategies as st
from tencentcloud.common.sign import Sign
from tests.fuzz.conftest import Server
from tests.fuzz.values import (
    EXAMPLES,
    JSON_VALUE,
    SCALAR,
    TEXT,
    flat,
    fuzz,
    mostly,
    no_nulls,
    one_in,
    pairs_of,
)
from ucloud.core.auth import Credential
from ucloud.core.typesystem import encoder

from modelport.dialects.zstack import errors as zstack_errors

INTERNAL = zstack_errors.internal().details  # ZStack's SYS.1000 answers unknown fields too
COMMAND = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]


def made(server: Server, name: str = "fuzzed") -> dict[str, Any]:
    """A service of the `command` runtime with two deployments (their replicas stay
    pending: the server has no capacity)."""
    dep = {"runtime": "command", "command": COMMAND, "replicas": 1}
    body = {"name": name, "deployments": [dep, {**dep, "weight": 0}]}
    svc: dict[str, Any] = server.api("POST", "/services", json=body)
    return svc


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        raise AssertionError(f"not JSON: {r.status_code} {r.text[:300]!r}") from None


# -- UCloud --------------------------------------------------------------------------------
UCLOUD_KNOWN = {
    "Region": st.just("cn-bj2"),
    "Zone": st.just("cn-bj2-05"),
    "ProjectId": st.just("PROJECT"),
    "UminferID": st.just("SERVICE"),
    "Offset": st.sampled_from(["0", "1", "2147483647", "2147483648", "-1"]),
    "Limit": st.sampled_from(["0", "20", "100", "101"]),
    "UminferType": st.sampled_from(["private", "preDeploy", "private,preDeploy", "x"]),
}


@st.composite
def ucloud_requests(draw: st.DrawFn) -> dict[str, Any]:
    transport = draw(st.sampled_from(["form", "query", "json"]))
    values = JSON_VALUE if transport == "json" else TEXT
    action = draw(mostly("GetUMInferService", st.sampled_from(["DescribeUHost", ""]) | TEXT))
    template = {"Region": "cn-bj2", "Limit": "20"}
    return {
        "transport": transport,
        "pairs": [("Action", action), *draw(pairs_of(template, UCLOUD_KNOWN, values))],
        "drop": draw(st.sampled_from([None, None, None, "PublicKey", "Signature"])),
    }


UCLOUD_REGRESSIONS = [  # on PostgreSQL, each reached the database
    {
        "transport": "form",
        "pairs": [("Action", "GetUMInferService")],
        "drop": "PublicKey",
        "public_key": "a\x00",
    },
    {
        "transport": "form",
        "pairs": [("Action", "GetUMInferService"), ("UminferID", "\x00")],
        "drop": None,
    },
]


def test_ucloud(server: Server, http: httpx.Client) -> None:
    svc = made(server)
    seen: Counter[int] = Counter()
    real = {"PROJECT": server.project_id, "SERVICE": svc["id"]}

    @fuzz(ucloud_requests(), examples=EXAMPLES * 2, regressions=UCLOUD_REGRESSIONS)
    def call(req: dict[str, Any]) -> None:
        pairs = [(k, real.get(v, v) if isinstance(v, str) else v) for k, v in req["pairs"]]
        first = dict(reversed(pairs))  # what the server keeps of a repeated name
        first["PublicKey"] = server.access_key_id
        # the SDK's own flattening (A.2) and signature (A.3) of what is sent
        try:  # JSON nulls are dropped (A.2); the SDK, which sends forms, would write "None"
            signed = encoder.encode(no_nulls(first))
            sig = Credential(server.access_key_id, server.access_key_secret).verify_ac(signed)
        except (TypeError, ValueError, RecursionError):  # the SDK cannot encode it: unsigned
            sig = "0" * 40
        wire = [*pairs, ("PublicKey", server.access_key_id), ("Signature", sig)]
        wire = [(k, v) for k, v in wire if k != req["drop"]]
        if "public_key" in req:
            wire.append(("PublicKey", req["public_key"]))
        if req["transport"] == "json":  # one value per name: the first, as signed
            body = json.dumps(dict(reversed(wire))).encode()
            r = http.post(server.url, content=body, headers={"Content-Type": "application/json"})
        elif req["transport"] == "form":
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            r = http.post(server.url, content=urlencode(flat(wire)), headers=form)
        else:
            r = http.get(f"{server.url}/?{urlencode(flat(wire))}")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json", r.headers
        answer = _json(r)
        assert isinstance(answer["RetCode"], int) and answer["Action"].endswith("Response"), answer
        assert answer["RetCode"] != 130, answer  # the internal error
        assert answer["RetCode"] == 0 or isinstance(answer["Message"], str), answer
        if answer["RetCode"] == 0:
            assert isinstance(answer["Data"], list), answer
        seen[answer["RetCode"]] += 1

    call()
    print(f"\nucloud: {sum(seen.values())} requests, RetCodes {dict(seen)}")
    assert seen[0] and len(seen) > 2  # the fuzz reached the action, and its errors


# -- ZStack --------------------------------------------------------------------------------
ZSTACK_FIELDS = [
    "uuid",
    "name",
    "description",
    "requestCpu",
    "requestMemory",
    "size",
    "system",
    "createDate",
    "lastOpDate",
    "framework",
    "modelServiceRefs.modelUuid",
    "nope",
]
ZSTACK_OPS = ["!=", ">=", "<=", "!?=", "!~=", "~=", "?=", "=", ">", "<", " is null", " not null"]
CONDITION = st.builds(
    lambda f, op, v: f"{f}{op}{v}",
    st.sampled_from(ZSTACK_FIELDS),
    st.sampled_from(ZSTACK_OPS),
    TEXT,
)
ZSTACK_KNOWN = {
    "q": st.one_of(CONDITION, CONDITION, TEXT),
    "limit": st.sampled_from(["0", "10", "1000", "-1", str(2**31), "9" * 20]),
    "start": st.sampled_from(["0", "5", "-5", str(2**31), "9" * 20]),
    "count": st.sampled_from(["true", "false", "TRUE"]),
    "replyWithCount": st.sampled_from(["true", "false"]),
    "sort": st.builds(
        lambda s, f: s + f, st.sampled_from(["", "+", "-", " "]), st.sampled_from(ZSTACK_FIELDS)
    ),
    "fields": st.lists(st.sampled_from(ZSTACK_FIELDS), max_size=4).map(",".join),
    "groupBy": TEXT,
    "filterName": TEXT,
    "sortBy": st.sampled_from(ZSTACK_FIELDS),
    "sortDirection": st.sampled_from(["asc", "desc", "up"]),
    "": TEXT,
}


@st.composite
def zstack_requests(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["query", "query", "query", "one", "login", "logout"]))
    if kind == "query":
        template = {"q": "name~=%s%", "limit": "10"}
        return {"kind": kind, "pairs": draw(pairs_of(template, ZSTACK_KNOWN, keep=2))}
    if kind == "one":
        return {"kind": kind, "uuid": draw(st.one_of(st.just("rt-sklearn"), TEXT))}
    if kind == "logout":
        return {"kind": kind, "uuid": draw(TEXT)}
    inner = draw(
        st.dictionaries(
            st.sampled_from(["accountName", "password", "accountType"]) | TEXT,
            JSON_VALUE,
            max_size=4,
        )
    )
    body = draw(st.one_of(JSON_VALUE, st.just({"logInByAccount": inner})))
    return {"kind": kind, "body": json.dumps(body).encode()}


ZSTACK_REGRESSIONS = [  # on PostgreSQL, the login reached the database
    {"kind": "login", "body": b'{"logInByAccount": {"accountName": "a\\u0000", "password": "x"}}'},
    {"kind": "one", "uuid": "a\x00"},
    {"kind": "query", "pairs": [("start", str(2**40))]},
]


def zstack_path(segment: str) -> str:
    return quote(segment, safe="") or "%20"


def test_zstack(server: Server, http: httpx.Client) -> None:
    made(server)
    login = {"logInByAccount": {"accountName": server.user, "password": sha512(server.password)}}
    r = http.put(f"{server.url}/zstack/v1/accounts/login", json=login)
    assert r.status_code == 200, r.text
    session = r.json()["inventory"]["uuid"]
    auth = {"Authorization": f"OAuth {session}"}
    base = f"{server.url}/zstack/v1"
    seen: Counter[str] = Counter()

    @fuzz(zstack_requests(), examples=EXAMPLES * 2, regressions=ZSTACK_REGRESSIONS)
    def call(req: dict[str, Any]) -> None:
        if req["kind"] == "query":
            r = http.get(f"{base}/ai/model-services?{urlencode(flat(req['pairs']))}", headers=auth)
        elif req["kind"] == "one":
            r = http.get(f"{base}/ai/model-services/{zstack_path(req['uuid'])}", headers=auth)
        elif req["kind"] == "logout":
            r = http.delete(f"{base}/accounts/sessions/{zstack_path(req['uuid'])}")
        else:
            r = http.put(f"{base}/accounts/login", content=req["body"])
        assert r.status_code in (200, 400, 403, 404, 405, 503), (r.status_code, r.text)
        if req["kind"] == "logout" and r.status_code == 200:  # always a success, empty
            assert r.content == b"", r.text
            seen["logout"] += 1
        elif r.status_code in (200, 503):
            assert r.headers["content-type"] == "application/json; charset=utf-8", r.headers
            answer = _json(r)
            if r.status_code == 503:
                assert set(answer["error"]) == {"code", "description", "details"}, answer
                assert answer["error"]["details"] != INTERNAL, answer  # SYS.1000 also
                seen[answer["error"]["code"]] += 1
            else:
                seen["200"] += 1
        else:
            assert r.headers["content-type"] == "text/plain; charset=utf-8", r.headers
            assert r.text, r.status_code
            seen[str(r.status_code)] += 1

    call()
    print(f"\nzstack: {sum(seen.values())} requests, answers {dict(seen)}")
    assert seen["200"] and seen["SYS.1007"]


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


# -- ModelArts -----------------------------------------------------------------------------
V1_KNOWN = {
    "service_id": st.just("SERVICE"),
    "service_name": st.just("fuzzed"),
    "model_id": TEXT,
    "model_name": TEXT,
    "workspace_id": st.sampled_from(["0", "1"]),
    "infer_type": st.sampled_from(["real-time", "batch", "edge", "x"]),
    "status": st.sampled_from(["running", "deploying", "concerning", "failed", "stopped", "x"]),
    "offset": st.sampled_from(["0", "1", "2147483647", "2147483648", "-1"]),
    "limit": st.sampled_from(["1", "1000", "1001", "0"]),
    "sort_by": st.sampled_from(["publish_at", "service_name", "transition_at", "x"]),
    "order": st.sampled_from(["asc", "desc", "DESC", "x"]),
    "tags": st.sampled_from(["k|v", "k", "k|v,j|w", "|v", ","]),
    "cluster_id": TEXT,
    "search": TEXT,
}
MAAS_KNOWN = {
    "workspace_id": st.sampled_from(["0", "1"]),
    "name": st.just("fuzzed"),
    "offset": V1_KNOWN["offset"],
    "limit": V1_KNOWN["limit"],
}


@st.composite
def modelarts_requests(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["list", "list", "maas", "maas", "details", "iam"]))
    project = draw(mostly("PROJECT"))
    if kind == "list":
        template = {"limit": "10", "workspace_id": "0"}
        return {"kind": kind, "project": project, "pairs": draw(pairs_of(template, V1_KNOWN))}
    if kind == "maas":
        region = draw(mostly("cn-north-4"))
        pairs = draw(pairs_of({"limit": "10"}, MAAS_KNOWN))
        return {"kind": kind, "project": project, "region": region, "pairs": pairs}
    if kind == "details":
        return {"kind": kind, "project": project, "service": draw(mostly("SERVICE"))}
    user = {"name": draw(mostly("USER")), "password": draw(mostly("PASSWORD", TEXT))}
    identity = {"methods": draw(mostly(["password"], JSON_VALUE)), "password": {"user": user}}
    scope = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries({"project": st.fixed_dictionaries({"id": TEXT})}),
            JSON_VALUE,
        )
    )
    body = draw(mostly({"auth": {"identity": identity, "scope": scope}}, JSON_VALUE))
    return {"kind": kind, "body": json.dumps(body).encode()}


MODELARTS_REGRESSIONS = [  # on PostgreSQL, each reached the database; the login was a 500
    {"kind": "details", "project": "PROJECT", "service": "\x00"},
    {"kind": "list", "project": "PROJECT", "pairs": [("service_id", "\x00")]},
    {
        "kind": "iam",
        "body": json.dumps(
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"name": "a\x00", "password": "PASSWORD"}},
                    }
                }
            }
        ).encode(),
    },
]


def test_modelarts(server: Server, http: httpx.Client) -> None:
    svc = made(server)
    real = {
        "PROJECT": server.project_id,
        "SERVICE": svc["id"],
        "USER": server.user,
        "PASSWORD": server.password,
    }
    host = server.url.removeprefix("http://")
    signer = Signer(BasicCredentials(server.access_key_id, server.access_key_secret))
    seen: Counter[str] = Counter()

    def sub(value: Any) -> Any:
        return real.get(value, value) if isinstance(value, str) else value

    @fuzz(modelarts_requests(), examples=EXAMPLES * 2, regressions=MODELARTS_REGRESSIONS)
    def call(req: dict[str, Any]) -> None:
        if req["kind"] == "iam":
            body = req["body"]
            for k, v in real.items():  # the real user and password, where the fuzz put them
                body = body.replace(f'"{k}"'.encode(), json.dumps(v).encode())
            r = http.post(
                f"{server.url}/v3/auth/tokens",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            assert r.status_code in (201, 400, 401, 404, 429), (r.status_code, r.text)
            if r.status_code != 201:
                answer = _json(r)
                assert set(answer["error"]) == {"code", "title", "message"}, answer
            seen[f"iam {r.status_code}"] += 1
            return
        project = quote(sub(req["project"]), safe="") or "%20"
        path = f"/v1/{project}/services"
        if req["kind"] == "maas":
            path = f"/v1/{project}/maas/services/custom-endpoint/services/" + (
                quote(req["region"], safe="") or "%20"
            )
        elif req["kind"] == "details":
            path += "/" + (quote(sub(req["service"]), safe="") or "%20")
        query = [(k, sub(v)) for k, v in flat(req.get("pairs", []))]
        sdk = SdkRequest(
            method="GET",
            schema="http",
            host=host,
            resource_path=path,
            query_params=query,
            header_params={"Content-Type": "application/json"},
        )
        signer.sign(sdk)
        r = http.get(server.url + sdk.uri, headers=sdk.header_params)
        assert r.status_code < 500, (r.status_code, r.text)
        answer = _json(r)
        assert r.headers["X-Request-Id"]
        if r.status_code != 200:
            assert {"error_code", "error_msg"} <= set(answer), answer
            assert answer["error_code"] != "ModelArts.0010", answer
            seen[answer["error_code"]] += 1
        else:
            seen[f"{req['kind']} 200"] += 1

    call()
    print(f"\nmodelarts: {sum(seen.values())} requests, answers {dict(seen)}")
    assert seen["list 200"] and seen["maas 200"] and seen["details 200"]
    assert "APIG.0301" not in seen  # every request was signed right: the fuzz got past it


# -- TI-ONE --------------------------------------------------------------------------------
NUMBER = one_in(3, SCALAR, st.integers(-2, 5000))
FILTER = st.fixed_dictionaries(
    {
        "Name": st.sampled_from(
            [
                "ServiceId",
                "ServiceGroupName",
                "ServiceGroupId",
                "Status",
                "CreatedBy",
                "ModelVersionId",
                "ClusterId",
                "x",
            ]
        ),
        "Values": st.lists(TEXT, max_size=3),
    },
    optional={"Negative": st.booleans(), "Fuzzy": st.booleans()},
)
IDS = st.sampled_from(["GROUP", "SERVICE", "SERVICE2"])
VERSION = {
    "ImageInfo": st.fixed_dictionaries(
        {"ImageType": st.just("CUSTOM"), "ImageUrl": st.sampled_from(["command", "sklearn", "x"])}
    ),
    "ModelInfo": st.fixed_dictionaries(
        {}, optional={"ModelName": TEXT, "ModelVersion": TEXT, "ModelId": TEXT}
    ),
    "Env": st.lists(st.fixed_dictionaries({"Name": TEXT, "Value": TEXT}), max_size=3),
    "Resources": st.fixed_dictionaries(
        {}, optional={"Cpu": NUMBER, "Memory": NUMBER, "Gpu": NUMBER}
    ),
    "Replicas": NUMBER,
    "ScaleMode": st.sampled_from(["MANUAL", "AUTO", "x"]),
    "Command": st.one_of(st.just("python -m http.server $PORT"), TEXT),
    "CommandBase64": TEXT,
    "TerminationGracePeriodSeconds": NUMBER,
    "ServiceDescription": TEXT,
}
TIONE_ACTIONS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "DescribeModelServiceGroups": {
        "Offset": NUMBER,
        "Limit": NUMBER,
        "Filters": st.lists(FILTER, max_size=3),
        "TagFilters": st.lists(
            st.fixed_dictionaries({"TagKey": TEXT, "TagValues": st.lists(TEXT, max_size=2)}),
            max_size=2,
        ),
        "Order": st.sampled_from(["ASC", "DESC", "x"]),
        "OrderField": st.sampled_from(["CreateTime", "UpdateTime", "x"]),
        "TiProjectId": st.sampled_from(["0", "1"]),
    },
    "DescribeModelServiceGroup": {
        "ServiceGroupId": IDS,
        "TiProjectId": TEXT,
        "ServiceCategory": TEXT,
    },
    "DescribeModelService": {"ServiceId": IDS, "TiProjectId": TEXT, "ServiceCategory": TEXT},
    "DescribeModelServiceCallInfo": {"ServiceGroupId": IDS, "TiProjectId": TEXT},
    "CreateModelService": {
        "ServiceGroupName": st.sampled_from(["fz-a", "fz-b", "x y"]),
        "ServiceGroupId": IDS,
        "AuthorizationEnable": st.booleans(),
        "Tags": st.lists(st.fixed_dictionaries({"TagKey": TEXT, "TagValue": TEXT}), max_size=3),
        "ChargeType": TEXT,
        **VERSION,
    },
    "ModifyModelService": {
        "ServiceId": IDS,
        "ServiceAction": st.sampled_from(["STOP", "RESUME", "SCALE", "x"]),
        **VERSION,
    },
    "ModifyServiceGroupWeights": {
        "ServiceGroupId": IDS,
        "Weights": st.lists(
            st.fixed_dictionaries({"ServiceId": IDS, "Weight": NUMBER}), max_size=3
        ),
    },
    "DeleteModelService": {"ServiceId": IDS, "TiProjectId": TEXT},
    "DeleteModelServiceGroup": {"ServiceGroupId": IDS, "TiProjectId": TEXT},
    "NoSuchAction": {},
}


def tione_flat(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Parameters flattened as the Tencent SDK sends a GET or a form (`Filters.0.Name`), with
    booleans as Python prints them."""
    out: list[tuple[str, str]] = []

    def walk(name: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{name}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{name}.{i}", v)
        elif value is not None:
            out.append((name, str(value)))

    for name, value in pairs:
        walk(name, value)
    return out


GROUP = {"ServiceGroupId": "GROUP"}
SERVICE = {"ServiceId": "SERVICE"}
TIONE_TEMPLATES: dict[str, dict[str, Any]] = {
    "DescribeModelServiceGroups": {"Offset": 0, "Limit": 20},
    "DescribeModelServiceGroup": GROUP,
    "DescribeModelServiceCallInfo": GROUP,
    "DeleteModelServiceGroup": GROUP,
    "DescribeModelService": SERVICE,
    "DeleteModelService": SERVICE,
    "CreateModelService": {
        "ServiceGroupName": "fz-new",
        "ImageInfo": {"ImageType": "CUSTOM", "ImageUrl": "command"},
        "Command": "python -m http.server $PORT",
        "Replicas": 1,
    },
    "ModifyModelService": {**SERVICE, "ServiceAction": "SCALE", "Replicas": 2},
    "ModifyServiceGroupWeights": {
        **GROUP,
        "Weights": [
            {"ServiceId": "SERVICE", "Weight": 50},
            {"ServiceId": "SERVICE2", "Weight": 50},
        ],
    },
}


def _tione(action: str, **body: Any) -> dict[str, Any]:
    pairs = [*TIONE_TEMPLATES[action].items(), *body.items()]
    return {"action": action, "pairs": pairs, "transport": "json", "raw": b""}


TIONE_REGRESSIONS = [
    _tione("CreateModelService", CommandBase64="\u00e9t\u00e9"),  # was InternalError
    # on PostgreSQL, each reached the database (no text there holds a NUL)
    _tione("DescribeModelServiceGroup", ServiceGroupId="a\x00"),
    _tione("CreateModelService", ImageInfo={"ImageType": "CUSTOM", "ImageUrl": "x\x00"}),
    _tione("CreateModelService", ServiceDescription="\x00", TiProjectId="\x00"),
]


@st.composite
def tione_requests(draw: st.DrawFn) -> dict[str, Any]:
    action = draw(st.sampled_from(sorted(TIONE_ACTIONS)))
    known = TIONE_ACTIONS[action] or {"Offset": NUMBER}
    pairs = draw(pairs_of(TIONE_TEMPLATES.get(action, {}), known, JSON_VALUE))
    transport = draw(st.sampled_from(["json", "json", "json", "form", "get", "raw"]))
    raw = draw(st.sampled_from([b"[]", b"{", b"\xff\xfe", b"1", b'{"a":1,"a":2}', b"null"]))
    return {"action": action, "pairs": pairs, "transport": transport, "raw": raw}


def tc3(
    server: Server, method: str, query: str, content_type: str, payload: bytes
) -> tuple[str, str]:
    """The Authorization and X-TC-Timestamp headers the Tencent SDK would send."""
    host = server.url.removeprefix("http://")
    ts = int(time.time())
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    canonical = (
        f"{method}\n/\n{query}\ncontent-type:{content_type}\nhost:{host}\n\n"
        f"content-type;host\n{hashlib.sha256(payload).hexdigest()}"
    )
    to_sign = (
        f"TC3-HMAC-SHA256\n{ts}\n{date}/tione/tc3_request\n"
        f"{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    sig = Sign.sign_tc3(server.access_key_secret, date, "tione", to_sign)
    auth = (
        f"TC3-HMAC-SHA256 Credential={server.access_key_id}/{date}/tione/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={sig}"
    )
    return auth, str(ts)


def test_tione(server: Server, http: httpx.Client) -> None:
    svc = made(server)
    deps = svc["deployments"]
    kept = {"GROUP": svc["id"], "SERVICE": deps[0]["id"], "SERVICE2": deps[1]["id"]}
    real = dict(kept)
    doomed: list[str] = []
    seen: Counter[str] = Counter()

    def sub(value: Any) -> Any:
        if isinstance(value, str):
            return real.get(value, value)
        if isinstance(value, list):
            return [sub(v) for v in value]
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        return value

    @fuzz(tione_requests(), examples=EXAMPLES * 3, regressions=TIONE_REGRESSIONS)
    def call(req: dict[str, Any]) -> None:
        if req["action"].startswith("Delete"):  # on a service of its own
            fresh = made(server, f"doomed-{len(doomed)}")
            doomed.append(fresh["id"])
            real.update(GROUP=fresh["id"], SERVICE=fresh["deployments"][0]["id"])
        pairs = [(k, sub(v)) for k, v in req["pairs"]]
        method, query, ctype, payload = "POST", "", "application/json", b""
        if req["transport"] == "json":
            payload = json.dumps(dict(pairs)).encode()
        elif req["transport"] == "raw":
            payload = req["raw"]
        elif req["transport"] == "form":
            ctype = "application/x-www-form-urlencoded"
            payload = urlencode(tione_flat(pairs)).encode()
        else:
            method, ctype = "GET", "application/x-www-form-urlencoded"
            query = urlencode(tione_flat(pairs))
        auth, ts = tc3(server, method, query, ctype, payload)
        headers = {
            "Content-Type": ctype,
            "Authorization": auth,
            "X-TC-Action": req["action"],
            "X-TC-Version": "2021-11-11",
            "X-TC-Timestamp": ts,
            "X-TC-Region": "ap-guangzhou",
        }
        url = f"{server.url}/" + (f"?{query}" if query else "")
        r = http.request(method, url, content=payload, headers=headers)
        real.update(kept)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.headers["content-type"] == "application/json", r.headers
        answer = _json(r)
        assert list(answer) == ["Response"] and answer["Response"]["RequestId"], answer
        error = answer["Response"].get("Error")
        if error is not None:
            assert set(error) == {"Code", "Message"} and error["Message"], answer
            assert error["Code"] != "InternalError", answer
            seen[error["Code"]] += 1
        else:
            seen[f"{req['action']} ok"] += 1

    call()
    print(f"\ntione: {sum(seen.values())} requests, answers {dict(seen)}")
    assert seen["DescribeModelServiceGroups ok"] and seen["InvalidParameterValue"]
    assert not any(code.startswith("AuthFailure") for code in seen)  # all signed right
