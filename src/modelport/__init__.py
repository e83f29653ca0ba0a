"""Modelport: self-hosted model inference services.

The public surface is the Python client (`Client`, `ApiError`) and `__version__`; the server,
the CLI and everything else are reached through their own modules. A test pins `__all__`.
"""

from __future__ import annotations

from modelport.client import ApiError, Client

__version__ = "0.1.0"

__all__ = ["ApiError", "Client", "__version__"]
