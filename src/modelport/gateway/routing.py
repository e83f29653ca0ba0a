"""The routing snapshot: for each service, its auth and its deployments' ready addresses.

`RoutingTable` is immutable; `Router` holds the current one and swaps it atomically when a
refresh finds a change. Readers (request handlers) never lock.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from modelport.domain.errors import PermanentError
from modelport.domain.replicas import ReplicaState
from modelport.domain.services import AuthType, DesiredState, LbPolicy
from modelport.services.secrets import Cipher, token_hash
from modelport.store import Store

log = logging.getLogger(__name__)

UNMATCHABLE = "!"  # not a hex digest: no presented key ever matches it


@dataclass(frozen=True, slots=True)
class Target:
    deployment_id: str
    weight: int
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    service_id: str
    project_id: str
    auth: bool
    key_hash: str
    lb_policy: LbPolicy
    targets: tuple[Target, ...]

    @property
    def ready(self) -> bool:
        return any(t.addresses for t in self.targets)


@dataclass(frozen=True, slots=True)
class RoutingTable:
    routes: dict[str, Route]

    def get(self, service_id: str) -> Route | None:
        return self.routes.get(service_id)


class Router:
    """Holds the current snapshot. `refresh()` is called by the server after each pass."""

    def __init__(self, store: Store, cipher: Cipher) -> None:
        self.store = store
        self.cipher = cipher
        self.table = RoutingTable({})
        self._key_hashes: dict[str, str] = {}  # ciphertext → hash of the plain key

    async def refresh(self) -> None:
        async with self.store.read() as tx:
            services = await tx.services.all()
            replicas = await tx.replicas.all()
            ciphertexts = await tx.services.key_ciphertexts(None, None)
        ready: dict[str, list[str]] = defaultdict(list)
        for r in replicas:
            if r.state == ReplicaState.READY and r.address:
                ready[r.deployment_id].append(r.address)
        routes: dict[str, Route] = {}
        for s in services:
            if s.desired_state == DesiredState.DELETED or s.id not in ciphertexts:
                continue  # being deleted, or deleted between the two reads
            routes[s.id] = Route(
                service_id=s.id,
                project_id=s.project_id,
                auth=s.auth_type == AuthType.KEY,
                key_hash=self._hash(ciphertexts[s.id]),
                lb_policy=s.lb_policy,
                targets=tuple(
                    Target(d.id, d.weight, tuple(sorted(ready.get(d.id, []))))
                    for d in s.deployments
                ),
            )
        if routes != self.table.routes:
            self.table = RoutingTable(routes)
        # forget the hashes of rotated and deleted keys
        live = set(ciphertexts.values())
        self._key_hashes = {c: h for c, h in self._key_hashes.items() if c in live}

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
