"""Project isolation: a caller of project A neither sees nor changes anything of project B,
through any door (docs/security.md, "Project isolation").

One live server for the module, two projects made by the installation's admin, `alpha` and
`beta`, each with its own admin API key, access key and user, a model, a runtime (ZStack's
"model services") and three services: `chat` (the same name in both, key auth), `only-<name>`
and `open-chat` (the same name in both, auth off). Each test takes one door and checks, as
alpha: listings show alpha's objects only; reading, changing or deleting beta's ids answers
the door's own not-found or forbidden error, never the object; and afterwards beta's objects
are as they were. The doors: the native API, UCloud, ZStack (session and access key),
ModelArts (IAM token and AK/SK, through `huaweicloudsdkcore`), TI-ONE (through Tencent's
SDK) and the gateway (service keys, the OpenAI front by name).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmodelarts.v1 import ModelArtsClient
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tests.security.conftest import (
    HTTP_SERVER,
    Server,
    Tenant,
    eventually,
    settings_for,
    tenant,
    thread_server,
    tione_client,
)
from ucloud.client import Client as UCloudClient
from ucloud.core.exc import RetCodeException

from modelport.runtimes.catalog import BUILTIN

NOTES = "private notes"  # in every service's description: no error shows another's


@dataclass
class Side:
    """A tenant and what it owns."""

    t: Tenant
    model: str = ""
    runtime: str = ""  # id
    runtime_name: str = ""
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name
    keys: dict[str, str] = field(default_factory=dict)  # service name → service key

    def svc(self, name: str) -> dict[str, Any]:
        return self.services[name]

    @property
    def ids(self) -> set[str]:
        return {s["id"] for s in self.services.values()}


@dataclass
class World:
    server: Server
    http: httpx.Client
    a: Side
    b: Side

    def api(self, side: Side, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(
            method, f"{self.server.url}/api/v1{path}", headers=side.t.auth, **kwargs
        )


def _own(world_http: httpx.Client, server: Server, t: Tenant) -> Side:
    side = Side(t)
    api = f"{server.url}/api/v1"

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = world_http.post(f"{api}{path}", json=body, headers=t.auth)
        assert r.status_code == 201, r.text
        answer: dict[str, Any] = r.json()
        return answer

    side.model = post("/models", {"name": f"model-{t.name}"})["id"]
    rt = post("/runtimes", {"name": f"rt-{t.name}", "command": HTTP_SERVER})
    side.runtime, side.runtime_name = rt["id"], rt["name"]
    deployment = {"runtime": "command", "command": HTTP_SERVER, "replicas": 0}
    for name, auth in (("chat", True), (f"only-{t.name}", True), ("open-chat", False)):
        body = {
            "name": name,
            "deployments": [deployment],
            "auth": auth,
            "description": f"{t.name} {NOTES}",
        }
        side.services[name] = post("/services", body)
        key = world_http.get(f"{api}/services/{side.services[name]['id']}/key", headers=t.auth)
        side.keys[name] = key.json()["key"]
    return side


@pytest.fixture(scope="module")
def world(module_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("isolation") / "home"
    with thread_server(settings_for(home, module_database)) as server, httpx.Client() as http:
        a = _own(http, server, tenant(http, server, "alpha"))
        b = _own(http, server, tenant(http, server, "beta"))
        yield World(server, http, a, b)


def _unchanged(world: World) -> None:
    """Beta's services as beta sees them: still there, running, as made, keys as they were."""
    for name, made in world.b.services.items():
        now = world.api(world.b, "GET", f"/services/{made['id']}").json()
        assert (now["revision"], now["desired_state"]) == (made["revision"], "running"), name
        assert now["description"] == f"beta {NOTES}"
        assert [d["replicas"] for d in now["deployments"]] == [0]
        key = world.api(world.b, "GET", f"/services/{made['id']}/key").json()["key"]
        assert key == world.b.keys[name]
    assert world.api(world.b, "GET", f"/models/{world.b.model}").status_code == 200


# -- the native API --------------------------------------------------------------------------


