"""Huawei ModelArts conformance (spec C, docs/dialects/modelarts.md).

First the pure translator (`modelport.dialects.modelarts`): the SDK-HMAC-SHA256 vectors of C.3
and the verifier cross-checked with the SDK's own `Signer`, parameters, status maps, shapes.
Then the HTTP handler with a failing use case. Then a live server (`live`, see conftest.py)
called by the real `huaweicloudsdkcore` (AK/SK, C.9) and by raw HTTP for the token flow: every
item of the C.10 checklist, auth failures, project scoping, every list parameter, paging
boundaries, bad values, and fields compared with the native API's view of the same services.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkmodelarts.v1 import ModelArtsClient
from starlette.applications import Starlette

from modelport.api.deps import ApiContext
from modelport.api.dialects import modelarts as handler
from modelport.dialects.modelarts import details, errors, iam, listing, maas, params, signer, status
from modelport.dialects.modelarts.signer import SignatureError, SignedRequest
from modelport.dialects.modelarts.times import epoch_ms, iam_time
from modelport.domain.auth import Principal
from modelport.domain.errors import Conflict, Forbidden, Invalid, NotFound, TemporaryError
from modelport.domain.ids import DeploymentId, ModelId, ProjectId, RuntimeId, ServiceId
from modelport.domain.models import Framework, Model
from modelport.domain.services import (
    AuthType,
    Deployment,
    DesiredState,
    LbPolicy,
    Service,
    Status,
)
from modelport.query.ast import And, Cond, ListQuery, Op, Sort
from modelport.services import credentials
from modelport.services.secrets import Cipher
from modelport.store import Store

# -- C.3 signature vectors -------------------------------------------------------------------
HEADERS = {
    "content-type": "application/json",
    "host": "127.0.0.1:18081",
    "x-project-id": "proj123",
    "x-sdk-date": "20240101T000000Z",
}
VECTORS = [
    (
        SignedRequest(
            "GET",
            "/v1/proj123/services",
            (("limit", "10"), ("offset", "0"), ("status", "running")),
            HEADERS,
        ),
        "content-type;host;x-project-id;x-sdk-date",
        "76e348b548538725870c9f658eeafb97b49d330affb49958c9a1bdeb2ccb9563",
    ),
    (
        SignedRequest("POST", "/v1/proj123/services", (), HEADERS, b'{"service_name":"svc-a"}'),
        "content-type;host;x-project-id;x-sdk-date",
        "a29650fadd2c6da37b49c62cf026272d152c24007b188eceb33d63128f168e50",
    ),
    (
        SignedRequest(
            "GET",
            "/v1/proj123/maas/services/custom-endpoint/services/cn-southwest-2",
            (("limit", "10"), ("name", "a b/c"), ("offset", "0"), ("workspace_id", "0")),
            {**HEADERS, "user-agent": "huaweicloud-usdk-python/3.0; x"},
        ),
        "content-type;host;user-agent;x-project-id;x-sdk-date",
        "c845394334fb53b6b865f87d3a1f1e98683b3ff4adb1eca754cf0f410a5fea5f",
    ),
]
VECTOR_NOW = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("request_", "names", "signature"), VECTORS)
def test_signature_vectors(request_: SignedRequest, names: str, signature: str) -> None:
    expected = f"SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders={names}, Signature={signature}"
    assert signer.sign("AKEXAMPLE", "SKEXAMPLE", request_) == expected
    auth = signer.parse_authorization(expected)
    assert auth == signer.Authorization("AKEXAMPLE", tuple(names.split(";")), signature)
    signer.verify(auth, "SKEXAMPLE", request_, VECTOR_NOW)


def test_canonical_request_of_the_first_vector() -> None:
    request_, names, _ = VECTORS[0]
    assert signer.canonical_request(request_, names.split(";")) == (
        "GET\n/v1/proj123/services/\nlimit=10&offset=0&status=running\n"
        "content-type:application/json\nhost:127.0.0.1:18081\nx-project-id:proj123\n"
        "x-sdk-date:20240101T000000Z\n\ncontent-type;host;x-project-id;x-sdk-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_canonical_uri_and_query() -> None:
    assert signer.canonical_uri("/v1/p/services") == "/v1/p/services/"
    assert signer.canonical_uri("/v1/p/services/") == "/v1/p/services/"
    assert signer.canonical_uri("/v1/a%20b/x~y") == "/v1/a%20b/x~y/"
    assert signer.canonical_query([("name", "a b/c"), ("a", "2"), ("a", "1")]) == (
        "a=1&a=2&name=a%20b%2Fc"
    )
    assert signer.canonical_query([]) == ""


def _sdk_signed(
    method: str,
    path: str,
    query: list[tuple[str, Any]],
    headers: dict[str, str],
    body: bytes = b"",
    sk: str = "SKEXAMPLE",
) -> SignedRequest:
    """Sign with huaweicloudsdkcore's own `Signer`, return what a server would receive."""
    sdk = SdkRequest(
        method=method,
        schema="http",
        host="127.0.0.1:18081",
        resource_path=path,
        query_params=query,
        header_params=dict(headers),
        body=body,
    )
    Signer(BasicCredentials("AKEXAMPLE", sk, "proj123")).sign(sdk)
    wire_query = sdk.uri.partition("?")[2]
    return SignedRequest(
        method,
        path,
        tuple(parse_qsl(wire_query, keep_blank_values=True)),
        {k.lower(): v for k, v in sdk.header_params.items()},
        body,
    )


def _verify(received: SignedRequest, sk: str = "SKEXAMPLE", now: datetime = VECTOR_NOW) -> None:
    auth = signer.parse_authorization(received.headers["authorization"])
    signer.verify(auth, sk, received, now)


