"""Conformance of the TI-ONE dialect (spec D): Tencent's own SDK against a real server.

Pure parts first (signature vectors, parameter decoding, the query it builds, the status
table), then the live server through `tencentcloud-sdk-python-tione`'s `TioneClient` and
`CommonClient`, and through raw HTTP where the SDK hides the wire (exact envelopes,
Content-Type, expired timestamps). Every answer must be HTTP 200 with
`Content-Type: application/json` exactly; no request may cause a 500.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.tione.v20211111 import models, tione_client

from modelport.api.deps import ApiContext
from modelport.api.dialects import tione as handler
from modelport.dialects.tione import commands, envelope, listing, params, protocol, signature
from modelport.dialects.tione import status as tstatus
from modelport.dialects.tione.errors import Code, TioneError
from modelport.domain.services import Status
from modelport.query.ast import And, Cond, Not, Op, Or, Sort

VERSION = "2021-11-11"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
HTTP_SERVER = "{python} -m http.server --bind {host} {port}"
DEADLINE = 60.0


# == pure: signatures ===========================================================================

VECTOR_BODY = (
    b'{"Offset": 0, "Limit": 20, "Filters": [{"Name": "Status", "Values": ["Normal", '
    b'"Stopped"], "Negative": false}]}'
)
VECTOR_AUTH = (
    "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/tione/tc3_request, "
    "SignedHeaders=content-type;host, Signature={sig}"
)


def _vector(method: str, query: str, body: bytes, host: str, ctype: str) -> str:
    req = signature.SignedRequest(method, "/", query, {"content-type": ctype, "host": host}, body)
    canonical = signature.canonical_request(req, ("content-type", "host"))
    to_sign = signature.string_to_sign(1700000000, "2023-11-14", "tione", canonical)
    return signature.sign("SECRETEXAMPLE", "2023-11-14", "tione", to_sign)


def test_tc3_vectors_of_the_spec() -> None:
    assert hashlib.sha256(VECTOR_BODY).hexdigest() == (
        "27a0903699e57d21ca4dd2695c58a3e0212321eea89751aaaffe5b8f994eed3f"
    )
    req = signature.SignedRequest(
        "POST",
        "/",
        "",
        {"content-type": "application/json", "host": "127.0.0.1:18080"},
        VECTOR_BODY,
    )
    canonical = signature.canonical_request(req, ("content-type", "host"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == (
        "7b6aa804ad4bea40dd1363fae10df6b3a3937607f02bd40357347c1ce2adab7a"
    )
    assert _vector("POST", "", VECTOR_BODY, "127.0.0.1:18080", "application/json") == (
        "fd584300a8083ef76473b869dc6d793e7bb1e07ce963c0325b994415bc249d60"
    )
    query = (
        "Offset=0&Limit=20&Filters.0.Name=Status&Filters.0.Values.0=Normal"
        "&Filters.0.Values.1=Stopped&Filters.0.Negative=False"
    )
    assert _vector("GET", query, b"", "127.0.0.1:18080", "application/x-www-form-urlencoded") == (
        "2a180351e3fb0dadf6c81dae18409cd2f944a031b62dbecb5919bc1b08f4ff77"
    )
    small = b'{"Offset": 0, "Limit": 20}'
    req = signature.SignedRequest(
        "POST", "/", "", {"content-type": "application/json", "host": "127.0.0.1:37251"}, small
    )
    assert signature.canonical_request(req, ("content-type", "host")) == (
        "POST\n/\n\ncontent-type:application/json\nhost:127.0.0.1:37251\n\ncontent-type;host\n"
        "16443b16768608b09300167637d75913b9cf9b2afab7c1722703923dbe8f8dea"
    )
    assert _vector("POST", "", small, "127.0.0.1:37251", "application/json") == (
        "37369e16918c1f584460313a562659f4beb5ddb872484f5de161102edc9cdcf4"
    )


def _vector_request(body: bytes = VECTOR_BODY) -> signature.SignedRequest:
    headers = {"content-type": "application/json", "host": "127.0.0.1:18080"}
    return signature.SignedRequest("POST", "/", "", headers, body)


def test_verify_accepts_the_vector_and_rejects_any_change() -> None:
    good = "fd584300a8083ef76473b869dc6d793e7bb1e07ce963c0325b994415bc249d60"
    auth = signature.parse_authorization(VECTOR_AUTH.format(sig=good))
    assert auth == signature.Authorization(
        "AKIDEXAMPLE", "2023-11-14", "tione", ("content-type", "host"), good
    )
    signature.verify(auth, _vector_request(), "SECRETEXAMPLE", 1700000000)
    for secret, req in [
        ("WRONG", _vector_request()),
        ("SECRETEXAMPLE", _vector_request(VECTOR_BODY.replace(b"20", b"21"))),
    ]:
        with pytest.raises(TioneError) as err:
            signature.verify(auth, req, secret, 1700000000)
        assert err.value.code == Code.SIGNATURE_FAILURE
    # the credential date must be the timestamp's UTC date, the service `tione`
    for bad in [
        VECTOR_AUTH.format(sig=good).replace("2023-11-14", "2023-11-15"),
        VECTOR_AUTH.format(sig=good).replace("/tione/", "/cvm/"),
    ]:
        with pytest.raises(TioneError) as err:
            signature.verify(
                signature.parse_authorization(bad), _vector_request(), "SECRETEXAMPLE", 1700000000
            )
        assert err.value.code == Code.SIGNATURE_FAILURE


def test_unsigned_payload_hashes_the_literal() -> None:
    headers = {
        "content-type": "application/json",
        "host": "h:1",
        "x-tc-content-sha256": "UNSIGNED-PAYLOAD",
    }
    req = signature.SignedRequest("POST", "/", "", headers, b'{"any": "body"}')
    canonical = signature.canonical_request(req, ("content-type", "host"))
    assert canonical.endswith(hashlib.sha256(b"UNSIGNED-PAYLOAD").hexdigest())


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "TC3-HMAC-SHA256",
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/tione/tc3_request, Signature=" + "a" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/tione, SignedHeaders=content-type;host, "
        "Signature=" + "a" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/14-11-2023/tione/tc3_request, "
        "SignedHeaders=content-type;host, Signature=" + "a" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/tione/tc3_request, SignedHeaders=host, "
        "Signature=" + "a" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/tione/tc3_request, "
        "SignedHeaders=content-type;host, Signature=xyz",
        "TC3-HMAC-SHA256 Credential=/2023-11-14/tione/tc3_request, "
        "SignedHeaders=content-type;host, Signature=" + "a" * 64,
    ],
)
def test_garbled_authorization_is_invalid_authorization(header: str | None) -> None:
    with pytest.raises(TioneError) as err:
        signature.parse_authorization(header)
    assert err.value.code == Code.INVALID_AUTHORIZATION


def test_timestamp_window_is_300_seconds_either_way() -> None:
    now = 1_700_000_000.0
    assert signature.check_timestamp("1700000300", now) == 1700000300
    assert signature.check_timestamp("1699999700", now) == 1699999700
    for late in ("1700000301", "1699999699"):
        with pytest.raises(TioneError) as err:
            signature.check_timestamp(late, now)
        assert err.value.code == Code.SIGNATURE_EXPIRE
    with pytest.raises(TioneError) as err:
        signature.check_timestamp(None, now)
    assert err.value.code == Code.MISSING_PARAMETER
    with pytest.raises(TioneError) as err:
        signature.check_timestamp("soon", now)
    assert err.value.code == Code.INVALID_PARAMETER


# == pure: protocol, parameters, queries, statuses ============================================


def test_version_and_action_checks() -> None:
    protocol.check_version(VERSION)
    with pytest.raises(TioneError) as err:
        protocol.check_version("2018-03-01")
    assert err.value.code == Code.NO_SUCH_VERSION
    assert protocol.action_of("describeModelServiceGroups") == "DescribeModelServiceGroups"
    with pytest.raises(TioneError) as err:
        protocol.action_of("DescribeTrainingTasks")
    assert err.value.code == Code.INVALID_ACTION
    assert set(handler.ACTIONS) == set(protocol.ACTIONS)


def test_form_parameters_are_unflattened_and_read_loosely() -> None:
    data, loose = params.decode(
        "GET",
        "",
        "Offset=5&Limit=7&Filters.0.Name=Status&Filters.0.Values.0=Normal"
        "&Filters.0.Values.1=Stopped&Filters.0.Negative=False&Filters.0.Fuzzy=true",
        b"",
    )
    assert loose
    assert data == {
        "Offset": "5",
        "Limit": "7",
        "Filters": [
            {
                "Name": "Status",
                "Values": ["Normal", "Stopped"],
                "Negative": "False",
                "Fuzzy": "true",
            }
        ],
    }
    r = params.Reader(data, loose)
    assert r.integer("Offset") == 5
    f = (r.objects("Filters") or [])[0]
    assert f.boolean("Negative") is False and f.boolean("Fuzzy") is True
    # JSON is strict: "5" is no Integer there, 1 no Boolean
    strict = params.Reader({"Offset": "5", "Fuzzy": 1})
    for read in (lambda: strict.integer("Offset"), lambda: strict.boolean("Fuzzy")):
        with pytest.raises(TioneError) as err:
            read()
        assert err.value.code == Code.INVALID_PARAMETER
    with pytest.raises(TioneError) as err:
        params.unflatten([("Filters.1.Name", "Status")])
    assert err.value.code == Code.INVALID_PARAMETER


@pytest.mark.parametrize(
    ("ctype", "body"),
    [("application/json", b"[1, 2]"), ("application/json", b"{nope"), ("text/xml", b"<a/>")],
)
def test_bodies_that_are_no_json_object(ctype: str, body: bytes) -> None:
    with pytest.raises(TioneError) as err:
        params.decode("POST", ctype, "", body)
    assert err.value.code == Code.INVALID_PARAMETER


def _groups(data: dict[str, Any]) -> listing.GroupsQuery:
    return listing.groups_query(params.Reader(data))


def test_groups_query_defaults_scope_and_order() -> None:
    q = _groups({})
    assert (q.page.offset, q.page.limit) == (0, 20)
    assert q.page.sort == (Sort("created_at", descending=True),)
    assert q.page.filter == listing.scope("0") == q.everything.filter
    assert q.everything.limit == 0
    q = _groups({"TiProjectId": "ws-1", "Order": "asc", "OrderField": "UpdateTime", "Limit": 0})
    assert q.page.sort == (Sort("updated_at", descending=False),)
    assert q.page.limit == 20  # zero reads as unset
    assert q.page.filter == listing.scope("ws-1")


def test_groups_query_filters_compose() -> None:
    q = _groups(
        {
            "Filters": [
                {"Name": "ServiceGroupName", "Values": ["a", "b"]},
                {"Name": "CreatedBy", "Values": ["AK"], "Fuzzy": True, "Negative": True},
                {"Name": "Status", "Values": ["Abnormal"]},
                {"Name": "ClusterId", "Values": ["c"]},
            ],
            "TagFilters": [{"TagKey": "team", "TagValues": ["x"]}, {"TagKey": "env"}],
        }
    )
    assert q.page.filter == And(
        (
            listing.scope("0"),
            Cond("name", Op.IN, ["a", "b"]),
            Not(Cond("owner", Op.LIKE, "%AK%")),
            Cond("status", Op.IN, ["degraded", "failed"]),
            listing.NOTHING,
            Cond("tag:team", Op.EQ, "x"),
            Cond("tag:env", Op.NOT_NULL),
        )
    )
    fuzzy = _groups({"Filters": [{"Name": "ServiceId", "Values": ["a", "b"], "Fuzzy": True}]})
    assert isinstance(fuzzy.page.filter, And)
    assert fuzzy.page.filter.parts[1] == Or(
        (Cond("deployment_id", Op.LIKE, "%a%"), Cond("deployment_id", Op.LIKE, "%b%"))
    )
    named = _groups({"Filters": [{"Name": "ServiceGroupName", "Values": ["A_"], "Fuzzy": True}]})
    assert isinstance(named.page.filter, And)
    assert named.page.filter.parts[1] == Cond("name_contains", Op.EQ, "A_")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"Limit": 101}, Code.PAGE_LIMIT_EXCEEDED),
        ({"Limit": -1}, Code.INVALID_PARAMETER_VALUE),
        ({"Offset": -1}, Code.INVALID_PARAMETER_VALUE),
        ({"Limit": "ten"}, Code.INVALID_PARAMETER),
        ({"Limit": True}, Code.INVALID_PARAMETER),
        ({"Order": "UP"}, Code.INVALID_PARAMETER_VALUE),
        ({"OrderField": "Name"}, Code.INVALID_PARAMETER_VALUE),
        ({"Filters": {"Name": "Status"}}, Code.INVALID_PARAMETER),
        ({"Filters": ["Status"]}, Code.INVALID_PARAMETER),
        ({"Filters": [{"Name": "Region", "Values": ["x"]}]}, Code.INVALID_FILTER),
        ({"Filters": [{"Name": "Status", "Values": []}]}, Code.INVALID_FILTER),
        ({"Filters": [{"Name": "Status", "Values": ["Running"]}]}, Code.INVALID_FILTER),
        ({"Filters": [{"Name": "Status"}]}, Code.MISSING_PARAMETER),
        ({"Filters": [{"Name": "Status", "Values": "Normal"}]}, Code.INVALID_PARAMETER),
        ({"Filters": [{"Name": "Status", "Values": [1]}]}, Code.INVALID_PARAMETER),
        (
            {"Filters": [{"Name": "Status", "Values": ["Normal"], "Negative": "yes"}]},
            Code.INVALID_PARAMETER,
        ),
        (
            {"Filters": [{"Name": "Status", "Values": ["Normal"], "Exact": True}]},
            Code.UNKNOWN_PARAMETER,
        ),
        ({"TagFilters": [{"TagValues": ["x"]}]}, Code.MISSING_PARAMETER),
        ({"TagFilters": [{"TagKey": "k", "TagValues": "x"}]}, Code.INVALID_PARAMETER),
        ({"Search": "x"}, Code.UNKNOWN_PARAMETER),
    ],
)
def test_groups_query_rejects(data: dict[str, Any], code: Code) -> None:
    with pytest.raises(TioneError) as err:
        _groups(data)
    assert err.value.code == code


def test_every_native_status_has_a_tione_name() -> None:
    assert set(tstatus.TO_TIONE) == set(Status)
    assert set(tstatus.TO_TIONE.values()) <= set(tstatus.TIONE_VALUES)
    assert tstatus.native_statuses({"Normal"}) == ["running"]
    assert tstatus.native_statuses({"CREATING"}) == []
    assert tstatus.matching_names("stop") == {"Stopped", "Stopping"}


CPU = {"HpaMetrics": [{"Name": "cpu-util", "Value": 60}]}


def test_create_and_modify_parameters() -> None:
    cmd = commands.create_service(
        params.Reader(
            {
                "ServiceGroupName": "demo_1",
                "ImageInfo": {"ImageType": "CUSTOM", "ImageUrl": "ccr.example/x:1"},
                "Command": "python -m http.server --bind '{host}' {port}",
                "Resources": {"Cpu": 500, "Memory": 256, "Gpu": 100},
                "Env": [{"Name": "A", "Value": "1"}],
                "Tags": [{"TagKey": "team", "TagValue": "x"}],
                "ModelInfo": {"ModelName": "m", "ModelVersion": "2"},
                "LogEnable": True,  # accepted, ignored
            }
        )
    )
    v = cmd.version
    assert v.command == ["python", "-m", "http.server", "--bind", "{host}", "{port}"]
    assert (v.cpu, v.memory, v.gpu, v.replicas) == (0.5, 256, 1, 1)
    assert v.env == {"A": "1"} and cmd.tags == {"team": "x"}
    assert v.model == commands.ModelRef(None, "m", "2")
    encoded = commands.command_of(params.Reader({"Command": "x", "CommandBase64": "ZWNobyBoaQ=="}))
    assert encoded == ["echo", "hi"]
    for data, code in [
        ({"ServiceGroupName": "bad name"}, Code.BAD_NAME),
        ({"ServiceGroupName": "x" * 61}, Code.BAD_NAME),
        ({}, Code.MISSING_PARAMETER),
        ({"ServiceGroupName": "a", "ScaleMode": "AUTO"}, Code.MISSING_PARAMETER),
        (
            {"ServiceGroupName": "a", "ScaleMode": "AUTO", "HorizontalPodAutoscaler": CPU},
            Code.UNSUPPORTED_OPERATION,
        ),
        (
            {"ServiceGroupName": "a", "ScaleMode": "AUTO", "ScaleStrategy": "CRON"},
            Code.MISSING_PARAMETER,
        ),
        ({"ServiceGroupName": "a", "Resources": {"Gpu": 50}}, Code.INVALID_PARAMETER_VALUE),
        ({"ServiceGroupName": "a", "Command": "'unbalanced"}, Code.INVALID_PARAMETER_VALUE),
        ({"ServiceGroupName": "a", "CommandBase64": "%%%"}, Code.INVALID_PARAMETER_VALUE),
        ({"ServiceGroupName": "a", "Replicas": "2"}, Code.INVALID_PARAMETER),
        ({"ServiceGroupName": "a", "Colour": "red"}, Code.UNKNOWN_PARAMETER),
    ]:
        with pytest.raises(TioneError) as err:
            commands.create_service(params.Reader(data))
        assert err.value.code == code, data
    for data, code in [
        ({"ServiceId": "d", "ServiceAction": "PAUSE"}, Code.INVALID_PARAMETER_VALUE),
        ({"ServiceId": "d", "ServiceAction": "SCALE"}, Code.MISSING_PARAMETER),
        ({"ServiceId": "d", "Env": [{"Name": "A"}]}, Code.UNSUPPORTED_OPERATION),
        ({"ServiceAction": "STOP"}, Code.MISSING_PARAMETER),
    ]:
        with pytest.raises(TioneError) as err:
            commands.modify_service(params.Reader(data))
        assert err.value.code == code, data


# == live: helpers ===========================================================================


@dataclass
class Tione:
    """The vendor SDK pointed at the live server, and raw HTTP beside it."""

    live: Any
    sdk: tione_client.TioneClient
    common: CommonClient

    def call(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.common.call_json(action, body)["Response"]
        return out

    def fails(self, action: str, body: dict[str, Any]) -> TencentCloudSDKException:
        with pytest.raises(TencentCloudSDKException) as err:
            self.common.call_json(action, body)
        return err.value

    def raw(
        self,
        action: str,
        body: bytes = b"{}",
        *,
        secret_id: str | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        version: str = VERSION,
        method: str = "POST",
        query: str = "",
        content_type: str = "application/json",
        authorization: str | None = None,
    ) -> httpx.Response:
        """One request signed by this test's own TC3 code (the SDK's `Sign.sign_tc3`)."""
        host = self.live.url.removeprefix("http://")
        ts = int(time.time()) if timestamp is None else timestamp
        date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
        payload = b"" if method == "GET" else body
        canonical = (
            f"{method}\n/\n{query}\ncontent-type:{content_type}\nhost:{host}\n\n"
            f"content-type;host\n{hashlib.sha256(payload).hexdigest()}"
        )
        to_sign = (
            f"TC3-HMAC-SHA256\n{ts}\n{date}/tione/tc3_request\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        sig = Sign.sign_tc3(secret or self.live.access_key_secret, date, "tione", to_sign)
        auth = authorization
        if auth is None:
            auth = (
                f"TC3-HMAC-SHA256 Credential={secret_id or self.live.access_key_id}/{date}/"
                f"tione/tc3_request, SignedHeaders=content-type;host, Signature={sig}"
            )
        headers = {
            "Content-Type": content_type,
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Version": version,
            "X-TC-Timestamp": str(ts),
            "X-TC-Region": "ap-guangzhou",
        }
        if auth:
            headers["Authorization"] = auth
        url = f"{self.live.url}/" + (f"?{query}" if query else "")
        return httpx.request(method, url, content=payload, headers=headers)


def _clients(live: Any, secret_id: str, secret: str, method: str = "POST") -> tuple[Any, Any]:
    hp = HttpProfile(protocol="http", endpoint=live.url.removeprefix("http://"), reqMethod=method)
    cred = credential.Credential(secret_id, secret)
    sdk = tione_client.TioneClient(cred, "ap-guangzhou", ClientProfile(httpProfile=hp))
    common = CommonClient("tione", VERSION, cred, "ap-guangzhou", ClientProfile(httpProfile=hp))
    return sdk, common


def _close(*clients: Any) -> None:
    # the SDK has no close(); its requests.Session would leak a socket past the test
    for c in clients:
        c.request.conn._session.close()


@pytest.fixture
def tione(live: Any) -> Iterator[Tione]:
    """The SDK clients on conftest's `live`; closes them, and `live`'s native client, which
    the shared fixture leaves open (its socket would be a ResourceWarning, an error here)."""
    sdk, common = _clients(live, live.access_key_id, live.access_key_secret)
    try:
        yield Tione(live, sdk, common)
    finally:
        _close(sdk, common)
        live.client.close()


def _envelope(response: httpx.Response) -> dict[str, Any]:
    """The answer is HTTP 200, `application/json` exactly, one `Response` object."""
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["Response"]
    assert re.match(r"^[0-9a-f-]{36}$", body["Response"]["RequestId"])
    out: dict[str, Any] = body["Response"]
    return out


def _error(response: httpx.Response) -> str:
    answer = _envelope(response)
    assert set(answer) == {"Error", "RequestId"}
    assert set(answer["Error"]) == {"Code", "Message"}
    assert answer["Error"]["Message"]
    code: str = answer["Error"]["Code"]
    return code


def _ids(answer: dict[str, Any]) -> list[str]:
    return [g["ServiceGroupId"] for g in answer["ServiceGroups"]]


def _status(t: Tione, service_id: str) -> str:
    return str(t.call("DescribeModelService", {"ServiceId": service_id})["Service"]["Status"])


# == live: transport, auth, envelopes ==========================================================


def test_sdk_lists_groups_and_its_models_round_trip(tione: Tione, live: Any) -> None:
    a = live.service("alpha", tags={"team": "a"}, description="first")
    live.service("beta")
    resp = tione.sdk.DescribeModelServiceGroups(models.DescribeModelServiceGroupsRequest())
    assert resp.TotalCount == 2 and resp.GlobalTotalCount == 2
    again = models.DescribeModelServiceGroupsResponse()
    again.from_json_string(resp.to_json_string())
    assert again.to_json_string() == resp.to_json_string()
    group = next(g for g in resp.ServiceGroups if g.ServiceGroupId == a["id"])
    assert group.ServiceGroupName == "alpha"
    assert [(t.TagKey, t.TagValue) for t in group.Tags] == [("team", "a")]
    assert RFC3339.match(group.CreateTime) and RFC3339.match(group.UpdateTime)
    assert group.ServiceCount == 1 and group.AuthorizationEnable is True
    (svc,) = group.Services
    assert svc.ServiceId == a["deployments"][0]["id"]
    assert svc.ServiceGroupId == a["id"] and svc.ServiceDescription == "first"
    assert svc.ServiceInfo.ImageInfo.ImageUrl == "command"
    assert svc.ServiceInfo.ImageInfo.ImageType == "CUSTOM"
    assert svc.ServiceInfo.Resources.Cpu == 500 and svc.ServiceInfo.Resources.Memory == 256
    assert svc.ServiceInfo.Command.startswith("'{python}' -m http.server")
    assert svc.ServiceInfo.Weight == 100 == svc.Weight
    assert RFC3339.match(svc.CreateTime)
    assert svc.ProjectId == "0"


def test_answers_are_200_and_application_json_exactly(tione: Tione) -> None:
    ok = tione.raw("DescribeModelServiceGroups", b'{"Limit": 1}')
    assert _envelope(ok) == {
        "TotalCount": 0,
        "ServiceGroups": [],
        "GlobalTotalCount": 0,
        "RequestId": ok.json()["Response"]["RequestId"],
    }
    assert _error(tione.raw("NoSuchThing")) == "InvalidAction"


def test_auth_failures_have_their_codes(tione: Tione, live: Any) -> None:
    wrong = _error(tione.raw("DescribeModelServiceGroups", secret="not-the-secret"))
    unknown = _error(tione.raw("DescribeModelServiceGroups", secret_id="AKIDNOBODY"))
    expired = _error(tione.raw("DescribeModelServiceGroups", timestamp=int(time.time()) - 301))
    future = _error(tione.raw("DescribeModelServiceGroups", timestamp=int(time.time()) + 400))
    missing = _error(tione.raw("DescribeModelServiceGroups", authorization=""))
    garbled = _error(tione.raw("DescribeModelServiceGroups", authorization="TC3-HMAC-SHA256 x"))
    version = _error(tione.raw("DescribeModelServiceGroups", version="2019-01-01"))
    assert wrong == "AuthFailure.SignatureFailure"
    assert unknown == "AuthFailure.SecretIdNotFound"
    assert expired == future == "AuthFailure.SignatureExpire"
    assert missing == garbled == "AuthFailure.InvalidAuthorization"
    assert version == "NoSuchVersion"
    # and the SDK sees them as exceptions with the code
    sdk, common = _clients(live, live.access_key_id, "not-the-secret")
    other, other_common = _clients(live, "AKIDNOBODY", "x")
    try:
        with pytest.raises(TencentCloudSDKException) as err:
            sdk.DescribeModelServiceGroups(models.DescribeModelServiceGroupsRequest())
        assert err.value.code == "AuthFailure.SignatureFailure"
        assert re.match(r"^[0-9a-f-]{36}$", err.value.requestId)
        with pytest.raises(TencentCloudSDKException) as err:
            other_common.call_json("DescribeModelServiceGroups", {})
        assert err.value.code == "AuthFailure.SecretIdNotFound"
    finally:
        _close(sdk, common, other, other_common)
    assert tione.fails("DescribeModelServiceHotUpdated", {}).code == "InvalidAction"


def test_get_and_form_post_are_signed_and_parsed(tione: Tione, live: Any) -> None:
    live.service("alpha")
    sdk, common = _clients(live, live.access_key_id, live.access_key_secret, method="GET")
    try:
        req = models.DescribeModelServiceGroupsRequest()
        f = models.Filter()
        f.Name, f.Values, f.Negative = "ServiceGroupName", ["alpha"], False
        req.Filters, req.Limit = [f], 5
        resp = sdk.DescribeModelServiceGroups(req)  # flattened query, booleans as `False`
        assert resp.TotalCount == 1 and resp.ServiceGroups[0].ServiceGroupName == "alpha"
    finally:
        _close(sdk, common)
    form = "Limit=5&Filters.0.Name=ServiceGroupName&Filters.0.Values.0=nope"
    answer = _envelope(
        tione.raw(
            "DescribeModelServiceGroups",
            form.encode(),
            content_type="application/x-www-form-urlencoded",
        )
    )
    assert answer["TotalCount"] == 0


def test_bad_bodies_are_invalid_parameter(tione: Tione) -> None:
    assert _error(tione.raw("DescribeModelServiceGroups", b"[]")) == "InvalidParameter"
    assert _error(tione.raw("DescribeModelServiceGroups", b"{oops")) == "InvalidParameter"
    assert _error(tione.raw("DescribeModelServiceGroups", b'{"Offset": 1e40}')) == (
        "InvalidParameter"
    )
    huge = json.dumps({"Offset": 10**30}).encode()
    assert _error(tione.raw("DescribeModelServiceGroups", huge)) == "InvalidParameterValue"
    assert tione.fails("DescribeModelServiceGroups", {"Limit": "20"}).code == "InvalidParameter"
    assert tione.fails("DescribeModelServiceGroups", {"Nope": 1}).code == "UnknownParameter"
    assert tione.fails("DescribeModelServiceGroup", {}).code == "MissingParameter"
    assert tione.fails("DescribeModelService", {"ServiceId": 7}).code == "InvalidParameter"


def test_unknown_ids_are_resource_not_found(tione: Tione, live: Any) -> None:
    live.service("alpha")
    for action, body in [
        ("DescribeModelServiceGroup", {"ServiceGroupId": "svc-nope"}),
        ("DescribeModelService", {"ServiceId": "dep-nope"}),
        ("DescribeModelServiceCallInfo", {"ServiceGroupId": "svc-nope"}),
        ("DeleteModelService", {"ServiceId": "dep-nope"}),
        ("DeleteModelServiceGroup", {"ServiceGroupId": "svc-nope"}),
        ("ModifyModelService", {"ServiceId": "dep-nope", "ServiceAction": "STOP"}),
        (
            "ModifyServiceGroupWeights",
            {"ServiceGroupId": "svc-nope", "Weights": [{"ServiceId": "dep-nope", "Weight": 1}]},
        ),
        ("CreateModelService", {"ServiceGroupId": "svc-nope", "Command": HTTP_SERVER}),
    ]:
        err = tione.fails(action, body)
        assert err.code == "ResourceNotFound", (action, err)


async def test_unexpected_errors_are_internal_error_never_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store that breaks: the top-level handler logs the traceback, answers InternalError."""

    class BrokenStore:
        @asynccontextmanager
        async def read(self) -> AsyncIterator[None]:
            raise RuntimeError("the disk is on fire")
            yield

    ctx = ApiContext(store=BrokenStore(), ops=None, base_url="http://x", cipher=None)  # type: ignore[arg-type]

    async def root(request: Request) -> Response:
        return await handler.handle(request, ctx)

    app = Starlette(routes=[Route("/", root, methods=["POST"])])
    auth = (
        "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/tione/tc3_request, "
        "SignedHeaders=content-type;host, Signature=" + "a" * 64
    )

    headers = {
        "Content-Type": "application/json",
        "Authorization": auth,
        "X-TC-Action": "DescribeModelServiceGroups",
    }
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.ERROR, logger="modelport.api.dialects.tione"):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/", content=b"{}", headers=headers)
    assert _error(response) == "InternalError"
    assert response.json()["Response"]["Error"]["Message"] == "internal error"
    (record,) = [r for r in caplog.records if r.name == "modelport.api.dialects.tione"]
    assert record.exc_info is not None and "on fire" in str(record.exc_info[1])


