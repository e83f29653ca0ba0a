"""UCloud `GetUMInferService` conformance (spec A, docs/dialects/ucloud.md).

First the pure translator (`modelport.dialects.ucloud`): the signature test vectors of A.3,
flattening (A.2), parameter decoding, query parsing and rendering. Then the HTTP handler with
a failing use case (never a 500). Then a live server (`live`, see conftest.py) called by the
real `ucloud-sdk-python3` and by hand-built requests signed with the SDK's own encoder and
signer: every item of the A.8 checklist, transports, paging, bad values, repeated keys,
project scoping, and fields compared with the native API's view of the same service.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from ucloud.client import Client as UCloudClient
from ucloud.core.auth import Credential
from ucloud.core.exc import RetCodeException
from ucloud.core.typesystem import encoder

from modelport import Client
from modelport.api.deps import ApiContext
from modelport.api.dialects import ucloud as handler
from modelport.dialects.ucloud import errors, params, query, render, signature
from modelport.domain import errors as domain
from modelport.domain.auth import Principal
from modelport.domain.ids import DeploymentId, ModelId, ProjectId, RuntimeId, ServiceId
from modelport.domain.services import AuthType, Deployment, DesiredState, LbPolicy, Service, Status
from modelport.query.ast import Cond, ListQuery, Op, Sort
from modelport.services import credentials
from modelport.services.secrets import Cipher
from modelport.store import Store

ACTION = "GetUMInferService"
REGION = "cn-bj2"
FORM = "application/x-www-form-urlencoded"
# the documented status table (docs/dialects/ucloud.md), native → UCloud
STATUS = {
    "pending": "Pending",
    "deploying": "Deploying",
    "running": "Running",
    "degraded": "Degraded",
    "failed": "Failed",
    "stopping": "Stopping",
    "stopped": "Stopped",
    "deleting": "Deleting",
}

# -- the signature (A.3) -------------------------------------------------------------------------

PUB = "ucloudsomeone@example.com1296235120854146120"
PRIV = "46f09bb9fab4f12dfc160dae12273d5332b5debe"
UHOST = {"Action": "DescribeUHostInstance", "Region": "cn-bj2", "Limit": "10"}


def pairs(text: str) -> dict[str, str]:
    """`"A=1 B=2"` → `{"A": "1", "B": "2"}`: the spec's vectors as it writes them."""
    return dict(pair.split("=", 1) for pair in text.split())


CREATE_UHOST = pairs(
    "Action=CreateUHostInstance Region=cn-bj2 Zone=cn-bj2-04 "
    "ImageId=f43736e1-65a5-4bea-ad2e-8a46e18883c2 CPU=2 Memory=2048 DiskSpace=10 "
    "LoginMode=Password Password=VUNsb3VkLmNu Name=Host01 ChargeType=Month Quantity=1 "
    f"PublicKey={PUB}"
)
GET_UMINFER = pairs(
    "Action=GetUMInferService Region=cn-wlcb Zone=cn-wlcb-01 ProjectId=org-abc123 "
    f"UminferID=uminfer-xyz Offset=0 Limit=20 UminferType=private PublicKey={PUB}"
)
VECTORS = [
    ({**UHOST, "PublicKey": PUB}, PRIV, "cba5cf5ec4d4233d206b1b54951e3787350a642f"),
    (
        {**UHOST, "PublicKey": "someone@example.com1296235120854146120"},
        PRIV,
        "4201919d267504385deb93af19e0197870fed36b",
    ),
    (CREATE_UHOST, PRIV, "4f9ef5df2abab2c6fccd1e9515cb7e2df8c6bb65"),
    ({"foo": "bar"}, "my_private_key", "634edc1bb957c0d65e5ab5494cf3b7784fbc87af"),
    (GET_UMINFER, PRIV, "1fdbd81202ee6e6e5a28848472cf275896ec0202"),
]


@pytest.mark.parametrize(("values", "secret", "expected"), VECTORS)
def test_signature_vectors(values: dict[str, str], secret: str, expected: str) -> None:
    assert signature.sign(values, secret) == expected
    assert signature.verify({**values, "Signature": expected}, secret)
    assert signature.verify({**values, "Signature": expected.upper()}, secret)
    assert not signature.verify({**values, "Signature": expected}, secret + "x")


