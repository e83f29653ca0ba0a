"""Deploy and operate services: create, read, list, update, scale, stop, start, delete, keys,
request stats.

`ServiceOps` holds what the use cases need (store, cipher, backend for logs, and `wake` to
nudge the controller after a change). Every change is one transaction that checks the
service's revision: a write based on a stale read is a `Conflict`, never a lost update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from modelport.backends.base import Backend
from modelport.domain.auth import Principal
from modelport.domain.errors import Conflict, Forbidden, Invalid, NotFound
from modelport.domain.events import Event, EventType
from modelport.domain.ids import DeploymentId, EventId, ServiceId, new_id
from modelport.domain.models import Framework
from modelport.domain.replicas import Replica
from modelport.domain.scaling import Autoscaling, ScaleJob, check_autoscaling, check_jobs
from modelport.domain.services import (
    AuthType,
    Deployment,
    DesiredState,
    LbPolicy,
    Service,
    Status,
    TrafficPolicy,
    template_of,
)
from modelport.query.ast import ListQuery
from modelport.runtimes.catalog import DEFAULT_RUNTIME
from modelport.services import stats as request_stats
from modelport.services import validate
from modelport.services.secrets import Cipher, new_token
from modelport.store import Store, Tx


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    model_id: str | None = None
    runtime: str | None = None  # id or name; default: the model framework's built-in
    replicas: int = 1
    cpu: float | None = None  # default: the runtime's request
    memory: int | None = None
    gpu: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    weight: int = 100
    command: list[str] | None = None
    health_path: str | None = None
    grace_period: float = 10.0
    max_surge: int = 1
    max_unavailable: int = 0
    rollout_timeout: float = 600.0
    autoscaling: Autoscaling | None = None
    schedules: Sequence[ScaleJob] = ()


@dataclass(frozen=True, slots=True)
class DeploymentPatch:
    """A change to one deployment; fields left None keep their value. Changing any field a
    replica is started from (`Deployment.replica_spec`) starts a rolling update."""

    model_id: str | None = None
    runtime: str | None = None
    cpu: float | None = None
    memory: int | None = None
    gpu: int | None = None
    env: dict[str, str] | None = None
    command: list[str] | None = None
    health_path: str | None = None
    grace_period: float | None = None
    max_surge: int | None = None
    max_unavailable: int | None = None
    rollout_timeout: float | None = None
    autoscaling: Autoscaling | None = None
    no_autoscaling: bool = False  # turn autoscaling off
    schedules: Sequence[ScaleJob] | None = None  # [] removes them


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    deployments: list[DeploymentSpec]
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    auth: bool = True
    lb_policy: LbPolicy = LbPolicy.ROUND_ROBIN
    workspace: str = "0"
    infer_type: str = "real-time"
    traffic: TrafficPolicy = field(default_factory=TrafficPolicy)
    stop_after: float | None = None  # seconds after each start (ModelArts `schedule`)
    stop_at: datetime | None = None  # once (TI-ONE `ScheduledAction`)


@dataclass(frozen=True, slots=True)
class ServicePatch:
    description: str | None = None
    tags: dict[str, str] | None = None
    lb_policy: LbPolicy | None = None
    auth: bool | None = None
    traffic: TrafficPolicy | None = None  # replaces the whole policy
    stop_after: float | None = None  # 0 turns auto stop off


MAX_STOP_AFTER = 366 * 86_400.0  # a year


def _stop_after(field: str, seconds: float | None) -> float | None:
    if seconds is None:
        return None
    if not 0 <= seconds <= MAX_STOP_AFTER:  # NaN fails too
        raise Invalid(field, f"seconds, between 0 and {MAX_STOP_AFTER:g} (0: never)")
    return seconds or None


def _stop_at(s: Service, now: datetime) -> datetime | None:
    """When a service started at `now` stops by itself."""
    return now + timedelta(seconds=s.stop_after) if s.stop_after else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


_V = TypeVar("_V")


def _given(value: _V | None, default: _V) -> _V:
    return default if value is None else value


class ServiceOps:
    def __init__(
        self,
        store: Store,
        cipher: Cipher,
        backend: Backend,
        wake: Callable[[], None],
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.backend = backend
        self.wake = wake
        self.clock = clock  # now: for records' times, auto stop and `stats`

    # -- create ------------------------------------------------------------------------------
    async def create(self, who: Principal, spec: ServiceSpec) -> Service:
        validate.name("name", spec.name)
        validate.text("description", spec.description)
        validate.tags("tags", spec.tags)
        validate.traffic("traffic", spec.traffic)
        if not spec.deployments:
            raise Invalid("deployments", "at least one deployment")
        if len(spec.deployments) > 8:
            raise Invalid("deployments", "at most 8 deployments")
        stop_after = _stop_after("stop_after", spec.stop_after)
        now = self.clock()
        if spec.stop_at is not None:
            if stop_after is not None:
                raise Invalid("stop_at", "give stop_at or stop_after, not both")
            if spec.stop_at.tzinfo is None or spec.stop_at <= now:
                raise Invalid("stop_at", "a time in the future, with its time zone")
        service_id = ServiceId(new_id("service"))
        async with self.store.write() as tx:
            deployments = tuple(
                [
                    await self._deployment(tx, who, service_id, f"deployments[{i}]", d, now)
                    for i, d in enumerate(spec.deployments)
                ]
            )
            svc = Service(
                id=service_id,
                project_id=who.project_id,
                name=spec.name,
                description=spec.description,
                owner=who.key_id,
                workspace=validate.text("workspace", spec.workspace, 64),
                infer_type=spec.infer_type,
                auth_type=AuthType.KEY if spec.auth else AuthType.NONE,
                lb_policy=spec.lb_policy,
                tags=dict(spec.tags),
                desired_state=DesiredState.RUNNING,
                deployments=deployments,
                traffic=spec.traffic,
                status=Status.DEPLOYING,
                stop_after=stop_after,
                created_at=now,
                updated_at=now,
            )
            svc = replace(svc, stop_at=spec.stop_at or _stop_at(svc, now))
            await tx.services.add(svc, self.cipher.encrypt(new_token("sk")))
            await _note(tx, svc, "Created", f"service created with {svc.desired_replicas} replicas")
            created = await tx.services.get(who.project_id, service_id)
        self.wake()
        return created

    async def _deployment(
        self,
        tx: Tx,
        who: Principal,
        service_id: ServiceId,
        path: str,
        d: DeploymentSpec,
        now: datetime,
    ) -> Deployment:
        model = await tx.models.get(who.project_id, d.model_id) if d.model_id else None
        ref = d.runtime or (DEFAULT_RUNTIME[model.framework] if model else "command")
        try:
            runtime = await tx.runtimes.get(who.project_id, ref)
        except NotFound as exc:
            raise Invalid(f"{path}.runtime", f"no runtime {ref!r}") from exc
        if runtime.framework != Framework.CUSTOM:
            if model is None:
                raise Invalid(f"{path}.model_id", f"runtime {runtime.name!r} needs a model")
            if model.framework != runtime.framework:
                raise Invalid(
                    f"{path}.runtime",
                    f"runtime {runtime.name!r} serves {runtime.framework} models, "
                    f"not {model.framework}",
                )
        command = d.command or None
        if not (command or runtime.command):
            raise Invalid(f"{path}.command", "the command runtime needs a command line")
        if command is not None and not all(isinstance(a, str) and a for a in command):
            raise Invalid(f"{path}.command", "a list of non-empty arguments")
        if d.health_path is not None and not d.health_path.startswith("/"):
            raise Invalid(f"{path}.health_path", "must start with '/'")
        if not 0 <= d.weight <= 100:
            raise Invalid(f"{path}.weight", "must be between 0 and 100")
        if d.max_surge == 0 and d.max_unavailable == 0:
            raise Invalid(f"{path}.max_surge", "max_surge or max_unavailable must be at least 1")
        autoscaling = d.autoscaling
        if autoscaling is not None:
            check_autoscaling(f"{path}.autoscaling", autoscaling)
        return Deployment(
            id=DeploymentId(new_id("deployment")),
            service_id=service_id,
            model_id=model.id if model else None,
            runtime_id=runtime.id,
            version=model.version if model else "1",
            weight=d.weight,
            replicas=validate.replicas(f"{path}.replicas", d.replicas),
            cpu=validate.positive(
                f"{path}.cpu", d.cpu if d.cpu is not None else runtime.request_cpu
            ),
            memory=int(
                validate.positive(
                    f"{path}.memory", d.memory if d.memory is not None else runtime.request_memory
                )
            ),
            gpu=int(
                validate.not_negative(f"{path}.gpu", d.gpu if d.gpu is not None else runtime.gpu)
            ),
            env=validate.env(f"{path}.env", dict(d.env)),
            command=command,
            health_path=d.health_path,
            grace_period=validate.not_negative(f"{path}.grace_period", d.grace_period),
            max_surge=validate.replicas(f"{path}.max_surge", d.max_surge),
            max_unavailable=validate.replicas(f"{path}.max_unavailable", d.max_unavailable),
            rollout_timeout=validate.positive(f"{path}.rollout_timeout", d.rollout_timeout),
            autoscaling=autoscaling,
            schedules=check_jobs(f"{path}.schedules", d.schedules),
            scale_set_at=now,
            created_at=now,
            updated_at=now,
        )

    # -- read --------------------------------------------------------------------------------
    async def get(self, who: Principal, service_id: str) -> Service:
        async with self.store.read() as tx:
            return await tx.services.get(who.project_id, service_id)

    async def list(self, who: Principal, query: ListQuery) -> tuple[Sequence[Service], int]:
        async with self.store.read() as tx:
            return await tx.services.list(who.project_id, query)

    async def replicas(self, who: Principal, service_id: str) -> Sequence[Replica]:
        async with self.store.read() as tx:
            await tx.services.get(who.project_id, service_id)
            return await tx.replicas.for_service(service_id)

    async def logs(
        self, who: Principal, service_id: str, replica_id: str | None, tail: int
    ) -> dict[str, str]:
        if not 1 <= tail <= 10000:
            raise Invalid("tail", "must be between 1 and 10000")
        replicas = await self.replicas(who, service_id)
        if replica_id is not None:
            replicas = [r for r in replicas if r.id == replica_id]
            if not replicas:
                raise NotFound("replica", replica_id)
        return {r.id: await self.backend.logs(r.id, tail) for r in replicas}

    async def stats(
        self, who: Principal, service_id: str, minutes: int = 5
    ) -> request_stats.ServiceStats:
        """Request stats of the service's last `minutes` minutes (1-60), the current one
        included, from what the gateways flushed."""
        if not 1 <= minutes <= request_stats.MAX_MINUTES:
            raise Invalid("minutes", f"must be between 1 and {request_stats.MAX_MINUTES}")
        last = int(self.clock().timestamp()) // 60
        first = last - minutes + 1
        async with self.store.read() as tx:
            svc = await tx.services.get(who.project_id, service_id)
            rows = await tx.traffic.window(svc.id, first)
        return request_stats.summarize(svc, rows, first, last)

    # -- change ------------------------------------------------------------------------------
    async def _change(
        self,
        who: Principal,
        service_id: str,
        revision: int | None,
        change: Callable[[Service], Service],
        reason: str,
        message: str,
    ) -> Service:
        async with self.store.write() as tx:
            current = await _changeable(tx, who, service_id, revision)
            updated = await tx.services.update_spec(change(current))
            await _note(tx, updated, reason, message)
        self.wake()
        return updated

    async def update(
        self, who: Principal, service_id: str, patch: ServicePatch, revision: int | None = None
    ) -> Service:
        if patch.description is not None:
            validate.text("description", patch.description)
        if patch.tags is not None:
            validate.tags("tags", patch.tags)
        if patch.traffic is not None:
            validate.traffic("traffic", patch.traffic)
        stop_after = _stop_after("stop_after", patch.stop_after)
        now = self.clock()

        def change(s: Service) -> Service:
            if patch.stop_after is not None:
                s = replace(s, stop_after=stop_after)
                running = s.desired_state == DesiredState.RUNNING
                s = replace(s, stop_at=_stop_at(s, now) if running else None)
            return replace(
                s,
                description=s.description if patch.description is None else patch.description,
                tags=s.tags if patch.tags is None else dict(patch.tags),
                lb_policy=patch.lb_policy or s.lb_policy,
                auth_type=s.auth_type
                if patch.auth is None
                else (AuthType.KEY if patch.auth else AuthType.NONE),
                traffic=s.traffic if patch.traffic is None else patch.traffic,
            )

        return await self._change(who, service_id, revision, change, "Updated", "service updated")

    async def scale(
        self,
        who: Principal,
        service_id: str,
        replicas: int,
        deployment_id: str | None = None,
        revision: int | None = None,
    ) -> Service:
        validate.replicas("replicas", replicas)

        def change(s: Service) -> Service:
            if deployment_id is None and len(s.deployments) != 1:
                raise Invalid("deployment_id", "the service has several deployments; name one")
            target = deployment_id or s.deployments[0].id
            if target not in {d.id for d in s.deployments}:
                raise Invalid("deployment_id", f"no deployment {target!r} in this service")
            now = self.clock()
            deps = tuple(
                replace(d, replicas=replicas, scale_set_at=now) if d.id == target else d
                for d in s.deployments
            )
            return replace(s, deployments=deps)

        return await self._change(
            who, service_id, revision, change, "Scaled", f"scaled to {replicas} replicas"
        )

    async def set_weights(
        self,
        who: Principal,
        service_id: str,
        weights: dict[str, int],
        revision: int | None = None,
    ) -> Service:
        """Set the traffic weight of some deployments (0-100 each); the others keep theirs."""
        for dep_id, weight in weights.items():
            if not 0 <= weight <= 100:
                raise Invalid(f"weights.{dep_id}", "must be between 0 and 100")

        def change(s: Service) -> Service:
            unknown = set(weights) - {d.id for d in s.deployments}
            if unknown:
                raise Invalid("weights", f"no deployment {sorted(unknown)[0]!r} in this service")
            deps = tuple(replace(d, weight=weights.get(d.id, d.weight)) for d in s.deployments)
            return replace(s, deployments=deps)

        return await self._change(
            who, service_id, revision, change, "Reweighted", f"weights set: {weights}"
        )

    async def add_deployment(
        self, who: Principal, service_id: str, spec: DeploymentSpec
    ) -> tuple[Service, Deployment]:
        """Add one deployment (e.g. a new model version) to a service; returns both."""
        now = self.clock()
        async with self.store.write() as tx:
            current = await tx.services.get(who.project_id, service_id, lock=True)
            if current.desired_state == DesiredState.DELETED:
                raise Conflict(f"service {service_id} is being deleted")
            if len(current.deployments) >= 8:
                raise Invalid("deployments", "at most 8 deployments")
            dep = await self._deployment(tx, who, current.id, "deployment", spec, now)
            updated = await tx.services.update_spec(
                replace(current, deployments=(*current.deployments, dep))
            )
            await _note(tx, updated, "DeploymentAdded", f"deployment {dep.id} added")
        self.wake()
        return updated, next(d for d in updated.deployments if d.id == dep.id)

    async def update_deployment(
        self,
        who: Principal,
        service_id: str,
        deployment_id: str,
        patch: DeploymentPatch,
        revision: int | None = None,
    ) -> Service:
        """Change one deployment. A new model, runtime, env, command, health path or resources
        rolls its replicas over (`max_surge` / `max_unavailable`); the controller rolls back to
        the spec before if the new replicas are not ready within `rollout_timeout`."""
        now = self.clock()
        async with self.store.write() as tx:
            current = await _changeable(tx, who, service_id, revision)
            old = next((d for d in current.deployments if d.id == deployment_id), None)
            if old is None:
                raise NotFound("deployment", deployment_id)
            spec = DeploymentSpec(
                model_id=_given(patch.model_id, old.model_id),
                runtime=patch.runtime or old.runtime_id,
                replicas=old.replicas,
                cpu=_given(patch.cpu, old.cpu),
                memory=_given(patch.memory, old.memory),
                gpu=_given(patch.gpu, old.gpu),
                env=dict(_given(patch.env, old.env)),
                weight=old.weight,
                command=_given(patch.command, old.command),
                health_path=_given(patch.health_path, old.health_path),
                grace_period=_given(patch.grace_period, old.grace_period),
                max_surge=_given(patch.max_surge, old.max_surge),
                max_unavailable=_given(patch.max_unavailable, old.max_unavailable),
                rollout_timeout=_given(patch.rollout_timeout, old.rollout_timeout),
                autoscaling=None if patch.no_autoscaling else patch.autoscaling or old.autoscaling,
                schedules=_given(patch.schedules, old.schedules),
            )
            new = await self._deployment(tx, who, current.id, "deployment", spec, now)
            rescheduled = new.schedules != old.schedules
            new = replace(
                new,
                id=old.id,
                created_at=old.created_at,
                scale_set_at=now if rescheduled else old.scale_set_at,
            )
            rolls = new.template != old.template
            if rolls:
                before = old.previous or {**old.replica_spec(), "version": old.version}
                back = before if template_of(before) != new.template else None
                new = replace(new, previous=back, rollout_started_at=now if back else None)
            else:
                new = replace(new, previous=old.previous, rollout_started_at=old.rollout_started_at)
            updated = await tx.services.update_spec(
                replace(
                    current,
                    deployments=tuple(new if d.id == old.id else d for d in current.deployments),
                )
            )
            if rolls:
                await _note(
                    tx, updated, "RolloutStarted", f"deployment {old.id}: new spec rolling out"
                )
            else:
                await _note(tx, updated, "DeploymentUpdated", f"deployment {old.id} updated")
        self.wake()
        return updated

    async def remove_deployment(
        self, who: Principal, service_id: str, deployment_id: str
    ) -> Service:
        """Remove one deployment; its replicas are stopped. The last one cannot be removed
        (delete the service instead)."""

        def change(s: Service) -> Service:
            if deployment_id not in {d.id for d in s.deployments}:
                raise NotFound("deployment", deployment_id)
            if len(s.deployments) == 1:
                raise Conflict("a service keeps at least one deployment; delete the service")
            return replace(s, deployments=tuple(d for d in s.deployments if d.id != deployment_id))

        return await self._change(
            who,
            service_id,
            None,
            change,
            "DeploymentRemoved",
            f"deployment {deployment_id} removed",
        )

    async def stop(self, who: Principal, service_id: str) -> Service:
        return await self._change(
            who,
            service_id,
            None,
            lambda s: replace(s, desired_state=DesiredState.STOPPED, stop_at=None),
            "Stopping",
            "service stopped by user",
        )

    async def start(self, who: Principal, service_id: str) -> Service:
        return await self._change(
            who,
            service_id,
            None,
            lambda s: replace(
                s, desired_state=DesiredState.RUNNING, stop_at=_stop_at(s, self.clock())
            ),
            "Starting",
            "service started by user",
        )

    async def delete(self, who: Principal, service_id: str) -> Service:
        """Mark the service for deletion; the controller stops its replicas, then removes it."""
        async with self.store.write() as tx:
            current = await tx.services.get(who.project_id, service_id, lock=True)
            if current.desired_state == DesiredState.DELETED:
                return current
            updated = await tx.services.update_spec(
                replace(current, desired_state=DesiredState.DELETED)
            )
            await tx.services.set_status(service_id, status=Status.DELETING.value)
            await _note(tx, updated, "Deleting", "service deletion requested")
        self.wake()
        return replace(updated, status=Status.DELETING)

    # -- keys --------------------------------------------------------------------------------
    async def key(self, who: Principal, service_id: str) -> str:
        if not who.is_admin:
            raise Forbidden("only project admins may read service keys")
        async with self.store.read() as tx:
            return self.cipher.decrypt(await tx.services.key_ciphertext(who.project_id, service_id))

    async def keys(self, who: Principal, service_ids: Sequence[str]) -> dict[str, str]:
        """The keys of several services in one read (admins only); unknown ids are left out."""
        if not who.is_admin:
            raise Forbidden("only project admins may read service keys")
        async with self.store.read() as tx:
            found = await tx.services.key_ciphertexts(who.project_id, service_ids)
        return {sid: self.cipher.decrypt(text) for sid, text in found.items()}

    async def rotate_key(self, who: Principal, service_id: str) -> str:
        if not who.is_admin:
            raise Forbidden("only project admins may rotate service keys")
        plain = new_token("sk")
        async with self.store.write() as tx:
            await tx.services.set_key(who.project_id, service_id, self.cipher.encrypt(plain))
            svc = await tx.services.get(who.project_id, service_id)
            await _note(tx, svc, "KeyRotated", "service key rotated")
        self.wake()
        return plain


async def _changeable(tx: Tx, who: Principal, service_id: str, revision: int | None) -> Service:
    """The service as it stands, refused (409) when it is being deleted or `revision` is
    stale; its row is locked until the transaction ends, so concurrent changes queue."""
    current = await tx.services.get(who.project_id, service_id, lock=True)
    if current.desired_state == DesiredState.DELETED:
        raise Conflict(f"service {service_id} is being deleted")
    if revision is not None and revision != current.revision:
        raise Conflict(f"service {service_id} is at revision {current.revision}, not {revision}")
    return current


async def _note(tx: Tx, svc: Service, reason: str, message: str) -> None:
    await tx.events.add(
        Event(
            id=EventId(new_id("event")),
            project_id=svc.project_id,
            object_kind="service",
            object_id=svc.id,
            service_id=svc.id,
            type=EventType.NORMAL,
            reason=reason,
            message=message,
            at=datetime.now(UTC),
        )
    )


async def events(store: Store, who: Principal, query: ListQuery) -> tuple[Sequence[Event], int]:
    async with store.read() as tx:
        return await tx.events.list(who.project_id, query)