# == live: DescribeModelServiceGroups =========================================================


@pytest.fixture
def catalog(tione: Tione, live: Any) -> dict[str, Any]:
    """Four groups: three native (stopped), one created through TI-ONE (running)."""
    model = live.client.register_model(None, "clf", framework="custom", version="3")
    a = live.service("alpha_one", tags={"team": "red", "env": "prod"})
    b = live.service("alpha_two", tags={"team": "blue"}, model_id=model["id"])
    c = live.service("gamma", tags={"env": "dev"})
    d = tione.call(
        "CreateModelService",
        {
            "ServiceGroupName": "delta",
            "ImageInfo": {"ImageType": "PreSet", "ImageUrl": "command"},
            "Command": HTTP_SERVER,
            "Replicas": 1,
            "AuthorizationEnable": False,
        },
    )["Service"]
    groups = {"a": a["id"], "b": b["id"], "c": c["id"], "d": d["ServiceGroupId"]}
    live.eventually(lambda: _status(tione, d["ServiceId"]) == "Normal", "delta running")
    for key in "abc":
        dep = live.client.get_service(groups[key])["deployments"][0]["id"]
        live.eventually(lambda dep=dep: _status(tione, dep) == "Stopped", f"{key} stopped")
    return {
        **groups,
        "model": model["id"],
        "dep_b": b["deployments"][0]["id"],
        "dep_d": d["ServiceId"],
    }


