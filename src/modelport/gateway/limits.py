"""Per-service request-rate limits: a token bucket per service in each gateway process.

A bucket holds one second's worth of calls (at least one) and refills continuously at the
service's `rate_limit` per second; a call takes a token or is refused with the time until
the next token (`Retry-After`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Bucket:
    rate: float
    tokens: float
    at: float

    @property
    def capacity(self) -> float:
        return max(self.rate, 1.0)


class RateLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    def admit(self, service_id: str, rate: float) -> float:
        """Take a token for one call; 0.0 when admitted, else seconds until one is free."""
        now = self._clock()
        bucket = self._buckets.get(service_id)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[service_id] = Bucket(rate, max(rate, 1.0), now)
        bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate
