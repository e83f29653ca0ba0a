"""Registered models: one model version, an artifact on disk (or none) and its framework."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from modelport.domain.ids import ModelId, ProjectId


class Framework(enum.StrEnum):
    SKLEARN = "sklearn"
    ONNX = "onnx"
    SENTENCE_TRANSFORMERS = "sentence-transformers"
    TRANSFORMERS = "transformers"  # a causal LM directory saved by transformers
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Model:
    id: ModelId
    project_id: ProjectId
    name: str
    version: str
    framework: Framework
    uri: str | None
    size: int
    description: str
    created_at: datetime
    revision: int = 1
