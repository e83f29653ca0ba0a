"""Invocation and failure counts per service, kept in memory and flushed in batches."""

from __future__ import annotations

from collections import defaultdict


class Counters:
    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def record(self, service_id: str, failed: bool) -> None:
        c = self._counts[service_id]
        c[0] += 1
        if failed:
            c[1] += 1

    def drain(self) -> dict[str, tuple[int, int]]:
        """Return the counts since the last drain and reset them."""
        out = {k: (v[0], v[1]) for k, v in self._counts.items()}
        self._counts.clear()
        return out

    def restore(self, counts: dict[str, tuple[int, int]]) -> None:
        """Put back counts whose flush failed, so none are lost."""
        for k, (inv, fail) in counts.items():
            c = self._counts[k]
            c[0] += inv
            c[1] += fail
