"""Pick a replica for one request: a deployment by weight, then a replica round robin."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

from modelport.domain.errors import Unavailable
from modelport.gateway.routing import Route


class Balancer:
    """Not thread-safe; used from the event loop only."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._counters: dict[str, itertools.count[int]] = defaultdict(itertools.count)

    def pick(self, route: Route) -> str:
        live = [t for t in route.targets if t.addresses]
        if not live:
            raise Unavailable(f"service {route.service_id} has no ready replica")
        weights = [t.weight for t in live]
        if sum(weights) <= 0:
            weights = [1] * len(live)
        target = live[0] if len(live) == 1 else self._rng.choices(live, weights)[0]
        n = next(self._counters[target.deployment_id])
        return target.addresses[n % len(target.addresses)]
