"""How the gateway's thread shares a CPU with the replicas it calls.

On Linux a thread that wakes up may preempt the one running on its CPU at once. A gateway
sharing a core with a busy replica is woken by every answer and every new call, so it
preempts the replica, relays one message, and sleeps again: four context switches per call,
a quarter of the gateway's CPU. Under `SCHED_BATCH` the gateway does not preempt on wakeup; it
runs when the replica sleeps or its time slice ends, and then relays everything that is
waiting in one go. When the CPU is idle it runs at once as before, so latency changes only
when the core is saturated (docs/gateway.md has the figures).

Children do not keep this: the local backend gives each replica the default policy.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def batch_scheduling() -> bool:
    """Put the calling thread under `SCHED_BATCH`; False where the platform has no such
    policy or refuses it (the gateway then runs under the default one)."""
    if not hasattr(os, "SCHED_BATCH"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError as exc:
        log.warning("gateway stays on the default scheduling policy: %s", exc)
        return False
    return True
