"""Opaque, short, prefixed ids (`svc-…`, `dep-…`, `mdl-…`).

Every dialect shows them unchanged, so they must be URL-safe and stable.
"""

from __future__ import annotations

import secrets
from typing import NewType

ProjectId = NewType("ProjectId", str)
ModelId = NewType("ModelId", str)
RuntimeId = NewType("RuntimeId", str)
ServiceId = NewType("ServiceId", str)
DeploymentId = NewType("DeploymentId", str)
ReplicaId = NewType("ReplicaId", str)
EventId = NewType("EventId", str)
ApiKeyId = NewType("ApiKeyId", str)

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

PREFIXES = {
    "project": "prj",
    "model": "mdl",
    "runtime": "rt",
    "service": "svc",
    "deployment": "dep",
    "replica": "rep",
    "event": "evt",
    "api_key": "key",
    "user": "usr",
}


def new_id(kind: str, length: int = 12) -> str:
    """Return a fresh id for `kind` (a key of `PREFIXES`), e.g. `svc-3f9k2m8q1z0a`."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    return f"{PREFIXES[kind]}-{body}"
