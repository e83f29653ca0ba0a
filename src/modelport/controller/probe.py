"""Readiness probes over HTTP: a replica is healthy when its health path answers 2xx."""

from __future__ import annotations

from typing import Protocol

import httpx


class Probe(Protocol):
    async def __call__(self, address: str, path: str) -> bool: ...


class HttpProbe:
    """Probes with one pooled client. Call `aclose()` when done."""

    def __init__(self, timeout: float = 2.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout)

    async def __call__(self, address: str, path: str) -> bool:
        try:
            response = await self._client.get(f"http://{address}{path}")
        except httpx.HTTPError:
            return False
        return response.is_success

    async def aclose(self) -> None:
        await self._client.aclose()
