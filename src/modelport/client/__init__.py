"""The Python client of a Modelport server: `Client` and the `ApiError` it raises.

Users import it as `from modelport import Client`; the CLI (`modelport.cli`) is built on it.
"""

from __future__ import annotations

from modelport.client.client import ApiError, Client

__all__ = ["ApiError", "Client"]