def _find(t: Tione, *filters: dict[str, Any], tags: list[dict[str, Any]] | None = None) -> set[str]:
    body: dict[str, Any] = {"Filters": list(filters), "Limit": 100}
    if tags is not None:
        body["TagFilters"] = tags
    answer = t.call("DescribeModelServiceGroups", body)
    assert answer["TotalCount"] == len(answer["ServiceGroups"])
    assert answer["GlobalTotalCount"] == 4
    return set(_ids(answer))


def test_every_filter_name_with_negative_and_fuzzy(
    tione: Tione, catalog: dict[str, Any], live: Any
) -> None:
    everyone = {catalog[k] for k in "abcd"}

    def check(name: str, values: list[str], exact: set[str], fuzzy: set[str] | None = None) -> None:
        f = {"Name": name, "Values": values}
        assert _find(tione, f) == exact, (name, values)
        assert _find(tione, {**f, "Negative": True}) == everyone - exact, (name, values)
        if fuzzy is not None:
            assert _find(tione, {**f, "Fuzzy": True}) == fuzzy, (name, values)
            assert _find(tione, {**f, "Fuzzy": True, "Negative": True}) == everyone - fuzzy

    a, b, c, d = (catalog[k] for k in "abcd")
    check("ServiceGroupId", [a, c], {a, c}, {a, c})
    check("ServiceGroupId", [a[4:10]], set(), {a})
    check("ServiceGroupName", ["alpha_one", "gamma"], {a, c})
    check("ServiceGroupName", ["alpha"], set(), {a, b})
    check("ServiceGroupName", ["amm", "elt"], set(), {c, d})
    check("ServiceGroupName", ["PHA_T"], set(), {b})  # any case, `_` literal
    check("ServiceGroupName", ["%"], set(), set())  # `%` literal too
    check("Status", ["Normal"], {d}, {d})
    check("Status", ["Stopped", "Normal"], everyone)
    check("Status", ["Abnormal", "CREATING"], set())
    check("Status", ["Stopped"], {a, b, c})
    assert _find(tione, {"Name": "Status", "Values": ["stop"], "Fuzzy": True}) == {a, b, c}
    owner = live.client.get_service(a)["owner"]
    check("CreatedBy", [live.access_key_id], {d}, {d})
    check("CreatedBy", [owner], {a, b, c})
    check("CreatedBy", [live.access_key_id[2:8]], set(), {d})
    check("ServiceId", [catalog["dep_b"], catalog["dep_d"]], {b, d})
    check("ServiceId", [catalog["dep_b"][4:]], set(), {b})
    check("ModelVersionId", [catalog["model"]], {b}, {b})
    check("ModelVersionId", [catalog["model"][4:9]], set(), {b})
    check("ClusterId", ["cls-1"], set(), set())
    # filters AND together, values within one OR
    both = _find(
        tione,
        {"Name": "ServiceGroupName", "Values": ["alpha"], "Fuzzy": True},
        {"Name": "ServiceGroupId", "Values": [b, c, d]},
    )
    assert both == {b}


