"""The database shape: SQLAlchemy 2 typed tables. Only `store/` imports this module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, list[str]: JSON}


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class UserRow(Base):
    """A person who logs in (ZStack sessions, IAM tokens). `password_hash` is scrypt over the
    SHA-512 hex digest of the password, so both plain and pre-hashed (ZStack) logins verify."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class AccessKeyRow(Base):
    """An access key pair for request signatures; the secret is encrypted, not hashed, because
    verifying a signature needs it."""

    __tablename__ = "access_keys"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class SessionRow(Base):
    """A login session or token; only the SHA-256 of the token is stored."""

    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ServiceCountRow(Base):
    """How many services each (project, workspace, status) has, kept by database triggers
    (migration 0003) in the same transaction as every insert, delete and status change, so a
    list's total for a filter on workspace and status is a sum of a few rows, not a count of
    every matching service."""

    __tablename__ = "service_counts"
    project_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ServiceTagRow(Base):
    """Service tags, one row per key, so tag filters run in SQL on an index."""

    __tablename__ = "service_tags"
    __table_args__ = (Index("ix_service_tags_key_value", "key", "value"),)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[str] = mapped_column(String(64))
    framework: Mapped[str] = mapped_column(String(32), index=True)
    uri: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    revision: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": revision}


class RuntimeRow(Base):
    __tablename__ = "runtimes"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128), index=True)
    framework: Mapped[str] = mapped_column(String(32))
    command: Mapped[list[str]]
    health_path: Mapped[str] = mapped_column(String(256))
    env: Mapped[dict[str, Any]]
    request_cpu: Mapped[float] = mapped_column(Float)
    request_memory: Mapped[int] = mapped_column(Integer)
    gpu: Mapped[int] = mapped_column(Integer)
    supports_distributed: Mapped[bool] = mapped_column(Boolean)
    readme: Mapped[str] = mapped_column(Text)
    system: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(index=True)
    revision: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": revision}


class ServiceRow(Base):
    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        # filtered and sorted pages walk these in order (see store/compile.py)
        Index("ix_services_project_created", "project_id", "created_at", "id"),
        Index("ix_services_project_status", "project_id", "status", "created_at", "id"),
        # the dialects' lists always name a workspace
        Index(
            "ix_services_project_workspace_status",
            "project_id",
            "workspace",
            "status",
            "created_at",
            "id",
        ),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(128))
    workspace: Mapped[str] = mapped_column(String(64))
    infer_type: Mapped[str] = mapped_column(String(32))
    auth_type: Mapped[str] = mapped_column(String(16))
    lb_policy: Mapped[str] = mapped_column(String(32))
    tags: Mapped[dict[str, Any]]
    desired_state: Mapped[str] = mapped_column(String(16))
    key_ciphertext: Mapped[str] = mapped_column(Text)
    traffic: Mapped[dict[str, Any]]
    # derived by the controller; written without bumping `revision`
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer)
    invocation_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    stop_at: Mapped[datetime | None]
    stop_after: Mapped[float | None] = mapped_column(Float)
    transition_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": revision}


class DeploymentRow(Base):
    __tablename__ = "deployments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    model_id: Mapped[str | None] = mapped_column(String(32), index=True)
    runtime_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64))
    weight: Mapped[int] = mapped_column(Integer)
    replicas: Mapped[int] = mapped_column(Integer)
    cpu: Mapped[float] = mapped_column(Float)
    memory: Mapped[int] = mapped_column(Integer)
    gpu: Mapped[int] = mapped_column(Integer)
    env: Mapped[dict[str, Any]]
    command: Mapped[list[str] | None] = mapped_column(JSON)
    health_path: Mapped[str | None] = mapped_column(String(256))
    max_surge: Mapped[int] = mapped_column(Integer)
    max_unavailable: Mapped[int] = mapped_column(Integer)
    grace_period: Mapped[float] = mapped_column(Float)
    rollout_timeout: Mapped[float] = mapped_column(Float)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rollout_started_at: Mapped[datetime | None]
    autoscaling: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    schedules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scale_set_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text)
    ready_replicas: Mapped[int] = mapped_column(Integer)
    ever_ready: Mapped[bool] = mapped_column(Boolean)
    rollout: Mapped[str] = mapped_column(String(16))
    updated_replicas: Mapped[int] = mapped_column(Integer)
    target_replicas: Mapped[int | None] = mapped_column(Integer)
    invocation_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReplicaRow(Base):
    """A replica; it outlives its deployment's row (`deployment_id` becomes NULL) until the
    controller has stopped its process, so removing a deployment never leaves an orphan."""

    __tablename__ = "replicas"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL"), index=True
    )
    backend: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    node: Mapped[str] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(255))
    handle: Mapped[str | None] = mapped_column(String(255))
    restarts: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    next_start_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    unhealthy_at: Mapped[datetime | None]
    template: Mapped[str] = mapped_column(String(64))


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_service_at", "service_id", "at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    object_kind: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(32))
    service_id: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class RequestStatsRow(Base):
    """One gateway process's calls of one deployment in one minute, written at each flush.

    `buckets` counts latencies per bound of `gateway.stats.BOUNDS_MS` (the last is +Inf), so
    p50/p99 over any window are read from the sum of its rows. Rows older than an hour are
    deleted by the flush.
    """

    __tablename__ = "request_stats"
    __table_args__ = (Index("ix_request_stats_service_minute", "service_id", "minute"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(32))
    deployment_id: Mapped[str] = mapped_column(String(32))
    minute: Mapped[int] = mapped_column(Integer, index=True)  # Unix time // 60
    requests: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    buckets: Mapped[list[int]] = mapped_column(JSON)


class RoutingStateRow(Base):
    """One row: `generation` grows whenever the routing snapshot changes, so a separate gateway
    reloads routes only after a change (it polls this row, never per request)."""

    __tablename__ = "routing_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)


class LoadSampleRow(Base):
    """What one gateway process measured of one deployment between two of its flushes:
    `in_flight` is the mean of requests in flight over `span` seconds, `held` the most calls it
    held at once for want of a replica (scale from zero). A row with `deployment_id` "" is the
    gateway's heartbeat: it was there for `span` seconds, whatever it carried. The autoscaler
    reads the last window of rows; the flush deletes rows older than a few minutes."""

    __tablename__ = "load_samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gateway: Mapped[str] = mapped_column(String(128))
    deployment_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[float] = mapped_column(Float, index=True)  # Unix time of the flush
    span: Mapped[float] = mapped_column(Float)
    in_flight: Mapped[float] = mapped_column(Float)
    held: Mapped[int] = mapped_column(Integer)
