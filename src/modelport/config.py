"""Settings, built once at the edge (the CLI / `server.build`) and passed down.

Every field is read from `MODELPORT_<NAME>` environment variables; `docs/configuration.md`
documents each one (a test keeps the two in sync). Nothing here runs at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    home: Path = Field(
        default=Path("~/.modelport"),
        description="Data directory: SQLite database, replica logs, credentials, secret key.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default SQLite in `home`. "
        "`postgresql://user@host/db` uses asyncpg.",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=8080, description="Port `serve` listens on.")
    gateway_port: int = Field(
        default=8081, description="Port the gateway (the data plane: service calls) listens on."
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL callers use to reach the gateway; default http://HOST:GATEWAY_PORT.",
    )
    gateway_max_body: int = Field(
        default=64 * 1024 * 1024,
        description="Largest request body the gateway accepts, bytes (larger: 413).",
    )
    gateway_attempts: int = Field(
        default=3, ge=1, description="Replicas one call may be tried on (retries + 1)."
    )
    gateway_workers: int = Field(
        default=2, ge=1, description="Worker processes of `modelport gateway`."
    )
    gateway_batch_scheduling: bool = Field(
        default=True,
        description="Run the gateway under Linux's SCHED_BATCH policy, so that on a busy "
        "core it relays calls in batches instead of preempting replicas for each one.",
    )
    gateway_poll_interval: float = Field(
        default=0.25,
        description="Seconds between a separate gateway's checks for routing changes.",
    )
    gateway_cold_start_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds the gateway holds a call to a service scaled to zero while a "
        "replica starts; then 503.",
    )
    autoscale_window: float = Field(
        default=10.0,
        gt=0,
        description="Seconds of the gateways' load (requests in flight) the autoscaler averages.",
    )
    drain_delay: float = Field(
        default=1.0,
        description="Seconds a ready replica stays up after leaving rotation before it is "
        "stopped, so gateways stop routing to it first.",
    )
    replica_host: str = Field(default="127.0.0.1", description="Address local replicas listen on.")
    secret_key: str | None = Field(
        default=None,
        description="Fernet key encrypting secrets at rest; default: `home/secret.key`, "
        "created on first start.",
    )
    api_key: str | None = Field(
        default=None, description="API key the CLI sends; default: read from `home/credentials`."
    )
    url: str | None = Field(
        default=None, description="URL of the server the CLI talks to; default http://HOST:PORT."
    )
    resync_interval: float = Field(
        default=2.0, description="Seconds between full reconcile passes when nothing changes."
    )
    probe_interval: float = Field(
        default=0.25, description="Seconds between passes while replicas are starting."
    )
    probe_timeout: float = Field(default=2.0, description="Readiness probe timeout, seconds.")
    start_timeout: float = Field(
        default=300.0, description="Seconds a replica may take to become ready before it fails."
    )
    unhealthy_timeout: float = Field(
        default=30.0,
        description="Seconds a ready replica may fail its health probe before it is replaced.",
    )
    backoff_base: float = Field(
        default=1.0, description="First restart delay after a replica fails, seconds."
    )
    backoff_max: float = Field(default=60.0, description="Cap of the restart delay, seconds.")
    capacity_cpu: float | None = Field(
        default=None, description="CPU cores the local backend may place; default: all."
    )
    capacity_memory: int | None = Field(
        default=None, description="Memory (MiB) the local backend may place; default: all RAM."
    )
    capacity_gpu: int | None = Field(
        default=None, description="GPUs the local backend may place; default: detected."
    )
    log_level: str = Field(default="info", description="Log level of `serve`.")

    # -- failed password logins (ZStack login, IAM tokens): `services.throttle`
    login_max_failures: int = Field(
        default=5,
        ge=0,
        description="Failed logins of one account from one client address, within "
        "`MODELPORT_LOGIN_WINDOW`, that lock that account out for that address (10 times as "
        "many over any accounts lock the address out); 0: no throttling.",
    )
    login_window: float = Field(
        default=300.0, gt=0, description="Seconds over which failed logins are counted."
    )
    login_lockout: float = Field(
        default=300.0,
        ge=0,
        description="Seconds a locked-out account (for that address) or address is refused.",
    )

    # -- request size limits (the API's port: native API and dialects; the gateway's port)
    api_max_body: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Largest request body the native API and the dialects accept, bytes "
        "(larger: 413 in the door's own error shape).",
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request line plus headers, bytes, on the API's port (larger: "
        "400 and the connection is closed) and on the gateway's (larger: 431).",
    )
    demo: bool = Field(
        default=False,
        description="At start, train and deploy the iris demo service if absent (`serve --demo`).",
    )

    @property
    def data_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modelport.db'}"

    @property
    def gateway_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.gateway_port}").rstrip("/")

    @property
    def server_url(self) -> str:
        return self.url or f"http://{self.host}:{self.port}"