def test_tag_filters(tione: Tione, catalog: dict[str, Any]) -> None:
    a, b, c = (catalog[k] for k in "abc")
    assert _find(tione, tags=[{"TagKey": "team", "TagValues": ["red", "blue"]}]) == {a, b}
    assert _find(tione, tags=[{"TagKey": "team", "TagValues": ["red"]}]) == {a}
    assert _find(tione, tags=[{"TagKey": "env"}]) == {a, c}
    assert _find(tione, tags=[{"TagKey": "env", "TagValues": []}]) == {a, c}
    assert _find(tione, tags=[{"TagKey": "team"}, {"TagKey": "env"}]) == {a}
    assert _find(tione, tags=[{"TagKey": "nope"}]) == set()
    assert _find(tione, {"Name": "Status", "Values": ["Stopped"]}, tags=[{"TagKey": "env"}]) == {
        a,
        c,
    }


def test_order_and_paging(tione: Tione, catalog: dict[str, Any], live: Any) -> None:
    created = [catalog[k] for k in "abcd"]  # in creation order

    def page(**body: Any) -> dict[str, Any]:
        return tione.call("DescribeModelServiceGroups", body)

    assert _ids(page()) == created[::-1]  # default: CreateTime DESC
    assert _ids(page(Order="ASC")) == created
    assert _ids(page(OrderField="CreateTime", Order="DESC")) == created[::-1]
    live.client.update_service(catalog["b"], description="touched")
    assert _ids(page(OrderField="UpdateTime"))[0] == catalog["b"]
    assert _ids(page(OrderField="UpdateTime", Order="ASC"))[-1] == catalog["b"]
    # paging boundaries
    first = page(Offset=0, Limit=3, Order="ASC")
    assert _ids(first) == created[:3] and first["TotalCount"] == 4
    last = page(Offset=3, Limit=3, Order="ASC")
    assert _ids(last) == created[3:] and last["TotalCount"] == 4
    beyond = page(Offset=10, Limit=3)
    assert beyond["ServiceGroups"] == [] and beyond["TotalCount"] == 4
    assert len(page(Limit=0)["ServiceGroups"]) == 4  # 0 means the default, 20
    assert len(page(Limit=100)["ServiceGroups"]) == 4
    assert len(page(Limit=1)["ServiceGroups"]) == 1
    assert tione.fails("DescribeModelServiceGroups", {"Limit": 101}).code == (
        "InvalidParameterValue.PageLimitExceeded"
    )
    assert tione.fails("DescribeModelServiceGroups", {"Offset": -1}).code == (
        "InvalidParameterValue"
    )
    # another workspace sees none of them
    other = page(TiProjectId="ws-other")
    assert other["TotalCount"] == other["GlobalTotalCount"] == 0


