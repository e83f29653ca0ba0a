"""Pick a replica for one request: a deployment by weight, then a replica by the service's
load-balancing policy (the names ModelArts uses).

- `ROUND_ROBIN`: each deployment's ready replicas in turn.
- `LEAST_CONNECTIONS`: the replica with the fewest requests in flight through this gateway
  (ties in turn); the gateway reports each request's start and end (`started`/`finished`).
- `SOURCE_IP`: sticky by client address: the same address reaches the same deployment and
  replica while the set of ready replicas does not change (a stable hash, not `hash()`, so it
  holds across gateway processes).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import defaultdict

from modelport.domain.errors import Unavailable
from modelport.domain.services import LbPolicy
from modelport.gateway.routing import Route, Target


class Balancer:
    """Not thread-safe; used from the event loop only."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._counters: dict[str, itertools.count[int]] = defaultdict(itertools.count)
        self.in_flight: dict[str, int] = defaultdict(int)

    def pick(self, route: Route, client: str = "") -> str:
        live = [t for t in route.targets if t.addresses]
        if not live:
            raise Unavailable(f"service {route.service_id} has no ready replica")
        sticky = route.lb_policy == LbPolicy.SOURCE_IP
        digest = _stable_hash(client) if sticky else 0
        target = self._deployment(live, digest if sticky else None)
        addresses = target.addresses
        if sticky:
            return addresses[(digest >> 32) % len(addresses)]
        n = next(self._counters[target.deployment_id])
        if route.lb_policy == LbPolicy.LEAST_CONNECTIONS:
            fewest = min(self.in_flight.get(a, 0) for a in addresses)
            idle = [a for a in addresses if self.in_flight.get(a, 0) == fewest]
            return idle[n % len(idle)]
        return addresses[n % len(addresses)]

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

    def started(self, address: str) -> None:
        self.in_flight[address] += 1

    def finished(self, address: str) -> None:
        self.in_flight[address] -= 1
        if self.in_flight[address] <= 0:
            del self.in_flight[address]


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