def test_verifier_accepts_what_the_sdk_signer_signs() -> None:
    date = {"X-Sdk-Date": "20240101T000000Z", "Content-Type": "application/json"}
    _verify(_sdk_signed("GET", "/v1/proj123/services", [("search", "a b+c"), ("ok", True)], date))
    # non-JSON content types: the SDK sends and signs UNSIGNED-PAYLOAD instead of the body hash
    text = {**date, "Content-Type": "text/plain"}
    received = _sdk_signed("POST", "/v1/proj123/services", [], text, b"some text")
    assert received.headers["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD"
    _verify(received)
    _verify(replace(received, body=b"other text"))  # the body is not covered
    # a path segment with reserved characters (the SDK quotes path params with safe='')
    _verify(_sdk_signed("GET", "/v1/proj123/services/svc%2Fx%20y", [], date))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: replace(r, query=(("limit", "11"),)), "signature mismatch"),
        (lambda r: replace(r, method="POST"), "signature mismatch"),
        (lambda r: replace(r, path="/v1/proj124/services"), "signature mismatch"),
        (lambda r: replace(r, body=b"{}"), "signature mismatch"),
        (
            lambda r: replace(r, headers={**r.headers, "host": "127.0.0.1:18082"}),
            "signature mismatch",
        ),
        (
            lambda r: replace(r, headers={k: v for k, v in r.headers.items() if k != "host"}),
            "signed header 'host' is not in the request",
        ),
        (
            lambda r: replace(r, headers={**r.headers, "x-sdk-date": "2024-01-01"}),
            "is not YYYYMMDDTHHMMSSZ",
        ),
    ],
)
def test_verifier_rejects_changes(change: Any, reason: str) -> None:
    received = _sdk_signed(
        "GET", "/v1/proj123/services", [("limit", 10)], {"X-Sdk-Date": "20240101T000000Z"}
    )
    with pytest.raises(SignatureError, match=reason):
        _verify(change(received))


def test_verifier_wrong_secret_and_clock_skew() -> None:
    received = _sdk_signed("GET", "/v1/p/services", [], {"X-Sdk-Date": "20240101T000000Z"})
    with pytest.raises(SignatureError, match="signature mismatch"):
        _verify(received, sk="SKOTHER")
    _verify(received, now=VECTOR_NOW + timedelta(minutes=15))
    _verify(received, now=VECTOR_NOW - timedelta(minutes=15))
    for off in (timedelta(minutes=15, seconds=1), -timedelta(minutes=15, seconds=1)):
        with pytest.raises(SignatureError, match="more than 15 minutes"):
            _verify(received, now=VECTOR_NOW + off)


def test_verifier_requires_host_and_date_signed() -> None:
    request_ = SignedRequest("GET", "/v1/p/services", (), HEADERS)
    auth = signer.Authorization("AKEXAMPLE", ("content-type", "x-sdk-date"), "00")
    with pytest.raises(SignatureError, match="must include host"):
        signer.verify(auth, "SKEXAMPLE", request_, VECTOR_NOW)
    no_date = SignedRequest("GET", "/v1/p/services", (), {"host": "h"})
    auth = signer.Authorization("AKEXAMPLE", ("host", "x-sdk-date"), "00")
    with pytest.raises(SignatureError, match="X-Sdk-Date is missing"):
        signer.verify(auth, "SKEXAMPLE", no_date, VECTOR_NOW)


def test_declared_payload_hash_must_match_the_body() -> None:
    headers = {**HEADERS, "x-sdk-content-sha256": "0" * 64}
    request_ = SignedRequest("POST", "/v1/p/services", (), headers, b"{}")
    auth = signer.parse_authorization(signer.sign("AK", "SK", request_))
    with pytest.raises(SignatureError, match="does not match the body"):
        signer.verify(auth, "SK", request_, VECTOR_NOW)


@pytest.mark.parametrize(
    "value",
    [
        "SDK-HMAC-SM3 Access=a, SignedHeaders=host, Signature=00",
        "SDK-HMAC-SHA256 Access=a",
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host",
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=00",
        "SDK-HMAC-SHA256 garbage",
    ],
)
def test_malformed_authorization(value: str) -> None:
    with pytest.raises(SignatureError):
        signer.parse_authorization(value)


def test_is_signed() -> None:
    assert signer.is_signed("SDK-HMAC-SHA256 Access=a, SignedHeaders=h, Signature=0")
    assert not signer.is_signed("Bearer x")
    assert not signer.is_signed("SDK-HMAC-SM3 Access=a")
    assert not signer.is_signed(None)


# -- pure: status, times, parameters, shapes, errors -----------------------------------------
def test_status_maps_cover_every_native_status() -> None:
    assert {s: status.v1(s) for s in Status} == {
        Status.PENDING: "waiting",
        Status.DEPLOYING: "deploying",
        Status.RUNNING: "running",
        Status.DEGRADED: "concerning",
        Status.FAILED: "failed",
        Status.STOPPING: "stopping",
        Status.STOPPED: "stopped",
        Status.DELETING: "deleting",
    }
    assert {s: status.maas(s) for s in Status} == {
        Status.PENDING: "DEPLOYING",
        Status.DEPLOYING: "DEPLOYING",
        Status.RUNNING: "RUNNING",
        Status.DEGRADED: "CONCERNING",
        Status.FAILED: "FAILED",
        Status.STOPPING: "STOPPING",
        Status.STOPPED: "STOPPED",
        Status.DELETING: "DELETING",
    }
    assert status.native_of_v1("concerning") == ["degraded"]
    assert status.native_of_v1("waiting") == ["pending"]
    assert status.native_of_v1("pending") == []
    assert status.native_of_v1("finished") == []


def test_times() -> None:
    at = datetime(2020, 4, 2, 6, 33, 51, 902_999, tzinfo=UTC)
    assert epoch_ms(at) == 1585809231902
    assert epoch_ms(at.replace(tzinfo=None)) == 1585809231902
    assert epoch_ms(None) is None
    assert iam_time(at) == "2020-04-02T06:33:51.902999Z"


def test_v1_parameters_defaults() -> None:
    got = params.parse_v1([])
    assert got.query() == ListQuery(
        filter=Cond("workspace", Op.EQ, "0"),
        sort=(Sort("created_at", descending=True),),
        offset=0,
        limit=1000,
    )


