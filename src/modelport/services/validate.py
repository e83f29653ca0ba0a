"""Input checks shared by the use cases; each failure names its field."""

from __future__ import annotations

import re

from modelport.domain.errors import Invalid
from modelport.domain.services import TrafficPolicy

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_REPLICAS = 64


def name(field: str, value: str) -> str:
    if not NAME.match(value):
        raise Invalid(
            field,
            "1-128 characters: letters, digits, '.', '_', '-'; starting with a letter or digit",
        )
    return value


def text(field: str, value: str, limit: int = 4096) -> str:
    if len(value) > limit:
        raise Invalid(field, f"at most {limit} characters")
    return value


def replicas(field: str, value: int) -> int:
    if not 0 <= value <= MAX_REPLICAS:
        raise Invalid(field, f"must be between 0 and {MAX_REPLICAS}")
    return value


# the largest quantity (cpu, MiB, gpus, seconds) taken: what a PostgreSQL INTEGER column holds
MAX_QUANTITY = 2**31 - 1


def positive(field: str, value: float) -> float:
    """More than 0 and at most `MAX_QUANTITY`: NaN and infinities fail too."""
    if not 0 < value <= MAX_QUANTITY:
        raise Invalid(field, f"must be greater than 0 and at most {MAX_QUANTITY}")
    return value


def not_negative(field: str, value: float) -> float:
    """0 to `MAX_QUANTITY`: NaN and infinities fail too."""
    if not 0 <= value <= MAX_QUANTITY:
        raise Invalid(field, f"must be between 0 and {MAX_QUANTITY}")
    return value


def tags(field: str, value: dict[str, str]) -> dict[str, str]:
    if len(value) > 50:
        raise Invalid(field, "at most 50 tags")
    for k, v in value.items():
        if not k or len(k) > 128 or len(v) > 256:
            raise Invalid(f"{field}.{k}", "tag keys 1-128 characters, values at most 256")
    return value


def env(field: str, value: dict[str, str]) -> dict[str, str]:
    """Names as a shell takes them; values without NUL, which no process environment holds
    (the message names the variable, never its value: env values are often secrets)."""
    for k, v in value.items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
            raise Invalid(f"{field}.{k}", "not a valid environment variable name")
        if "\0" in v:
            raise Invalid(f"{field}.{k}", "a value cannot contain a NUL character")
    return value


MAX_TIMEOUT = 3600.0
MAX_RATE_LIMIT = 1e6
MAX_CONCURRENCY = 100_000


def traffic(field: str, value: TrafficPolicy) -> TrafficPolicy:
    """A service's traffic policy; each bound is checked so that NaN fails too."""
    if not 0 < value.timeout <= MAX_TIMEOUT:
        raise Invalid(f"{field}.timeout", f"must be greater than 0 and at most {MAX_TIMEOUT:g}")
    if value.rate_limit is not None and not 0 < value.rate_limit <= MAX_RATE_LIMIT:
        raise Invalid(
            f"{field}.rate_limit", f"must be greater than 0 and at most {MAX_RATE_LIMIT:g}, or null"
        )
    if value.max_concurrency is not None and not 1 <= value.max_concurrency <= MAX_CONCURRENCY:
        raise Invalid(
            f"{field}.max_concurrency", f"must be between 1 and {MAX_CONCURRENCY}, or null"
        )
    return value
