"""The same services seen through all four dialects and the native API agree (ids, status,
replica counts, invocation counts).

One live server (`live`, see conftest.py) holds three services of the `command` runtime, each
settled in a different state: one running with 2 ready replicas and called 3 times through the
gateway, one stopped, one failed. Each door is then asked with its vendor's own client, as the
dialect's own tests do (helpers copied, not imported): UCloud `GetUMInferService` through
`ucloud-sdk-python3`, ZStack `QueryModelService` over raw HTTP with a session, ModelArts details,
v1 list and MaaS list through `huaweicloudsdkcore` (AK/SK), TI-ONE
`DescribeModelServiceGroups` / `DescribeModelServiceGroup` through `TioneClient`. Every door
must show what the native API shows, through the status table of its page in docs/dialects/.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkmodelarts.v1 import ModelArtsClient
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.tione.v20211111 import models, tione_client
from ucloud.client import Client as UCloudClient

FAILING = ["{python}", "-c", "import sys; sys.exit('boom')"]
CALLS = 3

# -- the status tables of docs/dialects/<name>.md, native → vendor ------------------------------
UCLOUD_STATUS = {
    "pending": "Pending",
    "deploying": "Deploying",
    "running": "Running",
    "degraded": "Degraded",
    "failed": "Failed",
    "stopping": "Stopping",
    "stopped": "Stopped",
    "deleting": "Deleting",
}
MODELARTS_STATUS = {  # details and the v1 list
    "pending": "waiting",
    "deploying": "deploying",
    "running": "running",
    "degraded": "concerning",
    "failed": "failed",
    "stopping": "stopping",
    "stopped": "stopped",
    "deleting": "deleting",
}
MAAS_STATUS = {
    "pending": "DEPLOYING",
    "deploying": "DEPLOYING",
    "running": "RUNNING",
    "degraded": "CONCERNING",
    "failed": "FAILED",
    "stopping": "STOPPING",
    "stopped": "STOPPED",
    "deleting": "DELETING",
}
TIONE_STATUS = {  # groups (service status) and their services (deployment status)
    "pending": "Pending",
    "deploying": "Waiting",
    "running": "Normal",
    "degraded": "Abnormal",
    "failed": "Abnormal",
    "stopping": "Stopping",
    "stopped": "Stopped",
    "deleting": "Stopping",
}

# -- native facts ----------------------------------------------------------------------------


def desired(native: dict[str, Any], replicas: int | None = None) -> int:
    """Replicas wanted now: the configured count, 0 while the service is stopped."""
    count = native["replicas"] if replicas is None else replicas
    return count if native["desired_state"] == "running" else 0


def natives(live: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {i: dict(live.client.get_service(i)) for i in ids}


def facts(native: dict[str, Any]) -> tuple[Any, ...]:
    """What the doors are compared on; the same before and after asking them."""
    deps = [
        (d["id"], d["status"], d["replicas"], d["ready_replicas"]) for d in native["deployments"]
    ]
    return (
        native["status"],
        native["desired_state"],
        native["replicas"],
        native["ready_replicas"],
        native["invocation_count"],
        deps,
    )


# -- UCloud ----------------------------------------------------------------------------------


def ucloud_view(live: Any) -> dict[str, dict[str, Any]]:
    client = UCloudClient(
        {
            "base_url": live.url,
            "public_key": live.access_key_id,
            "private_key": live.access_key_secret,
            "region": "cn-bj2",
            "project_id": live.project_id,
            "max_retries": 0,
        }
    )  # one requests.Session per call, closed by the SDK: nothing to close here
    answer = client.invoke("GetUMInferService", {"Offset": 0, "Limit": 100})
    assert answer["RetCode"] == 0, answer
    # UMInferServiceData has no invocation count
    return {
        d["UminferID"]: {
            "status": d["Status"],
            "desired": d["Replicas"],
            "ready": d["ReadyReplicas"],
        }
        for d in answer["Data"]
    }


def ucloud_expected(native: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": UCLOUD_STATUS[native["status"]],
        "desired": desired(native),
        "ready": native["ready_replicas"],
    }


# -- ZStack ----------------------------------------------------------------------------------


def zstack_refs(live: Any) -> dict[str, list[str]]:
    """runtime uuid → the model uuids of its `modelServiceRefs`.

    A ZStack model service is a runtime; ModelServiceInventory has no status, replica or
    invocation field, so ZStack agrees on ids only: a runtime's refs are the caller's models
    that it serves (those of its framework), newest first.
    """
    digest = hashlib.sha512(live.password.encode()).hexdigest()
    with httpx.Client(base_url=f"{live.url}/zstack") as http:
        login = http.put(
            "/v1/accounts/login",
            json={"logInByAccount": {"accountName": live.user, "password": digest}},
        )
        assert login.status_code == 200, login.text
        session = login.json()["inventory"]["uuid"]
        r = http.get(
            "/v1/ai/model-services",
            params={"fields": "uuid,modelServiceRefs"},
            headers={"Authorization": f"OAuth {session}"},
        )
        assert r.status_code == 200, r.text
        http.delete(f"/v1/accounts/sessions/{session}")
    return {
        inv["uuid"]: [ref["modelUuid"] for ref in inv.get("modelServiceRefs", [])]
        for inv in r.json()["inventories"]
    }


def zstack_expected(live: Any) -> list[str]:
    """The refs of the built-in `command` runtime: the caller's custom models, newest first."""
    found = live.client.list_models(framework="custom", sort="-created_at")["data"]
    return [m["id"] for m in found]


