"""Services with their deployments.

Spec writes (`add`, `update_spec`, `set_key`) go through the ORM, whose version column makes
a write with a stale revision fail (`Conflict`). Status writes (`set_status`,
`set_deployment_status`) are plain UPDATEs of controller-owned columns and do
not bump the revision, so the controller never causes a user's write to be rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelport.domain.errors import Conflict, NotFound
from modelport.domain.services import Service
from modelport.query.ast import And, Cond, Filter, ListQuery, Op
from modelport.store import compile, mapping
from modelport.store import tables as t


def _model_id(op: Op, value: Any) -> ColumnElement[bool]:
    cond = compile.compare(t.DeploymentRow.model_id, op, value)
    return exists().where(t.DeploymentRow.service_id == t.ServiceRow.id, cond)


def _deployment_id(op: Op, value: Any) -> ColumnElement[bool]:
    cond = compile.compare(t.DeploymentRow.id, op, value)
    return exists().where(t.DeploymentRow.service_id == t.ServiceRow.id, cond)


def _tag(key: str, op: Op, value: Any) -> ColumnElement[bool]:
    cond = compile.compare(t.ServiceTagRow.value, op, value)
    if op == Op.IS_NULL:  # no such tag
        return ~exists().where(
            t.ServiceTagRow.service_id == t.ServiceRow.id, t.ServiceTagRow.key == key
        )
    return exists().where(
        t.ServiceTagRow.service_id == t.ServiceRow.id, t.ServiceTagRow.key == key, cond
    )


# filters the `service_counts` table can answer a total for (see `tables.ServiceCountRow`)
COUNTED = {"workspace": t.ServiceCountRow.workspace, "status": t.ServiceCountRow.status}
_COUNTED_OPS = {Op.EQ, Op.NE, Op.IN, Op.NOT_IN}


def _counted(flt: Filter | None) -> list[Cond] | None:
    """The conditions of `flt` when it is an AND of conditions on workspace and status only."""
    if flt is None:
        return []
    parts = list(flt.parts) if isinstance(flt, And) else [flt]
    conds: list[Cond] = []
    for part in parts:
        if isinstance(part, And):
            inner = _counted(part)
            if inner is None:
                return None
            conds += inner
        elif isinstance(part, Cond) and part.field in COUNTED and part.op in _COUNTED_OPS:
            conds.append(part)
        else:
            return None
    return conds


FIELDS: dict[str, compile.Field] = {
    "tag:": compile.Keyed(_tag),
    "id": t.ServiceRow.id,
    "name": t.ServiceRow.name,
    # case-insensitive substring, wildcards escaped (the ModelArts list's `search`)
    "name_contains": lambda _op, value: t.ServiceRow.name.icontains(str(value), autoescape=True),
    "description": t.ServiceRow.description,
    "owner": t.ServiceRow.owner,
    "workspace": t.ServiceRow.workspace,
    "infer_type": t.ServiceRow.infer_type,
    "auth_type": t.ServiceRow.auth_type,
    "lb_policy": t.ServiceRow.lb_policy,
    "desired_state": t.ServiceRow.desired_state,
    "status": t.ServiceRow.status,
    "progress": t.ServiceRow.progress,
    "invocation_count": t.ServiceRow.invocation_count,
    "failure_count": t.ServiceRow.failure_count,
    "created_at": t.ServiceRow.created_at,
    "updated_at": t.ServiceRow.updated_at,
    "transition_at": t.ServiceRow.transition_at,
    "model_id": _model_id,
    "deployment_id": _deployment_id,
}


class ServicesRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, svc: Service, key_ciphertext: str) -> None:
        now = svc.created_at or datetime.now(UTC)
        self.s.add(
            t.ServiceRow(
                id=svc.id,
                project_id=svc.project_id,
                name=svc.name,
                description=svc.description,
                owner=svc.owner,
                workspace=svc.workspace,
                infer_type=svc.infer_type,
                auth_type=svc.auth_type.value,
                lb_policy=svc.lb_policy.value,
                tags=dict(svc.tags),
                desired_state=svc.desired_state.value,
                key_ciphertext=key_ciphertext,
                traffic=asdict(svc.traffic),
                status=svc.status.value,
                status_reason=svc.status_reason,
                progress=svc.progress,
                invocation_count=0,
                failure_count=0,
                stop_at=svc.stop_at,
                stop_after=svc.stop_after,
                transition_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        await self.s.flush()
        await self._put_deployments(svc, {}, now)
        await self._put_tags(svc)

    async def _row(
        self, project_id: str | None, service_id: str, *, lock: bool = False
    ) -> t.ServiceRow:
        row = await self.s.get(t.ServiceRow, service_id, with_for_update=lock or None)
        if row is None or (project_id is not None and row.project_id != project_id):
            raise NotFound("service", service_id)
        return row

    async def _deployments(self, ids: Sequence[str]) -> dict[str, list[t.DeploymentRow]]:
        out: dict[str, list[t.DeploymentRow]] = {i: [] for i in ids}
        if ids:
            stmt = select(t.DeploymentRow).where(t.DeploymentRow.service_id.in_(ids))
            for d in (await self.s.execute(stmt)).scalars():
                out[d.service_id].append(d)
        return out

    async def get(self, project_id: str | None, service_id: str, *, lock: bool = False) -> Service:
        """A service by id; `project_id=None` looks across projects (controller, gateway).

        `lock=True` (in a write transaction, to change what is read) holds the service's row
        until the transaction ends (PostgreSQL's `SELECT … FOR UPDATE`; SQLite serialises
        every writer anyway): a concurrent change of the same service waits, then reads
        what this one wrote, so a write without a revision is never refused for a race and
        never lost."""
        row = await self._row(project_id, service_id, lock=lock)
        deps = await self._deployments([row.id])
        return mapping.service(row, deps[row.id])

    async def list(self, project_id: str, query: ListQuery) -> tuple[Sequence[Service], int]:
        stmt = select(t.ServiceRow).where(t.ServiceRow.project_id == project_id)
        counted = _counted(query.filter) if query.count else None
        if counted is not None:  # the total from the trigger-kept counts: a few rows summed
            query = replace(query, count=False)
        rows, total = await compile.run(self.s, stmt, query, FIELDS, t.ServiceRow.id)
        if counted is not None:
            total = await self._counted_total(project_id, counted)
        deps = await self._deployments([r.id for r in rows])
        return [mapping.service(r, deps[r.id]) for r in rows], total

    async def _counted_total(self, project_id: str, conds: Sequence[Cond]) -> int:
        stmt = select(func.coalesce(func.sum(t.ServiceCountRow.n), 0)).where(
            t.ServiceCountRow.project_id == project_id
        )
        for c in conds:
            column = COUNTED[c.field]
            stmt = stmt.where(
                compile.compare(column, c.op, compile.coerce(c.field, column, c.op, c.value))
            )
        return int((await self.s.execute(stmt)).scalar_one())

    async def all(self, *, settled_too: bool = True) -> Sequence[Service]:
        """Every service; with `settled_too=False`, not those stopped and at rest (nothing to
        reconcile there: the controller skips them)."""
        stmt = select(t.ServiceRow).order_by(t.ServiceRow.id)
        if not settled_too:
            stmt = stmt.where(
                ~and_(t.ServiceRow.desired_state == "stopped", t.ServiceRow.status == "stopped")
            )
        rows = (await self.s.execute(stmt)).scalars()
        services = list(rows)
        deps = await self._deployments([r.id for r in services])
        return [mapping.service(r, deps[r.id]) for r in services]

    async def update_spec(self, svc: Service) -> Service:
        """Write the user-owned fields of `svc`; `svc.revision` is the revision it was read at."""
        row = await self._row(svc.project_id, svc.id)
        if row.revision != svc.revision:
            raise Conflict(
                f"service {svc.id} is at revision {row.revision}, not {svc.revision}; read it again"
            )
        now = datetime.now(UTC)
        row.name = svc.name
        row.description = svc.description
        row.owner = svc.owner
        row.workspace = svc.workspace
        row.infer_type = svc.infer_type
        row.auth_type = svc.auth_type.value
        row.lb_policy = svc.lb_policy.value
        row.traffic = asdict(svc.traffic)
        row.tags = dict(svc.tags)
        row.desired_state = svc.desired_state.value
        row.stop_at = svc.stop_at
        row.stop_after = svc.stop_after
        row.updated_at = now
        existing = {d.id: d for d in (await self._deployments([svc.id]))[svc.id]}
        await self._put_deployments(svc, existing, now)
        await self._put_tags(svc)
        return await self.get(svc.project_id, svc.id)

    async def _put_tags(self, svc: Service) -> None:
        await self.s.execute(delete(t.ServiceTagRow).where(t.ServiceTagRow.service_id == svc.id))
        self.s.add_all(
            t.ServiceTagRow(service_id=svc.id, key=k, value=v) for k, v in svc.tags.items()
        )
        await self.s.flush()

    async def _put_deployments(
        self, svc: Service, existing: dict[str, t.DeploymentRow], now: datetime
    ) -> None:
        """Make the deployment rows of `svc` match its spec: add, update, delete."""
        for d in svc.deployments:
            row = existing.pop(d.id, None)
            if row is None:
                row = t.DeploymentRow(
                    id=d.id,
                    service_id=svc.id,
                    status=d.status.value,
                    status_reason="",
                    ready_replicas=0,
                    ever_ready=False,
                    rollout="",
                    updated_replicas=0,
                    target_replicas=None,
                    invocation_count=0,
                    failure_count=0,
                    created_at=now,
                )
                self.s.add(row)
            elif row.replicas != d.replicas:  # scaled by hand: autoscaling starts from there
                row.target_replicas = None
            mapping.fill_deployment_spec(row, d)
            row.updated_at = now
        for gone in existing.values():
            await self.s.delete(gone)
        await self.s.flush()

    async def key_ciphertext(self, project_id: str | None, service_id: str) -> str:
        return (await self._row(project_id, service_id)).key_ciphertext

    async def key_ciphertexts(
        self, project_id: str | None, service_ids: Sequence[str] | None
    ) -> dict[str, str]:
        """The encrypted keys of `service_ids` (None: every service) in the project (None: in
        every project), in one read; ids that do not exist there are left out."""
        stmt = select(t.ServiceRow.id, t.ServiceRow.key_ciphertext)
        if project_id is not None:
            stmt = stmt.where(t.ServiceRow.project_id == project_id)
        if service_ids is not None:
            if not service_ids:
                return {}
            stmt = stmt.where(t.ServiceRow.id.in_(list(service_ids)))
        return {sid: text for sid, text in await self.s.execute(stmt)}

    async def set_key(self, project_id: str, service_id: str, ciphertext: str) -> None:
        row = await self._row(project_id, service_id, lock=True)
        row.key_ciphertext = ciphertext
        row.updated_at = datetime.now(UTC)
        await self.s.flush()

    async def set_status(self, service_id: str, **values: Any) -> None:
        await self.s.execute(
            update(t.ServiceRow).where(t.ServiceRow.id == service_id).values(**values)
        )

    async def set_deployment_status(self, deployment_id: str, **values: Any) -> None:
        await self.s.execute(
            update(t.DeploymentRow).where(t.DeploymentRow.id == deployment_id).values(**values)
        )

    async def finish_rollout(self, deployment_id: str, started: datetime) -> bool:
        """Forget the spec the rollout begun at `started` replaced (it completed). False when
        the deployment changed again meanwhile (a newer rollout began)."""
        result = await self.s.execute(
            update(t.DeploymentRow)
            .where(
                t.DeploymentRow.id == deployment_id,
                t.DeploymentRow.rollout_started_at == started,
            )
            .values(previous=None, rollout_started_at=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def auto_stop(self, service_id: str, stop_at: datetime) -> bool:
        """Stop a running service whose `stop_at` came (a spec change: the revision grows).
        False when it was stopped, or its stop time changed, meanwhile."""
        result = await self.s.execute(
            update(t.ServiceRow)
            .where(
                t.ServiceRow.id == service_id,
                t.ServiceRow.desired_state == "running",
                t.ServiceRow.stop_at == stop_at,
            )
            .values(
                desired_state="stopped",
                stop_at=None,
                revision=t.ServiceRow.revision + 1,
                updated_at=datetime.now(UTC),
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, service_id: str) -> None:
        row = await self.s.get(t.ServiceRow, service_id)
        if row is not None:
            await self.s.delete(row)
            await self.s.flush()
