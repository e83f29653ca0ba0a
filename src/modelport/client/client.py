"""`Client`: a small synchronous client of the native API (`/api/v1`) and the gateway.

Owns the wire conversation with a Modelport server: one method per API operation, each
returning the answer's JSON as plain dicts, and `ApiError` for every answer that is not 2xx
(parsed from the error envelope `{"error": {"code", "message", "details"}}`). httpx errors are
translated here, once. Called by the CLI (`modelport.cli`) and by users' scripts.

Instances wrap one `httpx.Client` and are not thread-safe; use one per thread.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

JSON = dict[str, Any]
FilterValue = str | int | float | bool | Sequence[str]
ProgressCallback = Callable[[JSON], None]

API_PREFIX = "/api/v1"
CREDENTIALS = "credentials"
DEFAULT_TIMEOUT = 30.0


class ClientSettings(Protocol):
    """What `Client.from_settings` reads; `modelport.config.Settings` has it.

    A protocol rather than an import, so that the client (which `import modelport` loads)
    does not depend on settings (see `.importlinter`).
    """

    @property
    def url(self) -> str | None: ...

    @property
    def api_key(self) -> str | None: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def data_dir(self) -> Path: ...


class ApiError(Exception):
    """A call that did not succeed: a non-2xx answer, or no answer at all.

    `status` is the HTTP status, or 0 when no HTTP answer came (server unreachable, timed out,
    a wait that ended without success). `code` is the envelope's code (`invalid`,
    `not_found`, …); `http_error` when the answer carried no envelope, `unreachable`,
    `timeout`, `service_failed` for the client's own cases.
    """

    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ApiError(status={self.status}, code={self.code!r}, message={self.message!r})"

    def envelope(self) -> JSON:
        """The error in the API's own envelope shape."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class WaitTimeout(ApiError, TimeoutError):
    """`wait_ready` reached its deadline; `details` holds the last status and reason."""