def test_v1_parameters_all() -> None:
    got = params.parse_v1(
        [
            ("service_id", "svc-1"),
            ("service_name", "n"),
            ("model_id", "mdl-1"),
            ("model_name", "m"),
            ("workspace_id", "ws"),
            ("infer_type", "real-time"),
            ("status", "concerning"),
            ("tags", "team|red,gold"),
            ("search", "al"),
            ("sort_by", "service_name"),
            ("order", "ASC"),
            ("offset", "2"),
            ("limit", "10"),
        ]
    )
    assert got.query(["mdl-a", "mdl-b"]) == ListQuery(
        filter=And(
            (
                Cond("workspace", Op.EQ, "ws"),
                Cond("id", Op.EQ, "svc-1"),
                Cond("name", Op.EQ, "n"),
                Cond("model_id", Op.EQ, "mdl-1"),
                Cond("infer_type", Op.EQ, "real-time"),
                Cond("status", Op.IN, ("degraded",)),
                Cond("tag:team", Op.EQ, "red"),
                Cond("tag:gold", Op.NOT_NULL),
                Cond("name_contains", Op.LIKE, "al"),
                Cond("model_id", Op.IN, ("mdl-a", "mdl-b")),
            )
        ),
        sort=(Sort("name"),),
        offset=20,
        limit=10,
    )
    assert params.parse_v1([("model_name", "m")]).query([]).filter == And(
        (Cond("workspace", Op.EQ, "0"), params.NOTHING)
    )
    assert params.parse_v1([("cluster_id", "c"), ("status", "finished")]).query().filter == And(
        (Cond("workspace", Op.EQ, "0"), params.NOTHING, params.NOTHING)
    )
    assert (
        params.parse_v1([("service_name", ""), ("limit", "")]).query()
        == params.parse_v1([]).query()
    )


BAD_VALUES = [
    "limit=0", "limit=1001", "limit=abc", "limit=1.5", "limit=-1", "offset=-1", "offset=abc",
    "offset=2147483648", "sort_by=id", "order=random", "status=RUNNING", "infer_type=x",
    "tags=%7Cv",
]  # fmt: skip
BAD_PARAMETERS = [
    (q, "ModelArts.0107", "The values of the request parameters ({},{}) are invalid.".format(
        *unquote(q).split("=")))
    for q in BAD_VALUES
] + [
    ("foo=1", "ModelArts.0101", "Invalid Argument: unknown parameter 'foo'."),
    ("limit=1&limit=2", "ModelArts.0101", "Invalid Argument: parameter 'limit' is repeated."),
]  # fmt: skip


@pytest.mark.parametrize(("query", "code", "message"), BAD_PARAMETERS)
def test_v1_parameter_errors(query: str, code: str, message: str) -> None:
    with pytest.raises(errors.ModelArtsError) as caught:
        params.parse_v1(parse_qsl(query))
    assert (caught.value.status, caught.value.code, caught.value.message) == (400, code, message)


def test_maas_parameters() -> None:
    assert params.parse_maas([]) == ListQuery(
        filter=And((Cond("workspace", Op.EQ, "0"), Cond("infer_type", Op.EQ, "real-time"))),
        sort=(Sort("created_at", descending=True),),
        offset=0,
        limit=1000,
    )
    got = params.parse_maas(
        [("workspace_id", "ws"), ("name", "a b"), ("offset", "3"), ("limit", "2")]
    )
    assert (got.offset, got.limit) == (3, 2)  # a record offset
    assert got.filter == And(
        (
            Cond("workspace", Op.EQ, "ws"),
            Cond("infer_type", Op.EQ, "real-time"),
            Cond("name", Op.EQ, "a b"),
        )
    )
    for pairs in ([("limit", "0")], [("offset", "x")], [("status", "RUNNING")]):
        with pytest.raises(errors.ModelArtsError) as caught:
            params.parse_maas(pairs)
        assert (caught.value.status, caught.value.code) == (400, "ModelArts.0104")


NOW = datetime(2024, 5, 1, 12, 0, 0, 123_000, tzinfo=UTC)


def _service(**changes: Any) -> Service:
    dep = Deployment(
        id=DeploymentId("dep-1"),
        service_id=ServiceId("svc-1"),
        model_id=ModelId("mdl-1"),
        runtime_id=RuntimeId("rt-1"),
        version="2.0",
        weight=100,
        replicas=2,
        cpu=1.5,
        memory=512,
        gpu=1,
        env={"A": "1"},
        grace_period=2.5,
        status=Status.RUNNING,
        ready_replicas=2,
    )
    svc = Service(
        id=ServiceId("svc-1"),
        project_id=ProjectId("prj-1"),
        name="svc",
        description="d",
        owner="key-1",
        workspace="0",
        infer_type="real-time",
        auth_type=AuthType.KEY,
        lb_policy=LbPolicy.ROUND_ROBIN,
        tags={},
        desired_state=DesiredState.RUNNING,
        deployments=(dep,),
        status=Status.RUNNING,
        progress=100,
        invocation_count=7,
        failure_count=1,
        transition_at=NOW,
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW,
        revision=3,
    )
    return replace(svc, **changes)


LIST_KEYS = {
    "service_id", "service_name", "description", "tenant", "project", "owner", "publish_at",
    "infer_type", "workspace_id", "status", "progress", "invocation_times", "failed_times",
    "is_shared", "shared_count", "schedule", "operation_time", "transition_at", "is_free",
    "additional_properties", "is_opened_sample_collection",
}  # fmt: skip
DETAIL_KEYS = (LIST_KEYS - {"is_opened_sample_collection"}) | {
    "config", "access_address", "update_time", "load_balancer_policy", "priority",
}  # fmt: skip
CONFIG_KEYS = {
    "model_id", "model_name", "model_version", "specification", "custom_spec", "weight",
    "instance_count", "status", "scaling", "envs", "support_debug", "additional_properties",
}  # fmt: skip
MAAS_KEYS = {
    "id", "name", "status", "version", "version_count", "description", "type", "deploy_type",
    "user_name", "workspace_id", "create_at", "update_at", "auth_type",
}  # fmt: skip