def test_string_to_sign_of_the_get_um_infer_service_vector() -> None:
    assert signature.string_to_sign({**GET_UMINFER, "Signature": "ignored"}, PRIV) == (
        "ActionGetUMInferServiceLimit20Offset0ProjectIdorg-abc123PublicKey"
        "ucloudsomeone@example.com1296235120854146120Regioncn-wlcbUminferIDuminfer-xyz"
        "UminferTypeprivateZonecn-wlcb-0146f09bb9fab4f12dfc160dae12273d5332b5debe"
    )


def test_the_sort_is_case_sensitive_code_point_order() -> None:
    # `P` (0x50) < `h` (0x68): upper case sorts before lower case
    assert (
        signature.string_to_sign({"ChargeType": "Month", "CPU": "2"}, "k") == "CPU2ChargeTypeMonthk"
    )
    assert signature.string_to_sign({"b": "1", "B": "2", "a": "3"}, "") == "B2a3b1"


def test_signature_agrees_with_the_sdk() -> None:
    args = {
        "Action": ACTION,
        "Name": "模型 / space & plus+",
        "Tags": ["a", "b"],
        "Obj": {"k": 1, "b": True, "f": 2.5, "z": 3.0},
        "Items": [{"Sub": "x"}, {"Sub": False}],
        "cpu": 1,
    }
    flat = encoder.encode(args)
    expected = Credential(PUB, PRIV).verify_ac(flat)  # adds PublicKey, as the SDK does
    assert signature.sign(dict(params.flatten(args)) | {"PublicKey": PUB}, PRIV) == expected


def test_a_signature_of_other_characters_is_just_wrong() -> None:
    values = {"Action": ACTION, "Signature": "é" * 40}
    assert not signature.verify(values, "secret")
    assert not signature.verify({"Action": ACTION}, "secret")


# -- parameters (A.1, A.2) -----------------------------------------------------------------------


def test_flatten_encodes_like_the_sdk() -> None:
    args = {
        "Bool": True,
        "Off": False,
        "Whole": 42.0,
        "Half": 0.5,
        "Int": 7,
        "Tags": ["a", "b"],
        "Obj": {"k": 1, "b": True},
        "Items": [{"Sub": "x", "Deep": {"n": 2.0}}],
    }
    flat = dict(params.flatten(args))
    assert flat == encoder.encode(args)
    assert flat["Bool"] == "true"
    assert flat["Off"] == "false"
    assert flat["Whole"] == "42"
    assert flat["Half"] == "0.5"
    assert flat["Tags.1"] == "b"
    assert flat["Items.0.Sub"] == "x"
    assert flat["Items.0.Deep.n"] == "2"


def test_flatten_drops_nulls() -> None:
    assert params.flatten({"A": None, "B": [None, "x"], "C": {"d": None}}) == [("B.1", "x")]


def test_decode_merges_query_and_form() -> None:
    got = params.decode("Action=GetUMInferService&Limit=5", b"Offset=1&Name=a+b%26c", FORM)
    assert got == {"Action": ACTION, "Limit": "5", "Offset": "1", "Name": "a b&c"}


def test_decode_takes_a_name_given_twice_with_the_same_value_once() -> None:
    # the Go SDK: `?Action=…` and `Action` again in the form body
    got = params.decode(f"Action={ACTION}", f"Action={ACTION}&Limit=2".encode(), FORM)
    assert got == {"Action": ACTION, "Limit": "2"}
    assert params.decode("Limit=2&Limit=2", b"", "") == {"Limit": "2"}


def test_decode_flattens_json() -> None:
    body = (
        b'{"Action": "GetUMInferService", "Limit": 2.0, "Obj": {"b": true}, "T": ["x"], "N": null}'
    )
    got = params.decode("", body, "application/json; charset=utf-8")
    assert got == {"Action": ACTION, "Limit": "2", "Obj.b": "true", "T.0": "x"}


def test_decode_keeps_empty_values() -> None:
    assert params.decode("ProjectId=&Limit=", b"", "") == {"ProjectId": "", "Limit": ""}


