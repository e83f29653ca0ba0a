"""Events: status changes and warnings, for people and for the dialects' conditions."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from modelport.domain.ids import EventId, ProjectId


class EventType(enum.StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True, slots=True)
class Event:
    id: EventId
    project_id: ProjectId
    object_kind: str  # "service" | "deployment" | "replica"
    object_id: str
    service_id: str
    type: EventType
    reason: str
    message: str
    at: datetime
