"""`Autoscaler`: the replica count of each deployment that autoscaling or a schedule drives.

Each pass gives it a deployment, the count it runs for now, the load the gateways reported
over the window (`DeploymentLoad`, None when no gateway reported at all) and the time; it
answers the count to run for. Without autoscaling that is the bounds' one count (a schedule's
job, else `replicas`). With autoscaling:

- the recommendation is `ceil(in_flight / target)` within the bounds, one at least while a
  gateway holds a call (a deployment scaled to zero wakes at once, with no delay);
- a higher count is taken when every recommendation of the last `scale_up_delay` seconds
  wanted it (the lowest of them), a lower one when every recommendation of the last
  `scale_down_delay` seconds wanted it (the highest of them), as Kubernetes' HPA stabilizes;
- with no report from any gateway, the count stays: no evidence, no change;
- it changes no count before it has watched a deployment for the delay, so a restarted
  control plane does not shrink (or grow) what it has not measured long enough.

The history lives in memory; a new scaling spec (`Deployment.scale_set_at`) starts it again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from modelport.domain import scaling
from modelport.domain.services import Deployment
from modelport.domain.stats import DeploymentLoad


@dataclass(slots=True)
class _History:
    spec: datetime | None  # the `scale_set_at` it belongs to
    since: datetime  # first watched
    seen: deque[tuple[datetime, int]] = field(default_factory=deque)


class Autoscaler:
    def __init__(self) -> None:
        self._history: dict[str, _History] = {}

    def replicas(
        self,
        dep: Deployment,
        current: int,
        load: DeploymentLoad | None,
        now: datetime,
    ) -> int:
        b = scaling.bounds(dep.replicas, dep.autoscaling, dep.schedules, dep.scale_set_at, now)
        a = dep.autoscaling
        if a is None:
            return b.low
        current = b.clamp(current)
        if load is None:
            return current
        want = b.clamp(scaling.recommend(load.in_flight, a.target, load.held))
        h = self._history.get(dep.id)
        if h is None or h.spec != dep.scale_set_at:
            h = self._history[dep.id] = _History(dep.scale_set_at, now)
        h.seen.append((now, want))
        horizon = timedelta(seconds=max(a.scale_up_delay, a.scale_down_delay))
        while h.seen and now - h.seen[0][0] > horizon:
            h.seen.popleft()
        if load.held and current == 0:
            return max(want, 1)
        watched = (now - h.since).total_seconds()
        up = min(n for t, n in h.seen if (now - t).total_seconds() <= a.scale_up_delay)
        if up > current and watched >= a.scale_up_delay:
            return up
        down = max(n for t, n in h.seen if (now - t).total_seconds() <= a.scale_down_delay)
        if down < current and watched >= a.scale_down_delay:
            return down
        return current

    def forget(self, keep: Collection[str]) -> None:
        """Drop the history of deployments not in `keep` (removed, or no longer autoscaled)."""
        for dep_id in [d for d in self._history if d not in keep]:
            del self._history[dep_id]
