"""Service status in ModelArts' two enums (C.7), and back for the list filter.

v1 (service details and list): lower-case `running`, `deploying`, `concerning`, `failed`,
`stopped`, `stopping`, `deleting`, `waiting` (resource queueing); `pending` and `finished` are
valid filter values that no Modelport service shows. v2/MaaS: upper-case, no queueing state, so
a service waiting for resources is `DEPLOYING`.
"""

from __future__ import annotations

from types import MappingProxyType

from modelport.domain.services import Status

V1: MappingProxyType[Status, str] = MappingProxyType(
    {
        Status.PENDING: "waiting",
        Status.DEPLOYING: "deploying",
        Status.RUNNING: "running",
        Status.DEGRADED: "concerning",
        Status.FAILED: "failed",
        Status.STOPPING: "stopping",
        Status.STOPPED: "stopped",
        Status.DELETING: "deleting",
    }
)

MAAS: MappingProxyType[Status, str] = MappingProxyType(
    {
        Status.PENDING: "DEPLOYING",
        Status.DEPLOYING: "DEPLOYING",
        Status.RUNNING: "RUNNING",
        Status.DEGRADED: "CONCERNING",
        Status.FAILED: "FAILED",
        Status.STOPPING: "STOPPING",
        Status.STOPPED: "STOPPED",
        Status.DELETING: "DELETING",
    }
)

# every value the v1 list accepts as `status`
V1_VALUES = (
    "running",
    "deploying",
    "concerning",
    "failed",
    "stopped",
    "finished",
    "stopping",
    "deleting",
    "pending",
    "waiting",
)


def v1(status: Status) -> str:
    return V1[status]


def maas(status: Status) -> str:
    return MAAS[status]


def native_of_v1(value: str) -> list[str]:
    """The Modelport statuses a v1 `status` filter value selects (empty: none can match)."""
    return [s.value for s, shown in V1.items() if shown == value]