def test_agreement_with_the_native_api(tione: Tione, catalog: dict[str, Any], live: Any) -> None:
    answer = tione.call("DescribeModelServiceGroups", {"Limit": 100})
    # every field is one of the SDK's (an unknown one warns, an error under pytest)
    models.DescribeModelServiceGroupsResponse().from_json_string(json.dumps(answer))
    native = {s["id"]: s for s in live.client.list_services()["data"]}
    assert set(_ids(answer)) == set(native)
    names = {v: k for k, v in tstatus.TO_TIONE.items()}
    for g in answer["ServiceGroups"]:
        n = native[g["ServiceGroupId"]]
        assert g["ServiceGroupName"] == n["name"]
        assert tstatus.TO_TIONE[Status(n["status"])] == g["Status"]
        assert g["Status"] in names
        assert g["ReplicasCount"] == n["ready_replicas"]
        assert g["AvailableReplicasCount"] == n["replicas"]
        assert [s["ServiceId"] for s in g["Services"]] == [d["id"] for d in n["deployments"]]
        for s, d in zip(g["Services"], n["deployments"], strict=True):
            assert s["ServiceInfo"]["Replicas"] == d["replicas"]
            assert s["ServiceInfo"]["Status"]["ReadyReplicas"] == d["ready_replicas"]
            assert s["Weight"] == d["weight"]
            assert s["Status"] == tstatus.TO_TIONE[Status(d["status"])]
    b = next(g for g in answer["ServiceGroups"] if g["ServiceGroupId"] == catalog["b"])
    info = b["Services"][0]["ServiceInfo"]["ModelInfo"]
    assert info["ModelVersionId"] == catalog["model"]
    assert (info["ModelName"], info["ModelVersion"]) == ("clf", "3")


