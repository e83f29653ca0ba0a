"""Pick a replica for one request: a deployment by weight, then a replica by the service's
load-balancing policy (the names ModelArts uses).

- `ROUND_ROBIN`: each deployment's ready replicas in turn.
- `LEAST_CONNECTIONS`: the replica with the fewest requests in flight through this gateway
  (ties in turn); the gateway reports each request's start and end (`started`/`finished`).
- `SOURCE_IP`: sticky by client address: the same address reaches the same deployment and
  replica while the set of ready replicas does not change (a stable hash, not `hash()`, so it
  holds across gateway processes).

Replicas a request already tried (`avoid`), replicas that refused a connection in the last
`DOWN_FOR` seconds (`mark_down`) and, when the service sets `max_concurrency`, replicas with
that many requests in flight are passed over.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import NamedTuple

from modelport.domain.errors import Overloaded, Unavailable
from modelport.domain.services import LbPolicy
from modelport.gateway.routing import Route, Target

DOWN_FOR = 2.0  # seconds a replica that refused a connection stays out of rotation


class Pick(NamedTuple):
    deployment_id: str
    address: str


class Balancer:
    """Not thread-safe; used from the event loop only."""

    def __init__(
        self, rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rng = rng or random.Random()
        self._clock = clock
        self._counters: dict[str, itertools.count[int]] = defaultdict(itertools.count)
        self._down: dict[str, float] = {}  # address → until when
        self.in_flight: dict[str, int] = defaultdict(int)

    def pick(self, route: Route, client: str = "", avoid: Collection[str] = ()) -> Pick:
        live = self._live(route, avoid)
        if not live:
            raise Unavailable(f"service {route.service_id} has no ready replica")
        limit = route.traffic.max_concurrency
        if limit is not None:
            live = [replace(t, addresses=a) for t in live if (a := self._free(t, limit))]
            if not live:
                raise Overloaded(
                    f"service {route.service_id} is at its limit of {limit} requests in "
                    "flight per replica"
                )
        sticky = route.lb_policy == LbPolicy.SOURCE_IP
        digest = _stable_hash(client) if sticky else 0
        target = self._deployment(live, digest if sticky else None)
        addresses = target.addresses
        if sticky:
            return Pick(target.deployment_id, addresses[(digest >> 32) % len(addresses)])
        n = next(self._counters[target.deployment_id])
        if route.lb_policy == LbPolicy.LEAST_CONNECTIONS:
            fewest = min(self.in_flight.get(a, 0) for a in addresses)
            idle = [a for a in addresses if self.in_flight.get(a, 0) == fewest]
            return Pick(target.deployment_id, idle[n % len(idle)])
        return Pick(target.deployment_id, addresses[n % len(addresses)])

    def _live(self, route: Route, avoid: Collection[str]) -> list[Target]:
        if not avoid and not self._down:  # the common case: nothing to pass over
            return [t for t in route.targets if t.addresses]
        now = self._clock()
        for address, until in list(self._down.items()):
            if until <= now:
                del self._down[address]
        live = []
        for t in route.targets:
            addresses = tuple(a for a in t.addresses if a not in avoid and a not in self._down)
            if addresses:
                live.append(replace(t, addresses=addresses))
        return live

    def _free(self, target: Target, limit: int) -> tuple[str, ...]:
        return tuple(a for a in target.addresses if self.in_flight.get(a, 0) < limit)

    def _deployment(self, live: list[Target], digest: int | None) -> Target:
        if len(live) == 1:
            return live[0]
        weights = [max(t.weight, 0) for t in live]
        if sum(weights) <= 0:
            weights = [1] * len(live)
        if digest is None:
            return self._rng.choices(live, weights)[0]
        point = digest % sum(weights)  # the same client falls at the same point of the split
        for target, weight in zip(live, weights, strict=True):
            if point < weight:
                return target
            point -= weight
        return live[-1]

    def mark_down(self, address: str) -> None:
        """Take `address` out of rotation for `DOWN_FOR` seconds (it refused a connection)."""
        self._down[address] = self._clock() + DOWN_FOR

    def started(self, address: str) -> None:
        self.in_flight[address] += 1

    def finished(self, address: str) -> None:
        self.in_flight[address] -= 1
        if self.in_flight[address] <= 0:
            del self.in_flight[address]


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