def test_native_lists_show_only_the_own_project(world: World) -> None:
    for side in (world.a, world.b):
        services = world.api(side, "GET", "/services").json()["data"]
        assert {s["id"] for s in services} == side.ids
        models = world.api(side, "GET", "/models").json()["data"]
        assert [m["id"] for m in models] == [side.model]
        runtimes = {r["id"] for r in world.api(side, "GET", "/runtimes?limit=100").json()["data"]}
        assert runtimes == {rt.id for rt in BUILTIN} | {side.runtime}
        events = world.api(side, "GET", "/events?limit=500").json()["data"]
        assert events and {e["service_id"] for e in events} <= side.ids
        keys = world.api(side, "GET", "/access-keys").json()["data"]
        assert [k["access_key_id"] for k in keys] == [side.t.access_key_id]
        projects = world.api(side, "GET", "/projects").json()["data"]
        assert [p["id"] for p in projects] == [side.t.project_id]
    # a filter naming the other project's objects finds nothing
    theirs = world.b.svc("chat")["id"]
    assert world.api(world.a, "GET", f"/services?id={theirs}").json()["total"] == 0
    assert world.api(world.a, "GET", f"/events?service_id={theirs}").json()["total"] == 0
    assert (
        world.api(world.a, "GET", "/services?name=chat").json()["data"][0]["id"]
        == (world.a.svc("chat")["id"])
    )
    # the installation's admin acts in its own project too
    admin = {"Authorization": f"Bearer {world.server.admin_key}"}
    listed = world.http.get(f"{world.server.url}/api/v1/services", headers=admin).json()
    assert listed["total"] == 0
    r = world.http.get(f"{world.server.url}/api/v1/services/{theirs}", headers=admin)
    assert r.status_code == 404


def test_native_doors_to_the_other_project_answer_not_found(world: World) -> None:
    svc = world.b.svc(f"only-{world.b.t.name}")
    sid, dep = svc["id"], svc["deployments"][0]["id"]
    new_deployment = {"runtime": "command", "command": HTTP_SERVER, "replicas": 1}
    doors: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/services/{sid}", None),
        ("PATCH", f"/services/{sid}", {"description": "mine now"}),
        ("POST", f"/services/{sid}/scale", {"replicas": 3}),
        ("POST", f"/services/{sid}/weights", {"weights": {dep: 10}}),
        ("POST", f"/services/{sid}/deployments", new_deployment),
        ("PATCH", f"/services/{sid}/deployments/{dep}", {"env": {"X": "1"}}),
        ("DELETE", f"/services/{sid}/deployments/{dep}", None),
        ("POST", f"/services/{sid}/stop", None),
        ("POST", f"/services/{sid}/start", None),
        ("GET", f"/services/{sid}/key", None),
        ("POST", f"/services/{sid}/key/rotate", None),
        ("GET", f"/services/{sid}/replicas", None),
        ("GET", f"/services/{sid}/logs", None),
        ("GET", f"/services/{sid}/stats", None),
        ("GET", f"/services/{sid}/events", None),
        ("DELETE", f"/services/{sid}", None),
        ("GET", f"/models/{world.b.model}", None),
        ("DELETE", f"/models/{world.b.model}", None),
        ("GET", f"/runtimes/{world.b.runtime}", None),
        ("GET", f"/runtimes/{world.b.runtime_name}", None),
        ("DELETE", f"/access-keys/{world.b.t.access_key_id}", None),
    ]
    for method, path, body in doors:
        r = world.api(world.a, method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "not_found", (method, path)
        assert NOTES not in r.text, (method, path)  # never the object (its description)
    # credentials in the other project: forbidden, whether it exists or not
    for target in (world.b.t.project_id, "prj-nosuchthing"):
        r = world.api(world.a, "POST", "/access-keys", json={"project_id": target})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
        body = {"name": "mallory", "password": "long-enough", "project_id": target}
        r = world.api(world.a, "POST", "/users", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    # a service deployed from the other project's model or runtime is refused
    for deployment in (
        {"model_id": world.b.model, "runtime": "command", "command": HTTP_SERVER},
        {"runtime": world.b.runtime, "replicas": 0},
        {"runtime": world.b.runtime_name, "replicas": 0},
    ):
        body = {"name": "borrowed", "deployments": [deployment]}
        r = world.api(world.a, "POST", "/services", json=body)
        assert r.status_code in (400, 404), r.text
    assert world.api(world.a, "GET", "/services?name=borrowed").json()["total"] == 0
    _unchanged(world)


# -- UCloud ----------------------------------------------------------------------------------


def _ucloud(world: World, side: Side) -> UCloudClient:
    return UCloudClient(
        {
            "base_url": world.server.url,
            "public_key": side.t.access_key_id,
            "private_key": side.t.access_key_secret,
            "region": "cn-wlcb",
            "max_retries": 0,
        }
    )


def test_ucloud_shows_only_the_key_s_project(world: World) -> None:
    client = _ucloud(world, world.a)
    answer = client.invoke("GetUMInferService", {"Limit": 100})
    assert {d["UminferID"] for d in answer["Data"]} == world.a.ids
    assert {d["Key"] for d in answer["Data"]} == set(world.a.keys.values())
    theirs = world.b.svc("chat")["id"]
    assert client.invoke("GetUMInferService", {"UminferID": theirs})["Data"] == []
    with pytest.raises(RetCodeException) as err:
        client.invoke("GetUMInferService", {"ProjectId": world.b.t.project_id})
    assert err.value.code == 292
    # beta's key, alpha's project id: the same refusal
    with pytest.raises(RetCodeException) as err:
        _ucloud(world, world.b).invoke("GetUMInferService", {"ProjectId": world.a.t.project_id})
    assert err.value.code == 292


# -- ZStack ----------------------------------------------------------------------------------


def _zstack_session(world: World, side: Side) -> str:
    digest = hashlib.sha512(side.t.password.encode()).hexdigest()
    body = {"logInByAccount": {"accountName": side.t.user, "password": digest}}
    r = world.http.put(f"{world.server.url}/zstack/v1/accounts/login", json=body)
    assert r.status_code == 200, r.text
    inventory = r.json()["inventory"]
    assert inventory["accountUuid"] == side.t.project_id
    return str(inventory["uuid"])


def test_zstack_shows_only_the_session_s_project(world: World) -> None:
    url = f"{world.server.url}/zstack/v1/ai/model-services"
    auth = {"Authorization": f"OAuth {_zstack_session(world, world.a)}"}
    names = {i["name"] for i in world.http.get(url, headers=auth).json()["inventories"]}
    assert names == {rt.name for rt in BUILTIN} | {world.a.runtime_name}
    for r in (
        world.http.get(f"{url}/{world.b.runtime}", headers=auth),
        world.http.get(url, params={"q": f"uuid={world.b.runtime}"}, headers=auth),
        world.http.get(url, params={"q": f"name={world.b.runtime_name}"}, headers=auth),
    ):
        assert (r.status_code, r.json()["inventories"]) == (200, [])
    # beta's session sees beta's
    theirs = {"Authorization": f"OAuth {_zstack_session(world, world.b)}"}
    found = world.http.get(f"{url}/{world.b.runtime}", headers=theirs).json()["inventories"]
    assert [i["uuid"] for i in found] == [world.b.runtime]


def test_zstack_access_key_shows_only_the_key_s_project(world: World) -> None:
    def signed(path: str) -> dict[str, str]:
        date = email.utils.format_datetime(datetime.now(UTC), usegmt=True)
        text = f"GET\n{date}\n{path}".encode()
        mac = hmac.new(world.a.t.access_key_secret.encode(), text, hashlib.sha1).digest()
        sig = base64.b64encode(mac).decode()
        return {"Authorization": f"ZStack {world.a.t.access_key_id}:{sig}", "Date": date}

    base = f"{world.server.url}/zstack"
    listing = "/v1/ai/model-services"
    found = world.http.get(base + listing, headers=signed(listing)).json()["inventories"]
    assert {i["uuid"] for i in found} == {rt.id for rt in BUILTIN} | {world.a.runtime}
    one = f"{listing}/{world.b.runtime}"
    assert world.http.get(base + one, headers=signed(one)).json() == {"inventories": []}


# -- ModelArts -------------------------------------------------------------------------------


def _iam_token(world: World, side: Side, scope: dict[str, Any] | None = None) -> httpx.Response:
    identity = {
        "methods": ["password"],
        "password": {"user": {"name": side.t.user, "password": side.t.password}},
    }
    auth: dict[str, Any] = {"identity": identity}
    if scope is not None:
        auth["scope"] = scope
    return world.http.post(f"{world.server.url}/v3/auth/tokens", json={"auth": auth})


def _modelarts_error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error_code"]


def test_modelarts_token_sees_only_its_project(world: World) -> None:
    issued = _iam_token(world, world.a)
    assert issued.status_code == 201
    token = issued.headers["X-Subject-Token"]
    assert issued.json()["token"]["project"]["id"] == world.a.t.project_id
    auth = {"X-Auth-Token": token}
    mine, theirs = world.a.t.project_id, world.b.t.project_id
    base = world.server.url
    listed = world.http.get(f"{base}/v1/{mine}/services", headers=auth).json()
    assert {s["service_id"] for s in listed["services"]} == world.a.ids
    maas = "/maas/services/custom-endpoint/services/cn-southwest-2"
    listed = world.http.get(f"{base}/v1/{mine}{maas}", headers=auth).json()
    assert {s["id"] for s in listed["data"]} == world.a.ids
    sid = world.b.svc("chat")["id"]
    r = world.http.get(f"{base}/v1/{mine}/services/{sid}", headers=auth)
    assert _modelarts_error(r) == (404, "ModelArts.3502")
    assert NOTES not in r.text
    for path in (f"/v1/{theirs}/services", f"/v1/{theirs}/services/{sid}", f"/v1/{theirs}{maas}"):
        r = world.http.get(base + path, headers=auth)
        assert _modelarts_error(r) == (403, "ModelArts.0210"), path
    # a token scoped to the other project is not issued
    scoped = _iam_token(world, world.a, {"project": {"id": theirs}})
    assert scoped.status_code == 401 and "X-Subject-Token" not in scoped.headers
    # nor does alpha's token validate beta's
    their_token = _iam_token(world, world.b).headers["X-Subject-Token"]
    r = world.http.get(f"{base}/v3/auth/tokens", headers={**auth, "X-Subject-Token": their_token})
    assert r.status_code == 404 and their_token not in r.text


def test_modelarts_access_key_sees_only_its_project(world: World) -> None:
    clients: list[Any] = []

    def sdk(project: str) -> Any:
        creds = BasicCredentials(world.a.t.access_key_id, world.a.t.access_key_secret, project)
        builder = ModelArtsClient.new_builder().with_credentials(creds)
        clients.append(builder.with_endpoint(world.server.url).build())
        return clients[-1]

    def get(client: Any, path: str, **params: str) -> Any:
        return client.do_http_request(
            method="GET",
            resource_path=path,
            path_params=params,
            query_params=[],
            header_params={},
            response_type="ShowInferServiceResponse",
        )

    try:
        mine = sdk(world.a.t.project_id)
        listed = json.loads(get(mine, "/v1/{project_id}/services").raw_content)
        assert {s["service_id"] for s in listed["services"]} == world.a.ids
        sid = world.b.svc("chat")["id"]
        with pytest.raises(ClientRequestException) as err:
            get(mine, "/v1/{project_id}/services/{service_id}", service_id=sid)
        assert (err.value.status_code, err.value.error_code) == (404, "ModelArts.3502")
        with pytest.raises(ClientRequestException) as err:
            get(sdk(world.b.t.project_id), "/v1/{project_id}/services")
        assert (err.value.status_code, err.value.error_code) == (403, "ModelArts.0210")
    finally:
        for client in clients:
            client.get_http_client().close()


# -- TI-ONE ----------------------------------------------------------------------------------


@pytest.fixture
def tione(world: World) -> Iterator[CommonClient]:
    key = world.a.t
    with tione_client(world.server.url, key.access_key_id, key.access_key_secret) as client:
        yield client


def test_tione_actions_on_the_other_project_are_resource_not_found(
    world: World, tione: CommonClient
) -> None:
    groups = tione.call_json("DescribeModelServiceGroups", {"Limit": 100})["Response"]
    assert {g["ServiceGroupId"] for g in groups["ServiceGroups"]} == world.a.ids
    assert groups["GlobalTotalCount"] == len(world.a.ids)
    svc = world.b.svc(f"only-{world.b.t.name}")
    gid, dep = svc["id"], svc["deployments"][0]["id"]
    image = {"ImageType": "PRESET", "ImageUrl": "command"}
    attempts: list[tuple[str, dict[str, Any], str]] = [
        ("DescribeModelServiceGroup", {"ServiceGroupId": gid}, "ResourceNotFound"),
        ("DescribeModelService", {"ServiceId": dep}, "ResourceNotFound"),
        ("DescribeModelServiceCallInfo", {"ServiceGroupId": gid}, "ResourceNotFound"),
        ("ModifyModelService", {"ServiceId": dep, "ServiceAction": "STOP"}, "ResourceNotFound"),
        ("ModifyModelService", {"ServiceId": dep, "Replicas": 2}, "ResourceNotFound"),
        (
            "ModifyServiceGroupWeights",
            {"ServiceGroupId": gid, "Weights": [{"ServiceId": dep, "Weight": 0}]},
            "ResourceNotFound",
        ),
        (
            "CreateModelService",
            {"ServiceGroupId": gid, "ImageInfo": image, "Command": "sleep 60"},
            "ResourceNotFound",
        ),
        (
            "CreateModelService",
            {"ServiceGroupName": "borrowed", "ModelInfo": {"ModelId": world.b.model}},
            "ResourceNotFound.NoModel",
        ),
        ("DeleteModelService", {"ServiceId": dep}, "ResourceNotFound"),
        ("DeleteModelServiceGroup", {"ServiceGroupId": gid}, "ResourceNotFound"),
    ]
    for action, body, code in attempts:
        with pytest.raises(TencentCloudSDKException) as err:
            tione.call_json(action, body)
        assert err.value.code == code, (action, body, err.value.message)
        assert NOTES not in (err.value.message or ""), action
    _unchanged(world)


# -- the gateway -----------------------------------------------------------------------------


def _gateway(world: World, method: str, path: str, key: str = "", **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return world.http.request(method, f"{world.server.gateway}{path}", headers=headers, **kw)


def _routed_to(r: httpx.Response) -> str:
    """The service a call was routed to: none has a ready replica, and the 503 names it."""
    assert r.status_code == 503, r.text
    message: str = r.json()["error"]["message"]
    return message.split()[1]


def test_a_service_key_opens_its_own_service_only(world: World) -> None:
    mine, theirs = world.a.svc("chat")["id"], world.b.svc("chat")["id"]
    eventually(
        lambda: _gateway(world, "GET", f"/services/{theirs}/x").status_code != 404,
        "the gateway's routes",
    )
    assert _routed_to(_gateway(world, "GET", f"/services/{mine}/x", world.a.keys["chat"])) == mine
    for key in (*world.a.keys.values(), world.a.t.api_key, world.a.t.access_key_secret, ""):
        r = _gateway(world, "GET", f"/services/{theirs}/x", key)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "unauthorized"
    assert _routed_to(_gateway(world, "GET", f"/services/{theirs}/x", world.b.keys["chat"])) == (
        theirs
    )


def test_the_openai_front_never_crosses_projects(world: World) -> None:
    eventually(
        lambda: len(_gateway(world, "GET", "/v1/models").json()["data"]) == 2,
        "the gateway's routes",
    )

    def call(model: str, key: str = "") -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return _gateway(world, "POST", "/v1/chat/completions", key, json=body)

    a, b = world.a, world.b
    # the same name in both projects: the key picks the project
    assert _routed_to(call("chat", a.keys["chat"])) == a.svc("chat")["id"]
    assert _routed_to(call("chat", b.keys["chat"])) == b.svc("chat")["id"]
    # a key of another of alpha's services does not open alpha's `chat`, nor beta's
    r = call("chat", a.keys["only-alpha"])
    assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_api_key")
    assert b.svc("chat")["id"] not in r.text
    # services without auth: a key of the project picks its own
    for side, key in ((a, a.keys["only-alpha"]), (b, b.keys["chat"]), (a, a.keys["open-chat"])):
        assert _routed_to(call("open-chat", key)) == side.svc("open-chat")["id"]
    # no key, or one of no service: two projects have one; no guess
    for key in ("", "sk_nobody"):
        r = call("open-chat", key)
        assert (r.status_code, r.json()["error"]["param"]) == (400, "model")
        assert a.svc("open-chat")["id"] not in r.text and b.svc("open-chat")["id"] not in r.text
    # /v1/models lists what the key reaches
    for side in (a, b):
        listed = _gateway(world, "GET", "/v1/models", side.keys["chat"]).json()["data"]
        assert sorted(m["id"] for m in listed) == ["chat", "open-chat"]
        assert {m["owned_by"] for m in listed} == {side.t.project_id}
    anonymous = _gateway(world, "GET", "/v1/models").json()["data"]
    assert sorted((m["id"], m["owned_by"]) for m in anonymous) == sorted(
        ("open-chat", side.t.project_id) for side in (a, b)
    )


def test_nothing_of_beta_changed(world: World) -> None:
    """Last: every door above left beta's services, keys and model as they were."""
    _unchanged(world)