# -- ModelArts -------------------------------------------------------------------------------

V1 = "/v1/{project_id}/services"
DETAIL = "/v1/{project_id}/services/{service_id}"
MAAS = "/v1/{project_id}/maas/services/custom-endpoint/services/{region_id}"


@pytest.fixture
def modelarts(live: Any) -> Iterator[Any]:
    """A `ModelArtsClient` on the live server (AK/SK, explicit project: no IAM call)."""
    creds = BasicCredentials(live.access_key_id, live.access_key_secret, live.project_id)
    client = ModelArtsClient.new_builder().with_credentials(creds).with_endpoint(live.url).build()
    try:
        yield client
    finally:
        client.get_http_client().close()


def _call(
    client: Any, path: str, query: list[tuple[str, Any]] | None = None, **path_params: str
) -> dict[str, Any]:
    response = client.do_http_request(
        method="GET",
        resource_path=path,
        path_params=path_params,
        query_params=list(query or []),
        header_params={},
        response_type="ShowInferServiceResponse",
    )
    assert response.status_code == 200
    body: dict[str, Any] = json.loads(response.raw_content)
    return body


def modelarts_view(client: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    listed = {s["service_id"]: s for s in _call(client, V1)["services"]}
    maas = {s["id"]: s for s in _call(client, MAAS, region_id="cn-north-4")["data"]}
    assert set(listed) == set(maas) == set(ids)
    out = {}
    for i in ids:
        body = _call(client, DETAIL, service_id=i)
        out[body["service_id"]] = {
            "status": body["status"],
            "list_status": listed[i]["status"],
            "maas_status": maas[i]["status"],
            "invocations": body["invocation_times"],
            "list_invocations": listed[i]["invocation_times"],
            "instances": [(c["instance_count"], c["status"]) for c in body["config"]],
        }
    return out


def modelarts_expected(native: dict[str, Any]) -> dict[str, Any]:
    def config_status(d: dict[str, Any]) -> str:
        full = d["ready_replicas"] >= d["replicas"] > 0
        return "ready" if d["status"] == "running" and full else "notReady"

    status = MODELARTS_STATUS[native["status"]]
    return {
        "status": status,
        "list_status": status,
        "maas_status": MAAS_STATUS[native["status"]],
        "invocations": native["invocation_count"],
        "list_invocations": native["invocation_count"],
        # `instance_count` is the deployment's `replicas` (docs/dialects/modelarts.md), kept
        # while the service is stopped; readiness is per deployment
        "instances": [(d["replicas"], config_status(d)) for d in native["deployments"]],
    }


# -- TI-ONE ----------------------------------------------------------------------------------


@pytest.fixture
def tione(live: Any) -> Iterator[tione_client.TioneClient]:
    hp = HttpProfile(protocol="http", endpoint=live.url.removeprefix("http://"))
    cred = credential.Credential(live.access_key_id, live.access_key_secret)
    client = tione_client.TioneClient(cred, "ap-guangzhou", ClientProfile(httpProfile=hp))
    try:
        yield client
    finally:
        # the SDK has no close(); its requests.Session would leak a socket past the test
        client.request.conn._session.close()


def _group(g: Any) -> dict[str, Any]:
    # ServiceGroup and Service have no invocation count (docs/dialects/tione.md)
    return {
        "status": g.Status,
        "ready": g.ReplicasCount,
        "desired": g.AvailableReplicasCount,
        "services": [
            (
                s.ServiceId,
                s.Status,
                s.ServiceInfo.Replicas,
                s.ServiceInfo.Status.Replicas,
                s.ServiceInfo.Status.ReadyReplicas,
            )
            for s in g.Services
        ],
    }


def tione_view(client: tione_client.TioneClient, ids: list[str]) -> dict[str, dict[str, Any]]:
    request = models.DescribeModelServiceGroupsRequest()
    request.Limit = 100
    listed = {
        g.ServiceGroupId: _group(g)
        for g in client.DescribeModelServiceGroups(request).ServiceGroups
    }
    for i in ids:
        one = models.DescribeModelServiceGroupRequest()
        one.ServiceGroupId = i
        group = client.DescribeModelServiceGroup(one).ServiceGroup
        assert group.ServiceGroupId == i
        assert _group(group) == listed[i], f"TI-ONE: DescribeModelServiceGroup({i}) vs the list"
    return listed


def tione_expected(native: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": TIONE_STATUS[native["status"]],
        "ready": native["ready_replicas"],
        "desired": desired(native),
        "services": [
            (
                d["id"],
                TIONE_STATUS[d["status"]],
                desired(native, d["replicas"]),
                desired(native, d["replicas"]),
                d["ready_replicas"],
            )
            for d in native["deployments"]
        ],
    }


# -- the scene -------------------------------------------------------------------------------


def settled(live: Any, service_id: str, check: Callable[[dict[str, Any]], bool], what: str) -> None:
    live.eventually(lambda: check(live.client.get_service(service_id)), f"{service_id} {what}")


def test_every_door_shows_the_same_services(
    live: Any, modelarts: Any, tione: tione_client.TioneClient
) -> None:
    running = live.service("agree-running", replicas=2)["id"]
    stopped = live.service("agree-stopped", replicas=1)["id"]
    failed = live.service("agree-failed", replicas=1, command=FAILING)["id"]
    live.client.stop(stopped)
    ids = [running, stopped, failed]
    live.client.register_model(None, "agree-model", framework="custom")  # a ZStack ref

    settled(live, running, lambda s: s["status"] == "running" and s["ready_replicas"] == 2, "up")
    for _ in range(CALLS):
        live.client.invoke(running, "", None, method="GET")
    settled(live, running, lambda s: s["invocation_count"] == CALLS, "counted")
    settled(live, stopped, lambda s: s["status"] == "stopped", "stopped")
    settled(live, failed, lambda s: s["status"] == "failed", "failed")

    before = natives(live, ids)
    assert [before[i]["status"] for i in ids] == ["running", "stopped", "failed"]
    assert before[running]["invocation_count"] == CALLS

    got_ucloud = ucloud_view(live)
    got_zstack = zstack_refs(live)
    got_modelarts = modelarts_view(modelarts, ids)
    got_tione = tione_view(tione, ids)

    after = natives(live, ids)
    assert {i: facts(n) for i, n in after.items()} == {i: facts(n) for i, n in before.items()}

    assert set(got_ucloud) == set(ids)
    assert set(got_tione) == set(ids)
    for i, native in before.items():
        assert got_ucloud[i] == ucloud_expected(native), f"UCloud, {native['status']} service"
        assert got_modelarts[i] == modelarts_expected(native), (
            f"ModelArts, {native['status']} service"
        )
        assert got_tione[i] == tione_expected(native), f"TI-ONE, {native['status']} service"
    assert got_zstack["rt-command"] == zstack_expected(live), "ZStack refs of `command`"