@pytest.mark.parametrize(
    ("query_string", "body", "content_type", "name"),
    [
        ("Limit=1&Limit=2", b"", "", "Limit"),
        ("Limit=1", b"Limit=2", "application/x-www-form-urlencoded", "Limit"),
        ("Limit=1", b'{"Limit": 2}', "application/json", "Limit"),
        ("", b'{"Limit": 1, "Limit": 2}', "application/json", "Limit"),
        ("", b'{"Tags.0": "a", "Tags": ["b"]}', "application/json", "Tags.0"),
        ("", b"{not json", "application/json", "body"),
        ("", b'["Action"]', "application/json", "body"),
        ("", b"[" * 100_000, "application/json", "body"),
        ("", b"Action=\xff", "application/x-www-form-urlencoded", "body"),
        ("Name=%ff", b"", "", "query string"),
        ("", b"Action=x", "text/plain", "Content-Type"),
        ("", b"Action=x", "", "Content-Type"),
        ("&".join(f"K{i}=v" for i in range(1001)), b"", "", "query string"),
    ],
)
def test_decode_rejects_what_it_cannot_read(
    query_string: str, body: bytes, content_type: str, name: str
) -> None:
    with pytest.raises(errors.UCloudError) as caught:
        params.decode(query_string, body, content_type)
    assert caught.value.code == errors.RetCode.PARAM_INVALID
    assert caught.value.message == f"Params [{name}] not available"


def test_a_decoding_error_names_the_action_read_so_far() -> None:
    with pytest.raises(errors.UCloudError) as caught:
        params.decode(f"Limit=1&Limit=2&Action={ACTION}", b"", "")
    assert (caught.value.message, caught.value.action) == ("Params [Limit] not available", ACTION)
    with pytest.raises(errors.UCloudError) as caught:
        params.decode(f"Action={ACTION}", b"{", "application/json")
    assert (caught.value.message, caught.value.action) == ("Params [body] not available", ACTION)
    with pytest.raises(errors.UCloudError) as caught:
        params.decode("", b"{", "application/json")
    assert caught.value.action == ""


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ({"Signature": "s", "PublicKey": "p"}, 160),
        ({"Action": "", "Signature": "s", "PublicKey": "p"}, 160),
        ({"Action": ACTION, "PublicKey": "p"}, 170),
        ({"Action": ACTION, "Signature": "", "PublicKey": "p"}, 170),
        ({"Action": ACTION, "Signature": "s"}, 172),
    ],
)
def test_public_params_are_required(given: dict[str, str], code: int) -> None:
    with pytest.raises(errors.UCloudError) as caught:
        params.public(given)
    assert caught.value.code == code


# -- the query (A.6) -----------------------------------------------------------------------------


def test_parse_defaults() -> None:
    got = query.parse({"Action": ACTION, "Region": "cn-bj2", "Zone": "cn-bj2-05"}, "prj-a")
    assert got == ListQuery(sort=(Sort("created_at", descending=True),), offset=0, limit=20)


def test_parse_paging_and_id() -> None:
    got = query.parse({"Offset": "40", "Limit": "100", "UminferID": "svc-x"}, "prj-a")
    assert got is not None
    assert (got.offset, got.limit, got.filter) == (40, 100, Cond("id", Op.EQ, "svc-x"))
    assert query.parse({"Offset": "", "Limit": "", "UminferID": ""}, "prj-a") == query.parse(
        {}, "prj-a"
    )
    limit_zero = query.parse({"Limit": "0"}, "prj-a")
    assert limit_zero is not None
    assert limit_zero.limit == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Offset", "abc"),
        ("Offset", "-1"),
        ("Offset", " 1"),
        ("Offset", "1.0"),
        ("Offset", "٣"),  # a digit, but not an ASCII one
        ("Offset", str(2**31)),
        ("Limit", "101"),
        ("Limit", "1.5"),
        ("Limit", "1e2"),
        ("UminferType", "bogus"),
        ("UminferType", "private,Private"),
    ],
)
def test_parse_rejects_bad_values(name: str, value: str) -> None:
    with pytest.raises(errors.UCloudError) as caught:
        query.parse({name: value}, "prj-a")
    assert caught.value.code == errors.RetCode.PARAM_INVALID
    assert caught.value.message == f"Params [{name}] not available"


def test_parse_project() -> None:
    assert query.parse({"ProjectId": "prj-a"}, "prj-a") == query.parse({}, "prj-a")
    assert query.parse({"ProjectId": ""}, "prj-a") == query.parse({}, "prj-a")
    with pytest.raises(errors.UCloudError) as caught:
        query.parse({"ProjectId": "prj-b"}, "prj-a")
    assert caught.value.code == errors.RetCode.NO_SUCH_PROJECT
    assert caught.value.message == "Project [prj-b] not exist"