def test_details_shape() -> None:
    model = Model(
        ModelId("mdl-1"), ProjectId("prj-1"), "m", "2.0", Framework.CUSTOM, None, 0, "", NOW
    )
    body = details.render(_service(), "http://h/services/svc-1", {"mdl-1": model})
    assert set(body) == DETAIL_KEYS
    assert body["publish_at"] == epoch_ms(NOW) - 3_600_000
    assert (body["transition_at"], body["update_time"]) == (epoch_ms(NOW), epoch_ms(NOW))
    assert body["access_address"] == "http://h/services/svc-1"
    assert (body["invocation_times"], body["failed_times"], body["progress"]) == (7, 1, 100)
    assert body["load_balancer_policy"] == "ROUND_ROBIN"
    assert body["schedule"] == []
    [config] = body["config"]
    assert set(config) == CONFIG_KEYS
    assert config["model_name"] == "m" and config["model_version"] == "2.0"
    assert config["custom_spec"] == {"cpu": 1.5, "memory": 512, "gpu_p4": 1.0}
    assert (config["instance_count"], config["weight"], config["status"]) == (2, 100, "ready")
    assert config["additional_properties"]["termination_grace_period_seconds"] == 3
    # failed: error_msg; a stop time: schedule and due_time; no model: nulls
    stop = NOW + timedelta(minutes=90)
    dep = replace(_service().deployments[0], model_id=None, ready_replicas=1)
    failed = _service(status=Status.FAILED, status_reason="boom", stop_at=stop, deployments=(dep,))
    body = details.render(failed, "x", {})
    assert set(body) == DETAIL_KEYS | {"error_msg", "due_time"}
    assert (body["status"], body["error_msg"], body["due_time"]) == (
        "failed",
        "boom",
        epoch_ms(stop),
    )
    assert body["schedule"] == [{"type": "stop", "time_unit": "MINUTES", "duration": 150}]
    # a stop after each start (`stop_after`) is stated as it was set
    every = details.render(_service(stop_after=7200.0, stop_at=stop), "x", {})
    assert every["schedule"] == [{"type": "stop", "time_unit": "HOURS", "duration": 2}]
    assert body["config"][0]["model_id"] is None and body["config"][0]["model_name"] is None
    assert body["config"][0]["status"] == "notReady"


def test_list_and_maas_shapes() -> None:
    body = listing.page([_service(), _service(status=Status.DEGRADED)], 5)
    assert (body["total_count"], body["count"]) == (5, 2)
    assert set(body["services"][0]) == LIST_KEYS
    assert [s["status"] for s in body["services"]] == ["running", "concerning"]
    assert body["services"][0]["is_opened_sample_collection"] == "false"
    page = maas.page([_service(auth_type=AuthType.NONE)], 5, 2)
    assert (page["pages"], page["total"]) == (3, 5)
    [item] = page["data"]
    assert set(item) == MAAS_KEYS
    assert item["create_at"] == epoch_ms(NOW) - 3_600_000
    assert (item["status"], item["type"], item["auth_type"]) == ("RUNNING", "REAL_TIME", "NONE")
    assert (item["version"], item["version_count"]) == ("1.0.2", 3)
    assert maas.page([], 0, 10)["pages"] == 0
    assert [maas.version(n) for n in (1, 100, 101, 10001)] == ["1.0.0", "1.0.99", "1.1.0", "2.0.0"]


def test_errors_from_domain() -> None:
    def shape(e: errors.ModelArtsError) -> tuple[int, str, str]:
        return e.status, e.code, e.message

    assert shape(errors.from_domain(NotFound("service", "svc-x"))) == (
        404, "ModelArts.3502", "Service svc-x does not exist."
    )  # fmt: skip
    assert shape(errors.from_domain(NotFound("model", "m"))) == (
        404, "ModelArts.3507", "Model m does not exist."
    )  # fmt: skip
    assert errors.from_domain(Invalid("limit", "bad")).code == "ModelArts.0101"
    assert errors.from_domain(Forbidden("no")).status == 403
    assert errors.from_domain(Conflict("taken")).status == 409
    assert shape(errors.from_domain(TemporaryError("db"))) == (
        500,
        "ModelArts.0010",
        "Internal error.",
    )
    assert errors.token_missing().body("r1") == {
        "error_code": "APIG.0301",
        "error_msg": "Incorrect IAM authentication information: x-auth-token not found",
        "request_id": "r1",
    }
    assert errors.service_not_found("s").body("r1") == {
        "error_code": "ModelArts.3502",
        "error_msg": "Service s does not exist.",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "'auth'"),
        (b'{"auth": {}}', "auth.identity.methods"),
        (b'{"auth": {"identity": {"methods": ["token"]}}}', "Only the 'password'"),
        (
            b'{"auth": {"identity": {"methods": ["password"], "password": {"user": {}}}}}',
            "auth.identity.password.user.name",
        ),
        (
            b'{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"a","password":1}}}}}',
            "auth.identity.password.user.password",
        ),
    ],
)
def test_iam_login_errors(body: bytes, message: str) -> None:
    with pytest.raises(iam.IamError) as caught:
        iam.parse_login(body)
    assert caught.value.status == 400 and message in caught.value.message
    assert caught.value.body()["error"]["title"] == "Bad Request"


# -- the HTTP handler with a failing use case ------------------------------------------------
class _BrokenOps:
    async def list(self, who: Principal, query: ListQuery) -> Any:
        raise RuntimeError("the list broke")

    async def get(self, who: Principal, service_id: str) -> Any:
        raise RuntimeError("the get broke")


async def test_unexpected_errors_are_logged_and_answered_in_the_vendor_shape(
    store: Store, cipher: Cipher, principal: Principal, caplog: pytest.LogCaptureFixture
) -> None:
    key = await credentials.create_access_key(store, cipher, principal)
    await credentials.create_user(store, principal, "bob", "bob-password")
    session = await credentials.login(store, "bob", password="bob-password", kind="iam")
    ctx = ApiContext(store, _BrokenOps(), "http://h", cipher)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=Starlette(routes=handler.routes(ctx)))
    path = f"/v1/{key.project_id}/services"
    headers = {
        "host": "127.0.0.1:18081",
        "content-type": "application/json",
        "x-sdk-date": datetime.now(UTC).strftime(signer.DATE_FORMAT),
    }
    query = (("search", "a b"),)
    auth = signer.sign(key.id, key.secret, SignedRequest("GET", path, query, headers))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:18081") as c:
        signed = await c.get(path, params=query, headers={**headers, "Authorization": auth})
        tokened = await c.get(f"{path}/svc-1", headers={"X-Auth-Token": session.token})
    for r in (signed, tokened):
        assert r.status_code == 500
        assert r.json() == {"error_code": "ModelArts.0010", "error_msg": "Internal error."}
        assert len(r.headers["X-Request-Id"]) == 32
    failures = [r for r in caplog.records if r.name == handler.__name__ and r.exc_info]
    assert len(failures) == 2


# -- live: helpers ---------------------------------------------------------------------------
V1 = "/v1/{project_id}/services"
DETAIL = "/v1/{project_id}/services/{service_id}"
MAAS = "/v1/{project_id}/maas/services/custom-endpoint/services/{region_id}"
COMMAND = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]
APIG_ERROR = {"error_code", "error_msg", "request_id"}


