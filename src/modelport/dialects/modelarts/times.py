"""Times as ModelArts shows them: milliseconds since the epoch (v1 and MaaS alike), and the
IAM token API's ISO-8601 strings with microseconds and a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(at: datetime | None) -> int | None:
    if at is None:
        return None
    if at.tzinfo is None:  # the store hands out aware datetimes; be safe with naive ones
        at = at.replace(tzinfo=UTC)
    return (at - EPOCH) // timedelta(milliseconds=1)


def iam_time(at: datetime) -> str:
    """`2020-01-04T09:05:22.701000Z`."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
