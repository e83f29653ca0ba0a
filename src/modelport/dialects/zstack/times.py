"""ZStack's time format: Gson's default US pattern `MMM d, yyyy h:mm:ss a` (spec B.4).

`format_time` renders `createDate`, `lastOpDate` and a session's dates, e.g.
`Oct 28, 2025 2:09:26 PM`, in UTC. `parse_time` reads a time given in a `q` condition: that
format, `yyyy-MM-dd HH:mm:ss`, or ISO 8601; a time without a zone is UTC. Both work at
whole seconds, the resolution times are shown in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from modelport.dialects.zstack import errors

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_GSON = re.compile(
    r"^(?P<month>[A-Za-z]{3}) (?P<day>\d{1,2}), (?P<year>\d{4}) "
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})\s(?P<half>AM|PM|am|pm)$"
)


def format_time(at: datetime) -> str:
    """`Oct 28, 2025 2:09:26 PM` (UTC, English month names whatever the locale)."""
    at = at.astimezone(UTC)
    hour = at.hour % 12 or 12
    half = "AM" if at.hour < 12 else "PM"
    month = MONTHS[at.month - 1]
    return f"{month} {at.day}, {at.year} {hour}:{at.minute:02d}:{at.second:02d} {half}"


def parse_time(text: str) -> datetime:
    """A time from a condition value, truncated to the second. Unreadable → SYS.1007."""
    text = text.strip()
    parsed = _gson(text) or _iso(text)
    if parsed is None:
        raise errors.invalid_argument(
            f"cannot read {text!r} as a time; use 'MMM d, yyyy h:mm:ss a' (as shown), "
            "'yyyy-MM-dd HH:mm:ss' or ISO 8601"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def _gson(text: str) -> datetime | None:
    m = _GSON.match(text)
    if m is None or m["month"].title() not in MONTHS:
        return None
    hour = int(m["hour"])
    if not 1 <= hour <= 12:
        return None
    hour = hour % 12 + (12 if m["half"].upper() == "PM" else 0)
    try:
        return datetime(
            int(m["year"]),
            MONTHS.index(m["month"].title()) + 1,
            int(m["day"]),
            hour,
            int(m["minute"]),
            int(m["second"]),
        )
    except ValueError:
        return None


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