@pytest.fixture
def sdk(live: Any) -> Iterator[Any]:
    """Build `ModelArtsClient`s on the live server (AK/SK, explicit project: no IAM call, C.9);
    their connections are closed afterwards."""
    made: list[Any] = []

    def build(ak: str | None = None, sk: str | None = None, project: str | None = None) -> Any:
        creds = BasicCredentials(
            ak or live.access_key_id, sk or live.access_key_secret, project or live.project_id
        )
        client = ModelArtsClient.new_builder().with_credentials(creds).with_endpoint(live.url)
        made.append(client.build())
        return made[-1]

    try:
        yield build
    finally:
        for client in made:
            client.get_http_client().close()


def _call(
    client: Any,
    path: str,
    query: list[tuple[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **path_params: str,
) -> dict[str, Any]:
    response = client.do_http_request(
        method="GET",
        resource_path=path,
        path_params=path_params,
        query_params=list(query or []),
        header_params=dict(headers or {}),
        response_type="ShowInferServiceResponse",
    )
    assert response.status_code == 200
    body: dict[str, Any] = json.loads(response.raw_content)
    return body


def _sdk_error(client: Any, path: str, **kwargs: Any) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as caught:
        _call(client, path, **kwargs)
    return caught.value


def _login_body(user: str, password: str, scope: dict[str, Any] | None = None) -> bytes:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "password": password, "domain": {"name": user}}
                },
            },
            "scope": scope or {"project": {"name": "cn-north-4"}},
        }
    }
    return json.dumps(body).encode()


def _login(live: Any, query: str = "", **kwargs: Any) -> httpx.Response:
    return httpx.post(
        f"{live.url}/v3/auth/tokens{query}",
        content=_login_body(
            kwargs.pop("user", live.user), kwargs.pop("password", live.password), **kwargs
        ),
        headers={"Content-Type": "application/json;charset=utf8"},
    )


def _token(live: Any) -> str:
    response = _login(live)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def _raw(live: Any, path: str, token: str | None, params: Any = None) -> httpx.Response:
    headers = {"X-Auth-Token": token} if token is not None else {}
    response = httpx.get(live.url + path, params=params, headers=headers)
    assert response.status_code != 500, response.text
    assert response.headers["X-Request-Id"]
    return response


def _settled(live: Any, count: int, state: str = "stopped") -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        data: list[dict[str, Any]] = live.client.list_services(limit=100)["data"]
        return data if len(data) == count and all(s["status"] == state for s in data) else None

    got: list[dict[str, Any]] = live.eventually(check, f"{count} services {state}")
    return got


def _in_workspace(live: Any, name: str, workspace: str) -> dict[str, Any]:
    body = {
        "name": name,
        "workspace": workspace,
        "deployments": [{"runtime": "command", "command": COMMAND, "replicas": 0}],
    }
    headers = {"Authorization": f"Bearer {live.client.api_key}"}
    response = httpx.post(f"{live.url}/api/v1/services", json=body, headers=headers)
    assert response.status_code == 201, response.text
    svc: dict[str, Any] = response.json()
    return svc


def _ms(text: str) -> int:
    return epoch_ms(datetime.fromisoformat(text)) or 0


# -- live: IAM tokens ------------------------------------------------------------------------
def test_iam_token_flow(live: Any) -> None:
    response = _login(live)
    assert response.status_code == 201
    token = response.headers["X-Subject-Token"]
    assert response.headers["X-Request-Id"]
    body = response.json()["token"]
    assert set(body) == {
        "expires_at",
        "issued_at",
        "methods",
        "catalog",
        "project",
        "roles",
        "user",
    }
    issued, expires = (datetime.fromisoformat(body[k]) for k in ("issued_at", "expires_at"))
    assert expires - issued == timedelta(hours=24)
    assert body["expires_at"].endswith("Z") and len(body["expires_at"]) == 27
    assert body["methods"] == ["password"]
    assert body["project"]["id"] == live.project_id and body["project"]["name"] == "default"
    assert body["user"]["name"] == live.user and body["user"]["password_expires_at"] == ""
    assert body["roles"] == [{"id": "member", "name": "member"}]
    assert body["catalog"][0]["endpoints"][0]["url"] == live.url
    # nocatalog; scope by the user's own project id
    own = {"project": {"id": live.project_id}}
    quiet = _login(live, "?nocatalog=true", scope=own)
    assert quiet.status_code == 201 and "catalog" not in quiet.json()["token"]
    # the token works on the ModelArts APIs
    listed = _raw(live, f"/v1/{live.project_id}/services", token)
    assert listed.status_code == 200
    assert listed.json() == {"total_count": 0, "count": 0, "services": []}
    # validate
    check = httpx.get(
        f"{live.url}/v3/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": quiet.headers["X-Subject-Token"]},
    )
    assert check.status_code == 200
    assert check.headers["X-Subject-Token"] == quiet.headers["X-Subject-Token"]
    assert check.json()["token"]["user"]["name"] == live.user
    unknown = httpx.get(
        f"{live.url}/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": "nope"}
    )
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {"code": 404, "title": "Not Found", "message": "Could not find token."}
    }
    anonymous = httpx.get(f"{live.url}/v3/auth/tokens", headers={"X-Subject-Token": token})
    assert anonymous.status_code == 401


def test_iam_login_refused(live: Any) -> None:
    wrong, scope = "The username or password is wrong.", {"project": {"id": "prj-other"}}
    for kwargs, message in [
        ({"password": "wrong-password"}, wrong),
        ({"user": "nobody"}, wrong),
        ({"scope": scope}, "The request you have made requires authentication."),
    ]:
        response = _login(live, **kwargs)
        assert response.status_code == 401
        assert response.json() == {
            "error": {"code": 401, "title": "Unauthorized", "message": message}
        }
        assert "X-Subject-Token" not in response.headers
    response = httpx.post(f"{live.url}/v3/auth/tokens", content=b"{")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": 400, "title": "Bad Request", "message": "The request body is not valid JSON."
    }  # fmt: skip