def test_parse_uminfer_type() -> None:
    assert query.parse({"UminferType": "preDeploy"}, "p") is None
    assert query.parse({"UminferType": "private, preDeploy"}, "p") == query.parse({}, "p")
    assert query.parse({"UminferType": "private"}, "p") == query.parse({}, "p")
    with pytest.raises(errors.UCloudError):  # still checked when nothing can match
        query.parse({"UminferType": "preDeploy", "Limit": "x"}, "p")


# -- rendering -----------------------------------------------------------------------------------


def test_the_status_table_is_total_and_documented() -> None:
    assert {s.value: v for s, v in render.STATUS.items()} == STATUS
    assert set(render.STATUS) == set(Status)


def _deployment(replicas: int, gpu: int, model: str | None = "mdl-1") -> Deployment:
    return Deployment(
        id=DeploymentId(f"dep-{replicas}{gpu}"),
        service_id=ServiceId("svc-1"),
        model_id=ModelId(model) if model else None,
        runtime_id=RuntimeId("rt-1"),
        version="1",
        weight=50,
        replicas=replicas,
        cpu=1.0,
        memory=256,
        gpu=gpu,
        ready_replicas=replicas - 1,
    )


SERVICE = Service(
    id=ServiceId("svc-1"),
    project_id=ProjectId("prj-a"),
    name="chat",
    description="a chat model",
    owner="key-1",
    workspace="0",
    infer_type="real-time",
    auth_type=AuthType.KEY,
    lb_policy=LbPolicy.ROUND_ROBIN,
    tags={},
    desired_state=DesiredState.RUNNING,
    deployments=(_deployment(2, 1), _deployment(3, 2, model="mdl-2")),
    status=Status.DEGRADED,
    created_at=datetime(2025, 1, 2, 3, 4, 5, 999999, tzinfo=UTC),
)


# SERVICE as UMInferServiceData, with model name "qwen" and key "sk_1"
DATA = {
    "UminferID": "svc-1",
    "UminferType": "private",
    "Name": "chat",
    "Describe": "a chat model",
    "Status": "Degraded",
    "Replicas": 5,
    "ReadyReplicas": 3,
    "ComputingUnit": 2 * 1 + 3 * 2,
    "URL": "http://h:1/services/svc-1",
    "CreateTime": 1735787045,  # seconds, the fraction cut
    "ModelID": "mdl-1",
    "ModelName": "qwen",
    "Key": "sk_1",
}
FIELDS = set(DATA)


def test_service_data_field_by_field() -> None:
    got = render.service_data(
        SERVICE, url="http://h:1/services/" + SERVICE.id, model_name="qwen", key="sk_1"
    )
    assert got == DATA


def test_a_stopped_service_has_no_replicas_and_no_computing_units() -> None:
    stopped = replace(SERVICE, desired_state=DesiredState.STOPPED, status=Status.STOPPING)
    got = render.service_data(stopped, url="http://h/services/x", model_name="", key="")
    assert (got["Replicas"], got["ComputingUnit"], got["Status"]) == (0, 0, "Stopping")


def test_a_service_without_a_model_or_time() -> None:
    bare = replace(SERVICE, deployments=(), created_at=None)
    got = render.service_data(bare, url="http://h/services/x", model_name="", key="")
    assert (got["ModelID"], got["CreateTime"], got["Replicas"]) == ("", 0, 0)
    naive = replace(SERVICE, created_at=datetime(1970, 1, 1, 0, 1))
    assert render.service_data(naive, url="", model_name="", key="")["CreateTime"] == 60


EMPTY = {"Action": "GetUMInferServiceResponse", "RetCode": 0, "Data": [], "TotalCount": 0}


def test_response_shape() -> None:
    assert render.response(ACTION, [], 0) == EMPTY
    no_action = {"Action": "Response", "RetCode": 160, "Message": "Missing Action"}
    assert errors.envelope("", errors.missing_action()) == no_action


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (domain.Unauthorized("unknown access key 'x'"), 172, "User Not Exists"),
        (domain.Forbidden("no"), 299, "no"),
        (domain.Invalid("limit", "too big"), 230, "Params [limit] not available"),
        (domain.NotFound("project", "prj-x"), 230, "Params [project] not available"),
        (domain.Conflict("raced"), 150, "raced"),
        (domain.TemporaryError("later"), 150, "later"),
        (domain.Unavailable("busy"), 150, "busy"),
        (domain.PermanentError("broken"), 130, "Internal Error"),
        (domain.ModelportError("odd"), 130, "Internal Error"),
    ],
)
def test_domain_errors_map_to_ret_codes(
    exc: domain.ModelportError, code: int, message: str
) -> None:
    err = errors.from_domain(exc)
    assert (err.code, err.message) == (code, message)


