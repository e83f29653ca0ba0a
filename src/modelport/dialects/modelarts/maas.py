"""The MaaS custom-endpoint service list (C.8): `{"data": [InferServerInfo], "pages", "total"}`
with the v2 item schema and its upper-case enums (C.7).

`version` is the service's revision written as a version number (revision 1 → `1.0.0`,
revision 2 → `1.0.1`, …, base 100 per part) and `version_count` the revision, since every
spec change of a Modelport service is a new revision. `pages` is the number of pages of
`limit` records (0 when there are none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelport.dialects.modelarts import status
from modelport.dialects.modelarts.times import epoch_ms
from modelport.domain.services import AuthType, Service

AUTH_TYPES = {AuthType.KEY: "API_KEY", AuthType.NONE: "NONE"}


def version(revision: int) -> str:
    n = max(revision, 1) - 1
    return f"{1 + n // 10000}.{n // 100 % 100}.{n % 100}"


def item(svc: Service) -> dict[str, Any]:
    return {
        "id": svc.id,
        "name": svc.name,
        "status": status.maas(svc.status),
        "version": version(svc.revision),
        "version_count": svc.revision,
        "description": svc.description,
        "type": "REAL_TIME",
        "deploy_type": "SINGLE",
        "user_name": svc.owner,
        "workspace_id": svc.workspace,
        "create_at": epoch_ms(svc.created_at),
        "update_at": epoch_ms(svc.updated_at),
        "auth_type": AUTH_TYPES[svc.auth_type],
    }


def page(services: Sequence[Service], total: int, limit: int) -> dict[str, Any]:
    return {
        "data": [item(s) for s in services],
        "pages": -(-total // limit) if limit else 0,
        "total": total,
    }