# -- live: authentication on the ModelArts APIs ----------------------------------------------
async def test_token_failures(live: Any, database_url: str) -> None:
    svc = live.service("tok")
    paths = [f"/v1/{live.project_id}/services", f"/v1/{live.project_id}/services/{svc['id']}"]
    maas_path = f"/v1/{live.project_id}/maas/services/custom-endpoint/services/cn-north-4"
    # an expired token (made directly in the store: no API issues one)
    store = Store(database_url)
    await store.open()
    try:
        expired = await credentials.login(
            store, live.user, password=live.password, kind="iam", ttl=timedelta(seconds=-1)
        )
    finally:
        await store.close()
    prefix = "Incorrect IAM authentication information: "
    for token, message in [
        (None, "x-auth-token not found"),
        ("", "x-auth-token not found"),
        ("tk-nonsense", "decrypt token fail"),
        (expired.token, "decrypt token fail"),
    ]:
        for path in paths:
            r = _raw(live, path, token)
            assert r.status_code == 401
            body = r.json()
            assert set(body) == APIG_ERROR
            assert body["error_code"] == "APIG.0301" and body["error_msg"] == prefix + message
            assert body["request_id"] == r.headers["X-Request-Id"]
        r = _raw(live, maas_path, token)
        assert r.status_code == 400
        assert r.json() == {"error_code": "ModelArts.0104", "error_msg": "Invalid token."}
    # a good token, another project's id in the path
    token = _token(live)
    for path in [*paths, maas_path]:
        r = _raw(live, path.replace(live.project_id, "prj-someoneelse"), token)
        assert r.status_code == 403
        assert r.json() == {
            "error_code": "ModelArts.0210",
            "error_msg": "The project id in the request URL does not match the token.",
        }
    # and a good token, the right project
    assert _raw(live, paths[1], token).json()["service_id"] == svc["id"]


def test_aksk_through_the_sdk(live: Any, sdk: Any) -> None:
    svc = live.service("signed", tags={"team": "a b|c"})
    client = sdk()
    got = _call(client, DETAIL, service_id=svc["id"])
    assert got["service_id"] == svc["id"]
    listed = _call(client, V1, [("search", "SIGN"), ("limit", 10), ("offset", 0)])
    assert [s["service_id"] for s in listed["services"]] == [svc["id"]]
    # reserved characters in the query are signed as %20 and %2C, never '+'
    tagged = _call(client, V1, [("tags", "team|a b|c")])
    assert tagged["total_count"] == 1
    maas_body = _call(client, MAAS, [("name", "signed")], region_id="cn-southwest-2")
    assert [s["id"] for s in maas_body["data"]] == [svc["id"]]
    # the clock: 14 minutes off is accepted, 16 minutes off (either way) is not
    now = datetime.now(UTC)
    for off in (timedelta(minutes=14), -timedelta(minutes=14)):
        date = (now + off).strftime(signer.DATE_FORMAT)
        _call(client, DETAIL, headers={"X-Sdk-Date": date}, service_id=svc["id"])
    for off in (timedelta(minutes=16), -timedelta(minutes=16)):
        date = (now + off).strftime(signer.DATE_FORMAT)
        exc = _sdk_error(client, DETAIL, headers={"X-Sdk-Date": date}, service_id=svc["id"])
        assert (exc.status_code, exc.error_code) == (401, "APIG.0301")
        assert exc.error_msg == (
            "Incorrect IAM authentication information: verify aksk signature fail, "
            f"X-Sdk-Date {date} is more than 15 minutes from the server's time"
        )


def test_aksk_failures(live: Any, sdk: Any) -> None:
    svc = live.service("signed")
    prefix = "Incorrect IAM authentication information: "
    wrong = _sdk_error(sdk(sk="not-the-secret"), DETAIL, service_id=svc["id"])
    assert (wrong.status_code, wrong.error_code) == (401, "APIG.0301")
    assert wrong.error_msg == prefix + "verify aksk signature fail, signature mismatch"
    assert len(wrong.request_id) == 32  # X-Request-Id reaches the SDK's exception
    unknown = _sdk_error(sdk(ak="AKNOSUCHKEY"), V1)
    assert (unknown.status_code, unknown.error_code) == (401, "APIG.0301")
    assert unknown.error_msg == prefix + "Get secretKey failed,ak:AKNOSUCHKEY,err:ak not exist"
    # the whole body, raw: a signature over other headers than the ones sent
    bad = httpx.get(
        f"{live.url}/v1/{live.project_id}/services",
        headers={
            "Authorization": f"SDK-HMAC-SHA256 Access={live.access_key_id}, "
            "SignedHeaders=host;x-sdk-date;x-missing, Signature=00",
            "X-Sdk-Date": datetime.now(UTC).strftime(signer.DATE_FORMAT),
        },
    )
    assert bad.status_code == 401
    assert bad.json() == {
        "error_code": "APIG.0301",
        "error_msg": prefix + "verify aksk signature fail, signed header 'x-missing' is not in "
        "the request",
        "request_id": bad.headers["X-Request-Id"],
    }
    malformed = httpx.get(
        f"{live.url}/v1/{live.project_id}/services", headers={"Authorization": "SDK-HMAC-SHA256 x"}
    )
    assert malformed.status_code == 401 and malformed.json()["error_code"] == "APIG.0301"
    # another project's id: in the path (X-Project-Id and the path both name it) …
    other = _sdk_error(sdk(project="prj-someoneelse"), V1)
    assert (other.status_code, other.error_code) == (403, "ModelArts.0210")
    # … or only in X-Project-Id
    header_only = _sdk_error(
        sdk(project="prj-someoneelse"), f"/v1/{live.project_id}/services/{svc['id']}"
    )
    assert (header_only.status_code, header_only.error_code) == (403, "ModelArts.0210")
    # an unknown service
    missing = _sdk_error(sdk(), DETAIL, service_id="svc-nosuchthing")
    assert (missing.status_code, missing.error_code) == (404, "ModelArts.3502")
    assert missing.error_msg == "Service svc-nosuchthing does not exist."


def test_aksk_takes_precedence_over_a_token(live: Any, sdk: Any) -> None:
    svc = live.service("both")
    token = _token(live)
    # a good signature wins over a bad token …
    got = _call(sdk(), DETAIL, headers={"X-Auth-Token": "tk-garbage"}, service_id=svc["id"])
    assert got["service_id"] == svc["id"]
    # … and a bad signature loses even with a good token
    exc = _sdk_error(sdk(sk="wrong"), DETAIL, headers={"X-Auth-Token": token}, service_id=svc["id"])
    assert (exc.status_code, exc.error_code) == (401, "APIG.0301")
    # another Authorization scheme is not a signature: the token decides
    r = httpx.get(
        f"{live.url}/v1/{live.project_id}/services/{svc['id']}",
        headers={"Authorization": "Bearer x", "X-Auth-Token": token},
    )
    assert r.status_code == 200