# -- the handler never answers 500 ---------------------------------------------------------------


class FailingOps:
    """Stands in for `ServiceOps`: every list fails with `exc`."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def list(self, who: Principal, q: ListQuery) -> Any:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (RuntimeError("boom"), 130, "Internal Error"),
        (domain.TemporaryError("database busy"), 150, "database busy"),
    ],
)
async def test_a_failing_query_is_an_envelope_not_a_500(
    store: Store,
    cipher: Cipher,
    principal: Principal,
    caplog: pytest.LogCaptureFixture,
    exc: Exception,
    code: int,
    message: str,
) -> None:
    key = await credentials.create_access_key(store, cipher, principal)
    ctx = ApiContext(store, FailingOps(exc), "http://test", cipher)  # type: ignore[arg-type]

    async def root(request: Request) -> Response:
        return await handler.handle(request, ctx)

    app = Starlette(routes=[Route("/", root, methods=["GET", "POST"])])
    form = encoder.encode({"Action": ACTION})
    form["Signature"] = Credential(key.id, key.secret).verify_ac(form)
    caplog.set_level(logging.ERROR, logger=handler.__name__)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        r = await http.post("/", data=form)
    assert_envelope(r, code, message)
    logged = [rec for rec in caplog.records if rec.name == handler.__name__]
    if code == 130:
        assert len(logged) == 1 and logged[0].exc_info is not None
    else:
        assert not logged


# -- a live server and the real SDK --------------------------------------------------------------


@pytest.fixture
def live(live: Any) -> Iterator[Any]:
    """conftest's `live`, whose native client is closed afterwards (the shared fixture leaves
    its connection open, which `filterwarnings = error` turns into a ResourceWarning failure)."""
    yield live
    live.client.close()


def sdk(live: Any, **config: Any) -> UCloudClient:
    return UCloudClient(
        {
            "base_url": live.url,
            "public_key": live.access_key_id,
            "private_key": live.access_key_secret,
            "region": REGION,
            "project_id": live.project_id,
            "max_retries": 0,
            **config,
        }
    )


def um(client: UCloudClient, **args: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.invoke(ACTION, args)
    return answer


def ret_code(client: UCloudClient, action: str = ACTION, **args: Any) -> RetCodeException:
    with pytest.raises(RetCodeException) as caught:
        client.invoke(action, args)
    assert caught.value.request_uuid  # the SDK read X-UCLOUD-REQUEST-UUID
    return caught.value


def signed(live: Any, values: dict[str, Any], secret: str | None = None) -> dict[str, str]:
    """`values` (plus Action and Region) flattened and signed by the SDK's own code."""
    flat: dict[str, str] = encoder.encode({"Action": ACTION, "Region": REGION, **values})
    cred = Credential(live.access_key_id, secret or live.access_key_secret)
    flat["Signature"] = cred.verify_ac(flat)
    return flat


