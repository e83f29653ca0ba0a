"""`latest_attempt`: a replica's failure reason comes from its latest start only."""

from __future__ import annotations

from modelport.backends.base import START_MARKER, latest_attempt


def test_only_the_latest_attempt_is_kept() -> None:
    log = "\n".join([START_MARKER, "old error", START_MARKER, "new error", ""])
    assert latest_attempt(log) == "new error\n"


def test_a_log_without_marker_is_kept_whole() -> None:
    assert latest_attempt("some output\n") == "some output\n"