def test_projects_are_isolated(live: Any, sdk: Any) -> None:
    mine = live.service("mine")
    made = live.client.create_project("other")
    other_project = made["project"]["id"]
    key = live.client.create_access_key(project_id=other_project)
    with httpx.Client(
        base_url=f"{live.url}/api/v1", headers={"Authorization": f"Bearer {made['api_key']}"}
    ) as other_native:
        body = {
            "name": "theirs",
            "deployments": [{"runtime": "command", "command": COMMAND, "replicas": 0}],
        }
        theirs = other_native.post("/services", json=body).json()
    other = sdk(key["access_key_id"], key["access_key_secret"], other_project)
    listed = _call(other, V1)
    assert [s["service_id"] for s in listed["services"]] == [theirs["id"]]
    assert [s["service_id"] for s in _call(sdk(), V1)["services"]] == [mine["id"]]
    hidden = _sdk_error(other, DETAIL, service_id=mine["id"])
    assert (hidden.status_code, hidden.error_code) == (404, "ModelArts.3502")
    # my key on their project's path
    crossing = _sdk_error(sdk(), f"/v1/{other_project}/services")
    assert (crossing.status_code, crossing.error_code) == (403, "ModelArts.0210")


# -- live: fields agree with the native API --------------------------------------------------
def test_details_agree_with_the_native_api(live: Any, sdk: Any) -> None:
    model = live.client.register_model(None, "jar-model", version="1.0.1")
    svc = live.service(
        "service-demo", replicas=1, model_id=model["id"], cpu=0.5, memory=300, env={"K": "v"}
    )
    live.client.wait_ready(svc["id"], timeout=60)
    for _ in range(3):
        live.client.invoke(svc["id"], "", method="GET")

    def counted() -> dict[str, Any] | None:
        native: dict[str, Any] = live.client.get_service(svc["id"])
        return native if native["invocation_count"] == 3 else None

    native = live.eventually(counted, "3 invocations counted")
    client = sdk()
    body = _call(client, DETAIL, service_id=svc["id"])
    assert set(body) == DETAIL_KEYS
    assert body["service_id"] == native["id"] and body["service_name"] == "service-demo"
    assert (body["status"], native["status"]) == ("running", "running")
    assert (body["invocation_times"], body["failed_times"]) == (3, native["failure_count"])
    assert body["progress"] == native["progress"] == 100
    assert body["publish_at"] == _ms(native["created_at"])
    assert body["transition_at"] == _ms(native["transition_at"])
    assert body["update_time"] == _ms(native["updated_at"])
    assert (body["tenant"], body["project"]) == (live.project_id, live.project_id)
    assert body["owner"] == native["owner"] and body["workspace_id"] == "0"
    assert body["access_address"] == native["url"] == f"{live.gateway}/services/{svc['id']}"
    assert body["load_balancer_policy"] == "ROUND_ROBIN" and body["infer_type"] == "real-time"
    [config] = body["config"]
    [dep] = native["deployments"]
    assert config["model_id"] == model["id"] == dep["model_id"]
    assert (config["model_name"], config["model_version"]) == ("jar-model", "1.0.1")
    assert config["instance_count"] == dep["replicas"] == 1
    assert config["status"] == "ready" and dep["ready_replicas"] == 1
    assert config["custom_spec"] == {"cpu": 0.5, "memory": 300, "gpu_p4": 0.0}
    assert (config["weight"], config["envs"]) == (dep["weight"], {"K": "v"})
    # the same service in the list and in MaaS
    [item] = _call(client, V1)["services"]
    assert {k: item[k] for k in LIST_KEYS - {"is_opened_sample_collection"}} == {
        k: body[k] for k in LIST_KEYS - {"is_opened_sample_collection"}
    }
    [entry] = _call(client, MAAS, region_id="cn-north-4")["data"]
    assert (entry["id"], entry["status"], entry["auth_type"]) == (svc["id"], "RUNNING", "API_KEY")
    assert entry["create_at"] == body["publish_at"] and entry["update_at"] == body["update_time"]
    assert entry["version_count"] == native["revision"]
    # scaled to 0: stopped, progress 100, the config shows 0 instances
    live.client.scale(svc["id"], 0)
    live.eventually(lambda: live.client.get_service(svc["id"])["status"] == "stopped", "stopped")
    body = _call(client, DETAIL, service_id=svc["id"])
    assert (body["status"], body["config"][0]["instance_count"]) == ("stopped", 0)
    assert body["config"][0]["status"] == "notReady"


def test_a_failed_service_shows_its_error(live: Any, sdk: Any) -> None:
    svc = live.service("crasher", replicas=1, command=["{python}", "-c", "raise SystemExit(3)"])

    def failed() -> dict[str, Any] | None:
        native: dict[str, Any] = live.client.get_service(svc["id"])
        return native if native["status"] == "failed" else None

    native = live.eventually(failed, "the service failed")
    body = _call(sdk(), DETAIL, service_id=svc["id"])
    assert body["status"] == "failed"
    assert body["error_msg"] == native["status_reason"] != ""
    listed = _call(sdk(), V1, [("status", "failed")])
    assert [s["service_id"] for s in listed["services"]] == [svc["id"]]
    [entry] = _call(sdk(), MAAS, region_id="r")["data"]
    assert entry["status"] == "FAILED"


# -- live: the v1 list -----------------------------------------------------------------------
@pytest.fixture
def fleet(live: Any) -> dict[str, dict[str, Any]]:
    """Five services of the default workspace and one of `ws-b`, all settled (stopped)."""
    model = live.client.register_model(None, "m1", version="2.0")
    made = {
        "a": live.service("alpha-one", tags={"team": "red", "tier": "gold"}),
        "b": live.service("alpha-two", tags={"team": "blue"}),
        "c": live.service("beta_x"),
        "d": live.service("betayx"),
        "e": live.service("epsilon", model_id=model["id"]),
        "f": _in_workspace(live, "other-ws", "ws-b"),
    }
    _settled(live, 6)
    made["model"] = model
    return made


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"total_count", "count", "services"}
    assert body["count"] == len(body["services"])
    return [s["service_id"] for s in body["services"]]


