"""Failed password logins, counted and throttled: `LoginThrottle`.

The dialects' password logins (ZStack's `logInByAccount`, the IAM token API) ask it before
they check a password and tell it how the check went:

    throttle.check(account, address)      # raises `RateLimited` while locked out
    ok → throttle.succeeded(account, address)
    wrong → throttle.failed(account, address)

Failures are counted in a sliding window of `window` seconds, per (account name, client
address) and per address alone:

- `max_failures` failures of one account from one address lock that pair out for `lockout`
  seconds. A guesser elsewhere does not lock the real user out: the lock holds only for the
  address the failures came from (the usual compromise; docs/security.md has the trade-off).
- `ADDRESS_FACTOR * max_failures` failures from one address, over any account names, lock
  that address out: guessing across many names (each costs the server an scrypt) is slowed
  too. Unknown account names count like known ones, so a lock-out tells no names.
- A success clears its pair's failures (not the address's: a guesser with one good account
  cannot wipe its record by logging in).

While locked out, a login is refused before its password is checked, whether it is right or
not. `max_failures = 0` turns the throttle off.

Time comes from `clock` (monotonic seconds; tests pass a fake one and never sleep). The
state is in memory, per process, and bounded: at most `capacity` keys, the least recently
touched dropped first. Concurrency contract: called from the event loop only; no method
awaits, so no lock is needed.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from modelport.domain.errors import RateLimited

ADDRESS_FACTOR = 10  # failures from one address over any accounts: this many times the limit
CAPACITY = 100_000

Key = tuple[str | None, str]  # (account, address); (None, address) for the address alone


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)  # times of failures in the window
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        max_failures: int = 5,
        window: float = 300.0,
        lockout: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = CAPACITY,
    ) -> None:
        if max_failures < 0 or window <= 0 or lockout < 0 or capacity < 1:
            raise ValueError("max_failures >= 0, window > 0, lockout >= 0, capacity >= 1")
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.clock = clock
        self.capacity = capacity
        self._records: dict[Key, _Record] = {}  # least recently touched first

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0

    def __len__(self) -> int:
        """How many (account, address) pairs and addresses it keeps a record of."""
        return len(self._records)

    def check(self, account: str, address: str) -> None:
        """Raise `RateLimited` (with `retry_after`) while the pair or the address is locked."""
        if not self.enabled:
            return
        now = self.clock()
        waits = [
            record.locked_until - now
            for key in ((account, address), (None, address))
            if (record := self._records.get(key)) is not None and record.locked_until > now
        ]
        if waits:
            wait = max(waits)
            raise RateLimited(
                f"too many failed logins from this address; try again in {math.ceil(wait)} seconds",
                retry_after=wait,
            )

    def failed(self, account: str, address: str) -> None:
        """Count a failed login; lock the pair (or the address) out once over its limit."""
        if not self.enabled:
            return
        now = self.clock()
        self._count((account, address), now, self.max_failures)
        self._count((None, address), now, self.max_failures * ADDRESS_FACTOR)

    def succeeded(self, account: str, address: str) -> None:
        """Forget the pair's failures: the password was right."""
        self._records.pop((account, address), None)

    def _count(self, key: Key, now: float, limit: int) -> None:
        record = self._records.pop(key, None) or _Record()
        self._records[key] = record  # now the most recently touched
        failures = record.failures
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        failures.append(now)
        if len(failures) >= limit:
            record.locked_until = now + self.lockout
            failures.clear()
        while len(self._records) > self.capacity:
            del self._records[next(iter(self._records))]