def _from_response(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        details = err.get("details")
        return ApiError(
            response.status_code,
            str(err.get("code", "http_error")),
            str(err.get("message", "")) or response.reason_phrase,
            details if isinstance(details, dict) else {},
        )
    message = f"HTTP {response.status_code} {response.reason_phrase}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):  # the model servers'
        return ApiError(response.status_code, "http_error", f"{message}: {body['error']}", body)
    text = response.text.strip()
    if text:
        message = f"{message}: {text[:500]}"
    return ApiError(response.status_code, "http_error", message, {"body": text[:4000]})


def _drop_none(values: Mapping[str, Any]) -> JSON:
    return {k: v for k, v in values.items() if v is not None}


def _params(filters: Mapping[str, FilterValue | None]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
        else:
            out[key] = ",".join(value)
    return out


def read_credentials(home: Path) -> dict[str, str]:
    """`home/credentials` as written by `modelport serve`; `{}` when absent or unreadable."""
    path = home / CREDENTIALS
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


class Client:
    """Calls one Modelport server with one API key. See the module docstring."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self._service_urls: dict[str, str] = {}  # service id → its URL on the gateway
        self._clock = clock
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        )

    @classmethod
    def from_settings(
        cls,
        settings: ClientSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Client:
        """URL and key from settings (MODELPORT_URL / MODELPORT_API_KEY), else the
        credentials file in the data directory, else `http://HOST:PORT`.

        The credentials file's key is used only for the server it names, so a key for the
        local server is never sent to another one.
        """
        creds = read_credentials(settings.data_dir)
        default_url = f"http://{settings.host}:{settings.port}"
        url = settings.url or creds.get("url") or default_url
        api_key = settings.api_key
        if api_key is None and creds.get("url", default_url).rstrip("/") == url.rstrip("/"):
            api_key = creds.get("api_key")
        return cls(url, api_key, transport=transport, timeout=timeout)

    # -- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method, path, json=json_body, params=params, headers=headers
            )
        except httpx.ConnectError as exc:
            raise ApiError(
                0,
                "unreachable",
                f"cannot connect to the Modelport server at {self.url}: is `modelport serve` "
                "running there?",
                {"url": self.url},
            ) from exc
        except httpx.TimeoutException as exc:
            raise ApiError(
                0, "timeout", f"{method} {self.url}{path} timed out", {"url": self.url}
            ) from exc
        except httpx.HTTPError as exc:
            raise ApiError(
                0, "transport", f"{method} {self.url}{path} failed: {exc}", {"url": self.url}
            ) from exc
        if not response.is_success:
            raise _from_response(response)
        return response

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> JSON:
        response = self._send(method, API_PREFIX + path, json_body=json_body, params=params)
        body: Any = response.json()
        if not isinstance(body, dict):
            raise ApiError(response.status_code, "http_error", "the answer is not a JSON object")
        return body

    # -- system -----------------------------------------------------------------------------
    def health(self) -> JSON:
        return self._call("GET", "/healthz")

    # -- models -----------------------------------------------------------------------------
    def register_model(
        self,
        path: str | os.PathLike[str] | None,
        name: str,
        framework: str | None = None,
        version: str = "1",
        description: str = "",
    ) -> JSON:
        """Register the artifact at `path` (sent as an absolute path; the server reads it).

        `path=None` registers a model without an artifact (a custom runtime's).
        """
        uri = str(Path(path).expanduser().resolve()) if path is not None else None
        body = _drop_none(
            {
                "name": name,
                "uri": uri,
                "framework": framework,
                "version": version,
                "description": description,
            }
        )
        return self._call("POST", "/models", json_body=body)

    def list_models(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        sort: str | None = None,
        **filters: FilterValue | None,
    ) -> JSON:
        params = _params({"limit": limit, "offset": offset, "sort": sort, **filters})
        return self._call("GET", "/models", params=params)

    def get_model(self, model_id: str) -> JSON:
        return self._call("GET", f"/models/{model_id}")

    def delete_model(self, model_id: str) -> None:
        self._send("DELETE", f"{API_PREFIX}/models/{model_id}")

    # -- runtimes ---------------------------------------------------------------------------
    def list_runtimes(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        sort: str | None = None,
        **filters: FilterValue | None,
    ) -> JSON:
        params = _params({"limit": limit, "offset": offset, "sort": sort, **filters})
        return self._call("GET", "/runtimes", params=params)

    def get_runtime(self, ref: str) -> JSON:
        return self._call("GET", f"/runtimes/{ref}")

    def create_runtime(
        self,
        name: str,
        command: Sequence[str],
        *,
        health_path: str = "/",
        framework: str = "custom",
        env: Mapping[str, str] | None = None,
        request_cpu: float = 0.5,
        request_memory: int = 256,
        gpu: int = 0,
        readme: str = "",
    ) -> JSON:
        body = {
            "name": name,
            "command": list(command),
            "health_path": health_path,
            "framework": framework,
            "env": dict(env or {}),
            "request_cpu": request_cpu,
            "request_memory": request_memory,
            "gpu": gpu,
            "readme": readme,
        }
        return self._call("POST", "/runtimes", json_body=body)

    # -- services ---------------------------------------------------------------------------
    def create_service(
        self,
        name: str,
        deployments: Sequence[Mapping[str, Any]],
        description: str = "",
        tags: Mapping[str, str] | None = None,
        auth: bool = True,
        lb_policy: str = "ROUND_ROBIN",
        traffic: Mapping[str, Any] | None = None,
    ) -> JSON:
        """`traffic`: `{"timeout", "rate_limit", "max_concurrency", "retry"}`, any left out
        taking the server's defaults; None for the default policy."""
        body = {
            "name": name,
            "description": description,
            "tags": dict(tags or {}),
            "auth": auth,
            "lb_policy": lb_policy,
            "deployments": [dict(d) for d in deployments],
        }
        if traffic is not None:
            body["traffic"] = dict(traffic)
        return self._call("POST", "/services", json_body=body)

    def deploy(
        self,
        model_id: str | None,
        name: str,
        replicas: int = 1,
        runtime: str | None = None,
        cpu: float | None = None,
        memory: int | None = None,
        gpu: int | None = None,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        auth: bool = True,
        traffic: Mapping[str, Any] | None = None,
    ) -> JSON:
        """A service with one deployment of `model_id` (None for a custom command);
        `traffic` as for `create_service`."""
        deployment = _drop_none(
            {
                "model_id": model_id,
                "runtime": runtime,
                "replicas": replicas,
                "cpu": cpu,
                "memory": memory,
                "gpu": gpu,
                "env": dict(env) if env else None,
                "command": list(command) if command is not None else None,
            }
        )
        return self.create_service(name, [deployment], auth=auth, traffic=traffic)

    def list_services(
        self,
        limit: int = 100,
        offset: int = 0,
        sort: str | None = None,
        **filters: FilterValue | None,
    ) -> JSON:
        params = _params({"limit": limit, "offset": offset, "sort": sort, **filters})
        return self._call("GET", "/services", params=params)

    def get_service(self, service_id: str) -> JSON:
        return self._call("GET", f"/services/{service_id}")

    def update_service(
        self,
        service_id: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        revision: int | None = None,
        *,
        lb_policy: str | None = None,
        auth: bool | None = None,
        traffic: Mapping[str, Any] | None = None,
    ) -> JSON:
        """Change the fields given; the others are left as they are. `tags` replaces every
        tag and `traffic` the whole policy (its fields left out take the defaults)."""
        body = _drop_none(
            {
                "description": description,
                "tags": dict(tags) if tags is not None else None,
                "revision": revision,
                "lb_policy": lb_policy,
                "auth": auth,
                "traffic": dict(traffic) if traffic is not None else None,
            }
        )
        return self._call("PATCH", f"/services/{service_id}", json_body=body)

    def scale(
        self,
        service_id: str,
        replicas: int,
        deployment_id: str | None = None,
        *,
        revision: int | None = None,
    ) -> JSON:
        body = _drop_none(
            {"replicas": replicas, "deployment_id": deployment_id, "revision": revision}
        )
        return self._call("POST", f"/services/{service_id}/scale", json_body=body)

    def set_weights(
        self, service_id: str, weights: Mapping[str, int], *, revision: int | None = None
    ) -> JSON:
        """Shift traffic: deployment id → weight (0-100); the others keep theirs."""
        body = _drop_none({"weights": dict(weights), "revision": revision})
        return self._call("POST", f"/services/{service_id}/weights", json_body=body)

    def add_deployment(self, service_id: str, deployment: Mapping[str, Any]) -> JSON:
        """Add a deployment (`model_id`, `replicas`, `weight`, …) to the service."""
        return self._call("POST", f"/services/{service_id}/deployments", json_body=dict(deployment))

    def update_deployment(
        self,
        service_id: str,
        deployment_id: str,
        changes: Mapping[str, Any],
        *,
        revision: int | None = None,
    ) -> JSON:
        """Change a deployment (`model_id`, `env`, `cpu`, …); a new spec rolls its replicas
        over, and the controller rolls back if the new ones are not ready in time."""
        body = _drop_none({**changes, "revision": revision})
        path = f"/services/{service_id}/deployments/{deployment_id}"
        return self._call("PATCH", path, json_body=body)

    def remove_deployment(self, service_id: str, deployment_id: str) -> JSON:
        return self._call("DELETE", f"/services/{service_id}/deployments/{deployment_id}")

    def stop(self, service_id: str) -> JSON:
        return self._call("POST", f"/services/{service_id}/stop")

    def start(self, service_id: str) -> JSON:
        return self._call("POST", f"/services/{service_id}/start")

    def delete_service(self, service_id: str) -> JSON:
        """Ask for deletion; the answer shows `deleting` and the service goes away later."""
        return self._call("DELETE", f"/services/{service_id}")

    def service_key(self, service_id: str) -> JSON:
        return self._call("GET", f"/services/{service_id}/key")

    def rotate_key(self, service_id: str) -> JSON:
        return self._call("POST", f"/services/{service_id}/key/rotate")

    def replicas(self, service_id: str) -> JSON:
        return self._call("GET", f"/services/{service_id}/replicas")

    def events(self, service_id: str, limit: int = 100, offset: int = 0) -> JSON:
        params = _params({"limit": limit, "offset": offset})
        return self._call("GET", f"/services/{service_id}/events", params=params)

    def logs(self, service_id: str, replica: str | None = None, tail: int = 100) -> JSON:
        params = _params({"replica": replica, "tail": tail})
        return self._call("GET", f"/services/{service_id}/logs", params=params)

    def service_stats(self, service_id: str, minutes: int = 5) -> JSON:
        """Requests, failures, rate and p50/p99 latency over the last `minutes` (1-60), in
        total, per deployment and per minute."""
        params = _params({"minutes": minutes})
        return self._call("GET", f"/services/{service_id}/stats", params=params)

    # -- credentials ------------------------------------------------------------------------
    def create_project(self, name: str) -> JSON:
        """A new project and an admin API key of it, shown once: `{"project", "api_key"}`.

        Only the admin of the default project may create projects.
        """
        return self._call("POST", "/projects", json_body={"name": name})

    def list_projects(self) -> JSON:
        return self._call("GET", "/projects")

    def create_access_key(self, project_id: str | None = None, admin: bool = True) -> JSON:
        """An access key for the clouds' signed APIs: `{"access_key_id", "access_key_secret",
        "project_id"}`; the secret can be read back only here. In the caller's project unless
        `project_id` names another one (installation admin only)."""
        body = _drop_none({"project_id": project_id, "admin": admin})
        return self._call("POST", "/access-keys", json_body=body)

    def list_access_keys(self) -> JSON:
        return self._call("GET", "/access-keys")

    def delete_access_key(self, key_id: str) -> None:
        self._send("DELETE", f"{API_PREFIX}/access-keys/{key_id}")

    def create_user(
        self,
        name: str,
        password: str,
        project_id: str | None = None,
        admin: bool = False,
    ) -> JSON:
        """A user who logs in with `password` (the ZStack and IAM login APIs)."""
        body = _drop_none(
            {"name": name, "password": password, "project_id": project_id, "admin": admin}
        )
        return self._call("POST", "/users", json_body=body)

    # -- data plane -------------------------------------------------------------------------
    def invoke(
        self,
        service_id: str,
        path: str,
        json_body: Any = None,
        key: str | None = None,
        method: str = "POST",
    ) -> Any:
        """Call the service through the gateway, at its `url` (read once) + `/{path}`.

        Without `key`, the service key is fetched with `service_key`; a client without an
        API key, or one that may not read keys, calls without one (which works for services
        whose auth is off). Returns the decoded JSON when the model answers JSON, else the
        answer's text.
        """
        if key is None and self.api_key:
            try:
                key = self.service_key(service_id)["key"]
            except ApiError as exc:
                if exc.code != "forbidden":
                    raise
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = self._send(
            method.upper(),
            f"{self._service_url(service_id)}/{path.lstrip('/')}",
            json_body=json_body,
            headers=headers,
        )
        if "json" in response.headers.get("content-type", ""):
            try:
                return response.json()
            except ValueError:
                return response.text
        return response.text

    def _service_url(self, service_id: str) -> str:
        """The service's URL on the gateway: from the service (read once), or, without an API
        key, from where the server says its gateway is."""
        url = self._service_urls.get(service_id)
        if url is None:
            if self.api_key:
                url = str(self.get_service(service_id)["url"])
            else:
                gateway = self._call("GET", "/healthz")["gateway_url"]
                url = f"{gateway}/services/{service_id}"
            self._service_urls[service_id] = url
        return url

    # -- waiting ----------------------------------------------------------------------------
    def wait_ready(
        self,
        service_id: str,
        timeout: float = 300.0,
        on_progress: ProgressCallback | None = None,
        *,
        interval: float = 0.5,
    ) -> JSON:
        """Poll `get_service` until the service is `running` with every replica ready.

        Calls `on_progress(service)` after each poll. Raises `ApiError` (code
        `service_failed`) as soon as the service is `failed`, or when it is no longer meant to
        run (stopped or deleted meanwhile); raises `WaitTimeout` at the deadline. Keeps waiting
        through `pending`, `deploying` and `degraded`.
        """
        deadline = self._clock() + timeout
        while True:
            svc = self.get_service(service_id)
            if on_progress is not None:
                on_progress(svc)
            status = svc.get("status")
            reason = str(svc.get("status_reason") or "")
            details = {"service_id": service_id, "status": status, "reason": reason}
            if status == "running" and svc.get("ready_replicas", 0) >= svc.get("replicas", 0):
                return svc
            if status == "failed":
                message = f"service {service_id} failed: {reason or 'no reason given'}"
                raise ApiError(0, "service_failed", message, details)
            if svc.get("desired_state") not in (None, "running"):
                raise ApiError(
                    0,
                    "service_failed",
                    f"service {service_id} is {status} "
                    f"(desired state {svc.get('desired_state')}); it will not become running",
                    details,
                )
            remaining = deadline - self._clock()
            if remaining <= 0:
                shown = f"{status}: {reason}" if reason else str(status)
                raise WaitTimeout(
                    0,
                    "timeout",
                    f"service {service_id} not running after {timeout:g}s (last status {shown})",
                    details,
                )
            self._sleep(min(interval, remaining))