def test_list_filters(live: Any, fleet: dict[str, dict[str, Any]]) -> None:
    token = _token(live)
    path = f"/v1/{live.project_id}/services"

    def ids(**query: Any) -> set[str]:
        return set(_ids(_raw(live, path, token, params=query)))

    def of(*keys: str) -> set[str]:
        return {fleet[k]["id"] for k in keys}

    default = of("a", "b", "c", "d", "e")
    assert ids() == default
    assert ids(workspace_id="ws-b") == of("f")
    assert ids(workspace_id="nope") == set()
    assert ids(service_id=fleet["a"]["id"]) == of("a")
    assert ids(service_name="alpha-one") == of("a")
    assert ids(service_name="alpha") == set()  # exact
    assert ids(model_id=fleet["model"]["id"]) == of("e")
    assert ids(model_name="m1") == of("e")
    assert ids(model_name="nope") == set()
    assert ids(infer_type="real-time") == default
    assert ids(infer_type="batch") == ids(infer_type="edge") == set()
    for value in status.V1_VALUES:
        assert ids(status=value) == (default if value == "stopped" else set()), value
    assert ids(tags="team|red") == of("a")
    assert ids(tags="team") == of("a", "b")
    assert ids(tags="team|red,tier|gold") == of("a")
    assert ids(tags="team|blue,tier") == set()
    assert ids(tags="nope") == set()
    assert ids(cluster_id="pool-1") == set()
    assert ids(search="ALPHA") == of("a", "b")
    assert ids(search="a_x") == of("c")  # '_' is a character, not a wildcard
    assert ids(search="%") == set()
    assert ids(service_name="", search="") == default  # empty values are absent
    assert ids(status="stopped", tags="team", search="two") == of("b")


def test_list_order_and_paging(live: Any, fleet: dict[str, dict[str, Any]]) -> None:
    token = _token(live)
    path = f"/v1/{live.project_id}/services"

    def get(**query: Any) -> dict[str, Any]:
        response = _raw(live, path, token, params=query)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    native = live.client.list_services(sort="-created_at,id", workspace="0")["data"]
    newest_first = [s["id"] for s in native]
    assert [s["service_id"] for s in get()["services"]] == newest_first  # publish_at desc
    assert [s["service_id"] for s in get(order="asc")["services"]] == newest_first[::-1]
    for sort_by, key in (
        ("publish_at", "publish_at"),
        ("service_name", "service_name"),
        ("transition_at", "transition_at"),
    ):
        for order in ("asc", "desc"):
            values = [s[key] for s in get(sort_by=sort_by, order=order)["services"]]
            assert values == sorted(values, reverse=order == "desc"), (sort_by, order)
    # offset is a page index
    pages = [get(limit=2, offset=n) for n in range(4)]
    assert [p["total_count"] for p in pages] == [5, 5, 5, 5]
    assert [p["count"] for p in pages] == [2, 2, 1, 0]
    assert [s["service_id"] for p in pages for s in p["services"]] == newest_first
    assert get(limit=1000)["count"] == 5
    assert get(limit=1, offset=2147483647)["services"] == []
    # the default limit is 1000 (more than we have), and total_count counts past the page
    assert get(limit=1)["total_count"] == 5


def test_list_bad_parameters(live: Any, sdk: Any) -> None:
    token, client = _token(live), sdk()
    for query, code, message in BAD_PARAMETERS:
        response = _raw(live, f"/v1/{live.project_id}/services?{query}", token)
        assert response.status_code == 400
        assert response.json() == {"error_code": code, "error_msg": message}
        exc = _sdk_error(client, V1, query=parse_qsl(query))
        assert (exc.status_code, exc.error_code, exc.error_msg) == (400, code, message)


# -- live: MaaS ------------------------------------------------------------------------------
def test_maas_list(live: Any, sdk: Any) -> None:
    made = [live.service(f"svc-{n}") for n in range(3)]
    other = _in_workspace(live, "elsewhere", "ws-b")
    native = {s["id"]: s for s in _settled(live, 4)}
    client = sdk()

    def maas_call(*query: tuple[str, Any]) -> dict[str, Any]:
        return _call(client, MAAS, list(query), region_id="cn-southwest-2")

    body = maas_call()
    assert set(body) == {"data", "pages", "total"}
    assert (body["total"], body["pages"]) == (3, 1)
    assert [s["id"] for s in body["data"]] == [s["id"] for s in made[::-1]]  # newest first
    for item in body["data"]:
        assert set(item) == MAAS_KEYS
        n = native[item["id"]]
        assert (item["name"], item["status"], item["workspace_id"]) == (n["name"], "STOPPED", "0")
        assert (item["create_at"], item["update_at"]) == (
            _ms(n["created_at"]),
            _ms(n["updated_at"]),
        )
        assert (item["version"], item["version_count"]) == ("1.0.0", n["revision"]) == ("1.0.0", 1)
        assert (item["type"], item["deploy_type"], item["user_name"]) == (
            "REAL_TIME",
            "SINGLE",
            n["owner"],
        )
    # offset counts records
    pages = [maas_call(("limit", 2), ("offset", n)) for n in (0, 2, 3)]
    assert [(p["total"], p["pages"], len(p["data"])) for p in pages] == [
        (3, 2, 2),
        (3, 2, 1),
        (3, 2, 0),
    ]
    assert [s["id"] for p in pages for s in p["data"]] == [s["id"] for s in made[::-1]]
    assert [s["id"] for s in maas_call(("offset", 1), ("limit", 1))["data"]] == [made[1]["id"]]
    assert [s["id"] for s in maas_call(("workspace_id", "ws-b"))["data"]] == [other["id"]]
    assert [s["id"] for s in maas_call(("name", "svc-1"))["data"]] == [made[1]["id"]]
    # with a token too, as the MaaS page documents
    token = _token(live)
    raw = _raw(live, f"/v1/{live.project_id}/maas/services/custom-endpoint/services/x", token)
    assert raw.json()["total"] == 3
    for bad in ([("limit", 0)], [("limit", 1001)], [("offset", "x")], [("status", "RUNNING")]):
        exc = _sdk_error(client, MAAS, query=bad, region_id="r")
        assert (exc.status_code, exc.error_code) == (400, "ModelArts.0104")
        assert exc.error_msg.startswith("Parameter error: ")


def test_a_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    date = {"X-Sdk-Date": "20240101T000000Z", "Content-Type": "application/json"}
    received = _sdk_signed("GET", "/v1/proj123/services", [], date)
    auth = replace(
        signer.parse_authorization(received.headers["authorization"]), signature="é" * 64
    )
    with pytest.raises(SignatureError, match="signature mismatch"):
        signer.verify(auth, "SKEXAMPLE", received, VECTOR_NOW)
