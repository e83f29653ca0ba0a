"""Status mapping between Modelport's derived status and TI-ONE's `Status` strings.

    Modelport    TI-ONE
    pending      Pending      (placement waits for resources)
    deploying    Waiting      (replicas starting, first start or scale-up)
    running      Normal
    degraded     Abnormal     (some replicas missing)
    failed       Abnormal     (replicas keep failing)
    stopping     Stopping
    stopped      Stopped
    deleting     Stopping     (not shown: deleted groups are hidden from this dialect)

The mapping is a function of the status column alone, so a `Status` filter compiles to SQL:
`native_statuses` turns TI-ONE names back into the Modelport statuses they stand for. The
TI-ONE values `CREATING`, `CREATE_FAILED` and `TIMEOUT_EXCEPTION` exist in the vendor's enum
but stand for no Modelport status; filtering on them matches nothing.
"""

from __future__ import annotations

from modelport.domain.services import Status

TO_TIONE: dict[Status, str] = {
    Status.PENDING: "Pending",
    Status.DEPLOYING: "Waiting",
    Status.RUNNING: "Normal",
    Status.DEGRADED: "Abnormal",
    Status.FAILED: "Abnormal",
    Status.STOPPING: "Stopping",
    Status.STOPPED: "Stopped",
    Status.DELETING: "Stopping",
}

# every value of the vendor's enum (D.7), in its order
TIONE_VALUES: tuple[str, ...] = (
    "CREATING",
    "CREATE_FAILED",
    "TIMEOUT_EXCEPTION",
    "Normal",
    "Stopped",
    "Stopping",
    "Abnormal",
    "Pending",
    "Waiting",
)


def to_tione(status: Status) -> str:
    return TO_TIONE[status]


def native_statuses(names: set[str]) -> list[str]:
    """The Modelport statuses (values, sorted) that show as one of the TI-ONE `names`."""
    return sorted(s.value for s, name in TO_TIONE.items() if name in names)


def matching_names(fragment: str) -> set[str]:
    """TI-ONE status names that contain `fragment`, ignoring case (a `Fuzzy` status filter)."""
    needle = fragment.lower()
    return {name for name in TIONE_VALUES if needle in name.lower()}
