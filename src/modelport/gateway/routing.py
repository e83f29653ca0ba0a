"""The routing snapshot: for each service, its name, auth, traffic policy and its deployments'
ready addresses, and which of its deployments sleep (autoscaled to zero: a call wakes them).

`RoutingTable` is immutable; `Router` holds the current one and swaps it atomically when a
refresh finds a change. Readers (request handlers) never lock and never read the database.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from modelport.domain.errors import PermanentError
from modelport.domain.replicas import ReplicaState
from modelport.domain.services import AuthType, DesiredState, LbPolicy, TrafficPolicy
from modelport.services.secrets import Cipher, token_hash
from modelport.store import Store

log = logging.getLogger(__name__)

UNMATCHABLE = "!"  # not a hex digest: no presented key ever matches it


@dataclass(frozen=True, slots=True)
class Target:
    deployment_id: str
    weight: int
    addresses: tuple[str, ...]
    model_name: str = ""  # the name its replicas serve the model under (OpenAI `model`)
    autoscaled: bool = False  # the autoscaler sets its count from the gateways' load
    wakes: bool = False  # it may scale to zero, and a call wakes it


@dataclass(frozen=True, slots=True)
class Route:
    service_id: str
    project_id: str
    auth: bool
    key_hash: str
    lb_policy: LbPolicy
    targets: tuple[Target, ...]
    name: str = ""
    traffic: TrafficPolicy = field(default_factory=TrafficPolicy)
    created: int = 0  # Unix time the service was created (OpenAI's `created`)
    # deployments with a share of the traffic that sleep (`Target.wakes`, no replica): each
    # call asks them to wake; `cold`: no deployment has a replica, so calls wait for one
    asleep: tuple[str, ...] = ()
    cold: bool = False


def asleep(targets: tuple[Target, ...]) -> tuple[tuple[str, ...], bool]:
    """A route's `asleep` and `cold`, from its targets."""
    ids = tuple(t.deployment_id for t in targets if t.wakes and t.weight > 0 and not t.addresses)
    return ids, bool(ids) and not any(t.addresses for t in targets)


@dataclass(frozen=True, slots=True)
class RoutingTable:
    routes: dict[str, Route]
    by_name: dict[str, tuple[Route, ...]] = field(default_factory=dict)
    autoscaled: bool = False  # some deployment is: the gateway reports its load

    @classmethod
    def of(cls, routes: dict[str, Route]) -> RoutingTable:
        by_name: dict[str, list[Route]] = defaultdict(list)
        for route in routes.values():
            by_name[route.name].append(route)
        autoscaled = any(t.autoscaled for r in routes.values() for t in r.targets)
        return cls(routes, {name: tuple(rs) for name, rs in by_name.items()}, autoscaled)

    def get(self, service_id: str) -> Route | None:
        return self.routes.get(service_id)


class Router:
    """Holds the current snapshot; `refresh()` rebuilds it from the store."""

    def __init__(self, store: Store, cipher: Cipher) -> None:
        self.store = store
        self.cipher = cipher
        self.table = RoutingTable({})
        self._key_hashes: dict[str, str] = {}  # ciphertext → hash of the plain key

    async def refresh(self) -> bool:
        """Read the routes again; True when they changed."""
        async with self.store.read() as tx:
            services = await tx.services.all()
            replicas = await tx.replicas.all()
            ciphertexts = await tx.services.key_ciphertexts(None, None)
            model_ids = (d.model_id for s in services for d in s.deployments if d.model_id)
            model_names = await tx.models.names(model_ids)
        ready: dict[str, list[str]] = defaultdict(list)
        for r in replicas:
            if r.state == ReplicaState.READY and r.address:
                ready[r.deployment_id].append(r.address)
        routes: dict[str, Route] = {}
        for s in services:
            if s.desired_state == DesiredState.DELETED or s.id not in ciphertexts:
                continue  # being deleted, or deleted between the reads
            targets = tuple(
                Target(
                    d.id,
                    d.weight,
                    tuple(sorted(ready.get(d.id, []))),
                    model_names.get(d.model_id or "", ""),
                    autoscaled=d.autoscaling is not None,
                    wakes=d.wakes,
                )
                for d in s.deployments
            )
            sleeping, cold = asleep(targets)
            routes[s.id] = Route(
                service_id=s.id,
                project_id=s.project_id,
                auth=s.auth_type == AuthType.KEY,
                key_hash=self._hash(ciphertexts[s.id]),
                lb_policy=s.lb_policy,
                targets=targets,
                name=s.name,
                traffic=s.traffic,
                created=int(s.created_at.timestamp()) if s.created_at else 0,
                asleep=sleeping,
                cold=cold,
            )
        # forget the hashes of rotated and deleted keys
        live = set(ciphertexts.values())
        self._key_hashes = {c: h for c, h in self._key_hashes.items() if c in live}
        if routes == self.table.routes:
            return False
        self.table = RoutingTable.of(routes)
        return True

    def _hash(self, ciphertext: str) -> str:
        known = self._key_hashes.get(ciphertext)
        if known is None:
            try:
                known = token_hash(self.cipher.decrypt(ciphertext))
            except PermanentError:
                log.error("a service key cannot be decrypted (wrong secret key?); its calls fail")
                known = UNMATCHABLE
            self._key_hashes[ciphertext] = known
        return known