def answer_of(r: httpx.Response) -> dict[str, Any]:
    """The JSON body of an HTTP 200 answer with a request id, as every answer must be."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    uuid.UUID(r.headers["X-UCLOUD-REQUEST-UUID"])
    body: dict[str, Any] = r.json()
    return body


def assert_envelope(r: httpx.Response, code: int, message: str, action: str = ACTION) -> None:
    assert answer_of(r) == {"Action": f"{action}Response", "RetCode": code, "Message": message}


def assert_ok(r: httpx.Response) -> dict[str, Any]:
    body = answer_of(r)
    assert (body["Action"], body["RetCode"]) == ("GetUMInferServiceResponse", 0), body
    assert isinstance(body["Data"], list)
    return body


def ids(answer: dict[str, Any]) -> list[str]:
    return [d["UminferID"] for d in answer["Data"]]


def settled(live: Any, service_id: str, status: str) -> dict[str, Any]:
    return dict(
        live.eventually(
            lambda: (s := live.client.get_service(service_id))["status"] == status and s,
            f"{service_id} {status}",
        )
    )


def assert_same_service(data: dict[str, Any], native: dict[str, Any], key: str) -> None:
    assert set(data) == FIELDS
    assert data["UminferID"] == native["id"]
    assert data["UminferType"] == "private"
    assert data["Name"] == native["name"]
    assert data["Describe"] == native["description"]
    assert data["Status"] == STATUS[native["status"]]
    desired = native["replicas"] if native["desired_state"] == "running" else 0
    assert data["Replicas"] == desired
    assert data["ReadyReplicas"] == native["ready_replicas"]
    assert data["URL"] == native["url"]
    created = datetime.fromisoformat(native["created_at"])
    assert data["CreateTime"] == int(created.timestamp())
    assert data["ModelID"] == (native["deployments"][0]["model_id"] or "")
    assert data["Key"] == key


def test_sdk_lists_services_as_the_native_api_shows_them(live: Any) -> None:
    a = live.service("alpha", description="first one", tags={"team": "x"})
    b = live.service("beta")
    natives = [settled(live, s["id"], "stopped") for s in (b, a)]
    answer = um(sdk(live), Zone="cn-bj2-05", Offset=0, Limit=20)
    assert set(answer) == {"Action", "RetCode", "Data", "TotalCount"}
    assert (answer["Action"], answer["TotalCount"]) == ("GetUMInferServiceResponse", 2)
    assert ids(answer) == [b["id"], a["id"]]  # newest first
    for data, native in zip(answer["Data"], natives, strict=True):
        assert_same_service(data, native, live.client.service_key(native["id"])["key"])
        assert (data["ModelName"], data["ComputingUnit"]) == ("", 0)


def test_a_running_then_stopped_service(live: Any) -> None:
    svc = live.service("runner", replicas=1)
    native = settled(live, svc["id"], "running")
    assert live.client.invoke(svc["id"], "/", method="GET")  # served through the gateway
    data = um(sdk(live), UminferID=svc["id"])["Data"]
    assert_same_service(data[0], native, live.client.service_key(svc["id"])["key"])
    assert (data[0]["Status"], data[0]["Replicas"], data[0]["ReadyReplicas"]) == ("Running", 1, 1)
    assert data[0]["URL"] == f"{live.gateway}/services/{svc['id']}"

    live.client.stop(svc["id"])
    assert um(sdk(live), UminferID=svc["id"])["Data"][0]["Replicas"] == 0  # at once
    native = settled(live, svc["id"], "stopped")
    data = um(sdk(live), UminferID=svc["id"])["Data"]
    assert_same_service(data[0], native, live.client.service_key(svc["id"])["key"])
    assert (data[0]["Status"], data[0]["Replicas"], data[0]["ReadyReplicas"]) == ("Stopped", 0, 0)


def test_model_id_and_name(live: Any) -> None:
    model = live.client.register_model(None, "tiny-llm", version="3")
    svc = live.service("with-model", model_id=model["id"])
    data = um(sdk(live))["Data"]
    assert [(d["UminferID"], d["ModelID"], d["ModelName"]) for d in data] == [
        (svc["id"], model["id"], "tiny-llm")
    ]


def test_get_query_string_post_form_post_json_and_go_style(live: Any) -> None:
    svc = live.service("transports")
    extra = {"Offset": 0, "Limit": 10, "Obj": {"k": 1, "b": True}, "Tags": ["a", "b"], "F": 2.0}
    flat = signed(live, extra)
    expected = [svc["id"]]
    # GET, parameters in the query string
    assert ids(assert_ok(httpx.get(f"{live.url}/", params=flat))) == expected
    # POST form, as the Python SDK sends it
    assert ids(assert_ok(httpx.post(f"{live.url}/", data=flat))) == expected
    # POST JSON: native JSON values, flattened by the server the way the SDK signed them
    body = {"Action": ACTION, "Region": REGION, **extra} | {
        k: flat[k] for k in ("PublicKey", "Signature")
    }
    assert ids(assert_ok(httpx.post(f"{live.url}/", json=body))) == expected
    # the Go SDK: `?Action=` in the query string and the whole form in the body
    go = httpx.post(f"{live.url}/", params={"Action": ACTION}, data=flat)
    assert ids(assert_ok(go)) == expected
    # a JSON string where the SDK signed a number is the same text: still valid
    as_text = {**body, "Limit": "10"}
    assert ids(assert_ok(httpx.post(f"{live.url}/", json=as_text))) == expected


def test_true_is_signed_as_sent(live: Any) -> None:
    live.service("quirk")
    good = signed(live, {"Obj": {"b": True}})
    assert good["Obj.b"] == "true"
    assert_ok(httpx.post(f"{live.url}/", data=good))
    # a hand-rolled client that signs `true` but sends Python's str(True)
    sent = {**good, "Obj.b": "True"}
    assert_envelope(httpx.post(f"{live.url}/", data=sent), 171, "Signature VerifyAC Error")


def test_a_wrong_secret_is_171(live: Any) -> None:
    err = ret_code(sdk(live, private_key="not-the-secret"))
    assert (err.code, err.message, err.retryable) == (171, "Signature VerifyAC Error", False)
    flat = signed(live, {}, secret="not-the-secret")
    assert_envelope(httpx.post(f"{live.url}/", data=flat), 171, "Signature VerifyAC Error")
    tampered = {**signed(live, {"Limit": 1}), "Limit": "2"}
    assert_envelope(httpx.get(f"{live.url}/", params=tampered), 171, "Signature VerifyAC Error")


def test_an_unknown_public_key_is_172(live: Any) -> None:
    err = ret_code(sdk(live, public_key="AKNOBODY"))
    assert (err.code, err.message) == (172, "User Not Exists")
    flat = {**signed(live, {}), "PublicKey": "AKNOBODY"}
    assert_envelope(httpx.post(f"{live.url}/", data=flat), 172, "User Not Exists")


def test_missing_public_params(live: Any) -> None:
    flat = signed(live, {})
    no_signature = {k: v for k, v in flat.items() if k != "Signature"}
    assert_envelope(httpx.post(f"{live.url}/", data=no_signature), 170, "Missing Signature")
    no_action = {k: v for k, v in flat.items() if k != "Action"}
    assert_envelope(httpx.post(f"{live.url}/", data=no_action), 160, "Missing Action", action="")
    assert_envelope(httpx.get(f"{live.url}/"), 160, "Missing Action", action="")
    no_key = {k: v for k, v in flat.items() if k != "PublicKey"}
    assert_envelope(httpx.post(f"{live.url}/", data=no_key), 172, "User Not Exists")


def test_an_unknown_action_is_161(live: Any) -> None:
    other = "DescribeUHostInstance"
    err = ret_code(sdk(live), other)
    assert (err.code, err.message) == (161, f"Action [{other}] not exist")
    flat = signed(live, {"Action": other})
    r = httpx.post(f"{live.url}/", data=flat)
    assert_envelope(r, 161, f"Action [{other}] not exist", action=other)
    # an unknown action with a bad signature is a signature error: auth comes first
    bad = httpx.post(f"{live.url}/", data=signed(live, {"Action": other}, secret="nope"))
    assert_envelope(bad, 171, "Signature VerifyAC Error", action=other)


def test_paging_is_a_record_offset(live: Any) -> None:
    made = [live.service(f"page-{i}")["id"] for i in range(3)]
    newest = made[::-1]
    client = sdk(live)
    cases = [
        ({}, newest),  # defaults: Offset 0, Limit 20
        ({"Offset": 0, "Limit": 2}, newest[:2]),
        ({"Offset": 1, "Limit": 2}, newest[1:]),  # a record offset, not a page number
        ({"Offset": 2, "Limit": 2}, newest[2:]),  # the last page
        ({"Offset": 3, "Limit": 2}, []),  # just past the end
        ({"Offset": 1000, "Limit": 2}, []),
        ({"Offset": 0, "Limit": 0}, []),  # Limit 0: only the count
        ({"Offset": 0, "Limit": 100}, newest),  # the maximum
        ({"Offset": "", "Limit": ""}, newest),  # empty means the default
    ]
    for args, expected in cases:
        answer = um(client, **args)
        assert (ids(answer), answer["TotalCount"]) == (expected, 3), args


def test_bad_values_are_230(live: Any) -> None:
    client = sdk(live)
    for name, value in [
        ("Limit", 101),
        ("Limit", -1),
        ("Limit", 2.5),
        ("Offset", "abc"),
        ("Offset", -1),
        ("UminferType", "bogus"),
    ]:
        err = ret_code(client, **{name: value})
        assert (err.code, err.message) == (230, f"Params [{name}] not available"), name
    flat = signed(live, {"Offset": "abc"})
    assert_envelope(httpx.get(f"{live.url}/", params=flat), 230, "Params [Offset] not available")


def test_repeated_keys(live: Any) -> None:
    made = [live.service(f"rep-{i}")["id"] for i in range(2)]
    flat = signed(live, {"Limit": 1})
    pairs = [*flat.items(), ("Limit", "1")]
    assert ids(assert_ok(httpx.get(f"{live.url}/", params=pairs))) == [made[1]]
    conflicting = [*flat.items(), ("Limit", "2")]
    r = httpx.get(f"{live.url}/", params=conflicting)
    assert_envelope(r, 230, "Params [Limit] not available")
    across = httpx.post(f"{live.url}/", params={"Limit": "2"}, data=flat)
    assert_envelope(across, 230, "Params [Limit] not available")


def test_uminfer_id(live: Any) -> None:
    a = live.service("id-a")
    live.service("id-b")
    client = sdk(live)
    answer = um(client, UminferID=a["id"])
    assert (ids(answer), answer["TotalCount"]) == ([a["id"]], 1)
    assert um(client, UminferID="svc-doesnotexist") == EMPTY  # an empty page, not an error


def test_uminfer_type(live: Any) -> None:
    svc = live.service("typed")
    client = sdk(live)
    assert ids(um(client, UminferType="private")) == [svc["id"]]
    assert ids(um(client, UminferType="private,preDeploy")) == [svc["id"]]
    pre = um(client, UminferType="preDeploy")  # no preset models in Modelport
    assert (pre["Data"], pre["TotalCount"]) == ([], 0)


@pytest.fixture
def other_project(live: Any) -> Iterator[dict[str, Any]]:
    """An access key of a second project, and that project's id."""
    made = live.client.create_project("other")
    with Client(live.url, made["api_key"]) as admin:
        yield {"key": admin.create_access_key(), "project_id": made["project"]["id"]}