# == live: a TI-ONE script on services that really run =======================================


def test_create_scale_reweight_stop_resume_delete(tione: Tione, live: Any) -> None:
    sdk = tione.sdk
    create = models.CreateModelServiceRequest()
    create.ServiceGroupName = "script"
    create.ServiceDescription = "made by a TI-ONE script"
    image = models.ImageInfo()
    image.ImageType, image.ImageUrl = "PreSet", "command"
    create.ImageInfo = image
    create.Command = HTTP_SERVER
    create.Replicas = 1
    res = models.ResourceInfo()
    res.Cpu, res.Memory = 250, 128
    create.Resources = res
    env = models.EnvVar()
    env.Name, env.Value = "GREETING", "hello"
    create.Env = [env]
    tag = models.Tag()
    tag.TagKey, tag.TagValue = "owner", "script"
    create.Tags = [tag]
    first = sdk.CreateModelService(create).Service
    group, v1 = first.ServiceGroupId, first.ServiceId
    assert first.ServiceGroupName == "script"
    assert (first.ServiceInfo.Resources.Cpu, first.ServiceInfo.Resources.Memory) == (250, 128)
    native = live.client.get_service(group)
    assert native["deployments"][0]["id"] == v1
    assert native["deployments"][0]["env"] == {"GREETING": "hello"}
    assert native["tags"] == {"owner": "script"} and native["auth_type"] == "key"

    def describe(service_id: str) -> Any:
        req = models.DescribeModelServiceRequest()
        req.ServiceId = service_id
        return sdk.DescribeModelService(req).Service

    live.eventually(lambda: describe(v1).Status == "Normal", "v1 Normal")

    # call it with what DescribeModelServiceCallInfo gives
    req = models.DescribeModelServiceCallInfoRequest()
    req.ServiceGroupId = group
    info = sdk.DescribeModelServiceCallInfo(req)
    url = info.ServiceCallInfoV2.InternetEndpoint
    assert url == info.ServiceCallInfo.InnerHttpAddr == f"{live.gateway}/services/{group}"
    token = info.ServiceCallInfoV2.AuthToken
    assert token == live.client.service_key(group)["key"]
    for _ in range(3):
        assert httpx.get(f"{url}/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert httpx.get(f"{url}/").status_code == 401
    live.eventually(
        lambda: live.client.get_service(group)["invocation_count"] >= 3, "invocations counted"
    )

    # SCALE to 2
    scale = models.ModifyModelServiceRequest()
    scale.ServiceId, scale.ServiceAction, scale.Replicas = v1, "SCALE", 2
    assert sdk.ModifyModelService(scale).Service.ServiceInfo.Replicas == 2
    live.eventually(
        lambda: (
            describe(v1).ServiceInfo.Status.ReadyReplicas == 2 and describe(v1).Status == "Normal"
        ),
        "two ready",
    )
    native = live.client.get_service(group)
    assert (native["replicas"], native["ready_replicas"], native["status"]) == (2, 2, "running")

    # a second version (no traffic until reweighted), then weights 30/70
    add = models.CreateModelServiceRequest()
    add.ServiceGroupId = group
    add.ImageInfo = image
    add.Command = HTTP_SERVER
    add.Replicas = 1
    v2 = sdk.CreateModelService(add).Service.ServiceId
    assert describe(v2).Weight == 0 and describe(v2).ServiceGroupId == group
    weights = models.ModifyServiceGroupWeightsRequest()
    weights.ServiceGroupId = group
    w1, w2 = models.WeightEntry(), models.WeightEntry()
    w1.ServiceId, w1.Weight, w2.ServiceId, w2.Weight = v1, 30, v2, 70
    weights.Weights = [w1, w2]
    reweighted = sdk.ModifyServiceGroupWeights(weights).ServiceGroup
    assert {s.ServiceId: s.Weight for s in reweighted.Services} == {v1: 30, v2: 70}
    assert {d["id"]: d["weight"] for d in live.client.get_service(group)["deployments"]} == {
        v1: 30,
        v2: 70,
    }
    live.eventually(lambda: describe(v2).Status == "Normal", "v2 Normal")
    groups = tione.call("DescribeModelServiceGroup", {"ServiceGroupId": group})["ServiceGroup"]
    assert groups["ServiceCount"] == 2 and groups["RunningServiceCount"] == 2
    # STOP is for a group of one; a bad weight is the vendor's InvalidParameterValue
    assert tione.fails("ModifyModelService", {"ServiceId": v1, "ServiceAction": "STOP"}).code == (
        "UnsupportedOperation"
    )
    bad = {"ServiceGroupId": group, "Weights": [{"ServiceId": v1, "Weight": 101}]}
    assert tione.fails("ModifyServiceGroupWeights", bad).code == "InvalidParameterValue"
    bad = {"ServiceGroupId": group, "Weights": [{"ServiceId": "dep-nope", "Weight": 1}]}
    assert tione.fails("ModifyServiceGroupWeights", bad).code == "ResourceNotFound"

    # delete the first version; the group keeps the second
    delete = models.DeleteModelServiceRequest()
    delete.ServiceId = v1
    sdk.DeleteModelService(delete)
    assert tione.fails("DescribeModelService", {"ServiceId": v1}).code == "ResourceNotFound"
    assert [d["id"] for d in live.client.get_service(group)["deployments"]] == [v2]

    # STOP, RESUME
    stop = models.ModifyModelServiceRequest()
    stop.ServiceId, stop.ServiceAction = v2, "STOP"
    stopped = sdk.ModifyModelService(stop).Service
    assert stopped.ServiceInfo.Replicas == 0 and stopped.ServiceInfo.OldReplicas == 1
    live.eventually(lambda: describe(v2).Status == "Stopped", "v2 Stopped")
    assert live.client.get_service(group)["status"] == "stopped"
    resume = models.ModifyModelServiceRequest()
    resume.ServiceId, resume.ServiceAction = v2, "RESUME"
    assert sdk.ModifyModelService(resume).Service.ServiceInfo.Replicas == 1
    live.eventually(lambda: describe(v2).Status == "Normal", "v2 Normal again")
    assert live.client.get_service(group)["status"] == "running"

    # delete the group: gone for TI-ONE at once, for Modelport once its replicas stopped
    drop = models.DeleteModelServiceGroupRequest()
    drop.ServiceGroupId = group
    sdk.DeleteModelServiceGroup(drop)
    gone = tione.fails("DescribeModelServiceGroup", {"ServiceGroupId": group})
    assert gone.code == "ResourceNotFound"
    assert tione.call("DescribeModelServiceGroups", {})["TotalCount"] == 0

    def deleted() -> bool:
        return not any(s["id"] == group for s in live.client.list_services()["data"])

    live.eventually(deleted, "the service removed")


def test_modify_without_action_and_last_service_deletion(tione: Tione, live: Any) -> None:
    svc = live.service("solo", description="old")
    dep = svc["deployments"][0]["id"]
    answer = tione.call(
        "ModifyModelService", {"ServiceId": dep, "Replicas": 2, "ServiceDescription": "new"}
    )["Service"]
    assert answer["ServiceInfo"]["Replicas"] == 2 and answer["ServiceDescription"] == "new"
    native = live.client.get_service(svc["id"])
    assert native["deployments"][0]["replicas"] == 2 and native["description"] == "new"
    assert tione.fails("ModifyModelService", {"ServiceId": dep, "ImageInfo": {}}).code == (
        "UnsupportedOperation"
    )
    tione.call("ModifyModelService", {"ServiceId": dep, "ServiceAction": "SCALE", "Replicas": 0})
    # the last service of a group takes the group with it
    tione.call("DeleteModelService", {"ServiceId": dep})
    assert tione.fails("DescribeModelServiceGroup", {"ServiceGroupId": svc["id"]}).code == (
        "ResourceNotFound"
    )
    live.eventually(
        lambda: all(s["id"] != svc["id"] for s in live.client.list_services()["data"]),
        "the service removed",
    )


def test_create_resolves_images_and_models(tione: Tione, live: Any) -> None:
    model = live.client.register_model(None, "clf", framework="custom", version="2")
    by_name = tione.call(
        "CreateModelService",
        {
            "ServiceGroupName": "by-name",
            "ImageInfo": {"ImageType": "CUSTOM", "ImageUrl": "registry.example/team/img:1"},
            "Command": HTTP_SERVER,
            "ModelInfo": {"ModelName": "clf", "ModelVersion": "2"},
            "Replicas": 0,
            "TiProjectId": "ws-7",
        },
    )["Service"]
    assert by_name["ServiceInfo"]["ModelInfo"]["ModelVersionId"] == model["id"]
    assert by_name["ServiceInfo"]["ImageInfo"]["ImageUrl"] == "command"  # the image is not kept
    assert by_name["ProjectId"] == "ws-7"
    assert live.client.get_service(by_name["ServiceGroupId"])["workspace"] == "ws-7"
    listed = tione.call("DescribeModelServiceGroups", {"TiProjectId": "ws-7"})
    assert _ids(listed) == [by_name["ServiceGroupId"]]
    assert tione.call("DescribeModelServiceGroups", {})["TotalCount"] == 0
    group = by_name["ServiceGroupId"]
    assert (
        tione.fails(
            "DescribeModelServiceGroup", {"ServiceGroupId": group, "TiProjectId": "ws-8"}
        ).code
        == "ResourceNotFound"
    )
    for body, code in [
        (
            {"ImageInfo": {"ImageUrl": "registry.example/x:1"}},
            "InvalidParameterValue.ImageNotFound",
        ),
        (
            {"Command": HTTP_SERVER, "ModelInfo": {"ModelVersionId": "mdl-nope"}},
            "ResourceNotFound.NoModel",
        ),
        (
            {"Command": HTTP_SERVER, "ModelInfo": {"ModelName": "clf", "ModelVersion": "9"}},
            "ResourceNotFound.NoModel",
        ),
        ({}, "MissingParameter"),
        ({"Command": HTTP_SERVER, "Replicas": 65}, "InvalidParameterValue"),
    ]:
        err = tione.fails("CreateModelService", {"ServiceGroupName": "x", **body})
        assert err.code == code, (body, err)


def test_call_info_hides_the_key_from_members(tione: Tione, live: Any) -> None:
    svc = live.service("keyed")
    member = live.client.create_access_key(admin=False)
    sdk, common = _clients(live, member["access_key_id"], member["access_key_secret"])
    try:
        info = common.call_json("DescribeModelServiceCallInfo", {"ServiceGroupId": svc["id"]})
        v2 = info["Response"]["ServiceCallInfoV2"]
        assert v2["AuthorizationEnable"] is True and "AuthToken" not in v2
    finally:
        _close(sdk, common)
    admin = tione.call("DescribeModelServiceCallInfo", {"ServiceGroupId": svc["id"]})
    assert admin["ServiceCallInfoV2"]["AuthToken"] == live.client.service_key(svc["id"])["key"]


def test_envelope_constants() -> None:
    assert envelope.CONTENT_TYPE == "application/json"
    err = envelope.error(TioneError(Code.INVALID_ACTION, "m"), "rid")
    assert err == {
        "Response": {"Error": {"Code": "InvalidAction", "Message": "m"}, "RequestId": "rid"}
    }


def test_sdk_creates_and_modifies_autoscaling_cron_jobs_and_a_scheduled_stop(
    tione: Tione, live: Any
) -> None:
    """ScaleMode AUTO with an HPA on concurrency, then CRON jobs, then MANUAL, through the SDK;
    ScheduledAction becomes the service's stop time."""
    create = models.CreateModelServiceRequest()
    create.ServiceGroupName = "elastic"
    image = models.ImageInfo()
    image.ImageType, image.ImageUrl = "PreSet", "command"
    create.ImageInfo, create.Command, create.Replicas = image, HTTP_SERVER, 0
    create.ScaleMode, create.ScaleStrategy = "AUTO", "HPA"
    hpa = models.HorizontalPodAutoscaler()
    hpa.MinReplicas, hpa.MaxReplicas = 0, 3
    metric = models.Option()
    metric.Name, metric.Value = "concurrency-util", 4
    hpa.HpaMetrics = [metric]
    hpa.ScaleUpStabilizationWindowSeconds, hpa.ScaleDownStabilizationWindowSeconds = 5, 120
    create.HorizontalPodAutoscaler = hpa
    stop = models.ScheduledAction()
    stop.ScheduleStop, stop.ScheduleStopTime = True, "2099-01-26T19:46:22+08:00"
    create.ScheduledAction = stop
    made = tione.sdk.CreateModelService(create).Service
    info = made.ServiceInfo
    assert (info.ScaleMode, info.ScaleStrategy) == ("AUTO", "HPA")
    got = info.HorizontalPodAutoscaler
    assert (got.MinReplicas, got.MaxReplicas, got.HpaMetrics[0].Value) == (0, 3, 4)
    assert got.ScaleDownStabilizationWindowSeconds == 120
    assert info.ScheduledAction.ScheduleStopTime == "2099-01-26T11:46:22Z"
    native = live.client.get_service(made.ServiceGroupId)
    assert native["deployments"][0]["autoscaling"] == {
        "min_replicas": 0,
        "max_replicas": 3,
        "target": 4.0,
        "scale_up_delay": 5.0,
        "scale_down_delay": 120.0,
    }
    assert native["stop_at"].startswith("2099-01-26T11:46:22")

    cron = {
        "ServiceId": made.ServiceId,
        "ScaleMode": "AUTO",
        "ScaleStrategy": "CRON",
        "CronScaleJobs": [
            {"Schedule": "0 0 9 * * 1-5", "Name": "day", "TargetReplicas": 2},
            {"Schedule": "0 18 * * 1-5", "Name": "night", "TargetReplicas": 0},
        ],
    }
    answer = tione.call("ModifyModelService", cron)["Service"]["ServiceInfo"]
    assert (answer["ScaleMode"], answer["ScaleStrategy"]) == ("AUTO", "CRON")
    assert [j["Schedule"] for j in answer["CronScaleJobs"]] == ["0 9 * * 1-5", "0 18 * * 1-5"]
    native = live.client.get_service(made.ServiceGroupId)["deployments"][0]
    assert native["autoscaling"] is None
    assert [j["replicas"] for j in native["schedules"]] == [2, 0]

    bad = {**cron, "CronScaleJobs": [{"Schedule": "every day", "TargetReplicas": 1}]}
    assert tione.fails("ModifyModelService", bad).code == "InvalidParameterValue"
    manual = {"ServiceId": made.ServiceId, "ScaleMode": "MANUAL", "Replicas": 0}
    answer = tione.call("ModifyModelService", manual)["Service"]["ServiceInfo"]
    assert answer["ScaleMode"] == "MANUAL" and "CronScaleJobs" not in answer
