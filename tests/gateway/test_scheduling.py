"""`batch_scheduling` puts the calling thread, and only it, under SCHED_BATCH."""

from __future__ import annotations

import os
import threading

import pytest

from modelport.gateway.scheduling import batch_scheduling

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux policies")


def test_batch_scheduling_applies_to_the_calling_thread() -> None:
    seen: list[tuple[bool, int]] = []

    def gateway_thread() -> None:
        seen.append((batch_scheduling(), os.sched_getscheduler(0)))

    thread = threading.Thread(target=gateway_thread)
    thread.start()
    thread.join()
    assert seen == [(True, os.SCHED_BATCH)]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # this thread is untouched