def test_a_key_sees_only_its_own_project(live: Any, other_project: dict[str, Any]) -> None:
    mine = live.service("mine")
    key = other_project["key"]
    theirs_sdk = sdk(
        live,
        public_key=key["access_key_id"],
        private_key=key["access_key_secret"],
        project_id=other_project["project_id"],
    )
    assert um(theirs_sdk)["TotalCount"] == 0
    assert um(theirs_sdk, UminferID=mine["id"])["Data"] == []
    err = ret_code(theirs_sdk, ProjectId=live.project_id)
    assert (err.code, err.message) == (292, f"Project [{live.project_id}] not exist")
    # the same answer for a project that does not exist at all
    err = ret_code(theirs_sdk, ProjectId="prj-nothere")
    assert (err.code, err.message) == (292, "Project [prj-nothere] not exist")
    # even the installation's admin key asks one project at a time: its own
    err = ret_code(sdk(live), ProjectId=other_project["project_id"])
    assert err.code == 292
    # without a ProjectId (the SDK sends none when it has none configured): the key's project
    assert ids(um(sdk(live, project_id=None))) == [mine["id"]]
    assert ids(um(sdk(live, project_id=""))) == [mine["id"]]


def test_a_member_key_gets_no_service_key(live: Any) -> None:
    svc = live.service("keyed")
    member = live.client.create_access_key(admin=False)
    client = sdk(live, public_key=member["access_key_id"], private_key=member["access_key_secret"])
    data = um(client)["Data"]
    assert [(d["UminferID"], d["Key"]) for d in data] == [(svc["id"], "")]
    admin_view = um(sdk(live))["Data"][0]
    assert admin_view["Key"] == live.client.service_key(svc["id"])["key"]
    assert admin_view["Key"]


def test_unreadable_requests_are_envelopes_not_500s(live: Any) -> None:
    url = f"{live.url}/"
    cases = [
        httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"}),
        httpx.post(url, content=b"[1, 2]", headers={"Content-Type": "application/json"}),
        httpx.post(url, content=b"Action=\xff", headers={"Content-Type": FORM}),
        httpx.post(url, content=b"Action=x", headers={"Content-Type": "text/plain"}),
        httpx.get(f"{url}?Action=%ff"),
    ]
    names = ["body", "body", "body", "Content-Type", "query string"]
    for r, name in zip(cases, names, strict=True):
        assert_envelope(r, 230, f"Params [{name}] not available", action="")
