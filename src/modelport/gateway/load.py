"""`LoadMeter`: what the autoscaler needs from one gateway process, measured off the hot path.

The plane's sweep (ten times a second) counts the calls in flight per deployment and the calls
it holds for a deployment scaled to zero; `drain()` turns the counts since the last flush into
a `LoadReport`: the mean requests in flight per deployment and the most calls held at once.
A call that the traffic split sent to a deployment at zero, but that another deployment
served, counts as held for it too (`wanted`): that is how such a deployment wakes up.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from modelport.domain.stats import LoadReport


class LoadMeter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since = clock()
        self._samples = 0
        self._in_flight: dict[str, int] = defaultdict(int)  # summed over the samples
        self._held: dict[str, int] = defaultdict(int)  # the most at one sample

    def sample(self, in_flight: Iterable[str], held: Iterable[str]) -> None:
        """One look: the deployment of each call in flight, and of each call held."""
        self._samples += 1
        for dep_id in in_flight:
            self._in_flight[dep_id] += 1
        now: dict[str, int] = defaultdict(int)
        for dep_id in held:
            now[dep_id] += 1
        for dep_id, n in now.items():
            self._held[dep_id] = max(self._held[dep_id], n)

    def wanted(self, deployment_id: str) -> None:
        """A call was meant for `deployment_id`, which has no replica."""
        self._held[deployment_id] = max(self._held[deployment_id], 1)

    def drain(self) -> LoadReport:
        now = self._clock()
        samples = max(self._samples, 1)
        report = LoadReport(
            span=max(now - self._since, 0.0),
            deployments={
                dep_id: (self._in_flight.get(dep_id, 0) / samples, self._held.get(dep_id, 0))
                for dep_id in {*self._in_flight, *self._held}
            },
        )
        self._since, self._samples = now, 0
        self._in_flight.clear()
        self._held.clear()
        return report
