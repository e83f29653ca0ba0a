"""Resource requests and capacities (cpu cores, memory in MiB, gpu count)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Resources:
    cpu: float = 0.0
    memory: int = 0
    gpu: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory, self.gpu + other.gpu)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu - other.cpu, self.memory - other.memory, self.gpu - other.gpu)

    def __mul__(self, n: int) -> Resources:
        return Resources(self.cpu * n, self.memory * n, self.gpu * n)

    def shortfall(self, request: Resources) -> str | None:
        """Name the first resource `request` needs more of than `self` has, or None if it fits."""
        if request.cpu > self.cpu + 1e-9:
            return f"insufficient cpu: requested {request.cpu:g}, available {max(self.cpu, 0):g}"
        if request.memory > self.memory:
            return (
                f"insufficient memory: requested {request.memory} MiB, "
                f"available {max(self.memory, 0)} MiB"
            )
        if request.gpu > self.gpu:
            return f"insufficient gpu: requested {request.gpu}, available {max(self.gpu, 0)}"
        return None
