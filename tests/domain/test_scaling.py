"""Scaling rules without a controller: cron jobs in force, bounds, recommendations, checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelport.domain.errors import Invalid
from modelport.domain.scaling import (
    Autoscaling,
    Bounds,
    ScaleJob,
    bounds,
    check_autoscaling,
    check_jobs,
    job_in_force,
    last_fired,
    recommend,
)

# a Wednesday
NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
MORNING = ScaleJob("0 9 * * *", replicas=4, name="morning")
EVENING = ScaleJob("0 18 * * *", replicas=1, name="evening")


def test_a_job_last_fired_at_its_previous_time() -> None:
    assert last_fired(MORNING, NOON) == datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    assert last_fired(EVENING, NOON) == datetime(2026, 11, 17, 18, 0, tzinfo=UTC)


def test_excluded_dates_are_passed_over() -> None:
    job = ScaleJob("0 9 * * *", replicas=4, exclude_dates=("2026-11-18", "2026-11-17"))
    assert last_fired(job, NOON) == datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_the_job_that_fired_last_since_the_scaling_was_set_is_in_force() -> None:
    jobs = [MORNING, EVENING]
    assert job_in_force(jobs, None, NOON) == MORNING
    assert job_in_force(jobs, datetime(2026, 11, 18, 10, 0, tzinfo=UTC), NOON) is None
    evening = datetime(2026, 11, 18, 19, 0, tzinfo=UTC)
    assert job_in_force(jobs, datetime(2026, 11, 18, 10, 0, tzinfo=UTC), evening) == EVENING


def test_without_autoscaling_the_bounds_are_one_count() -> None:
    assert bounds(2, None, [], None, NOON) == Bounds(2, 2)
    assert bounds(2, None, [MORNING, EVENING], None, NOON) == Bounds(4, 4)
    set_after_the_job = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    assert bounds(2, None, [MORNING, EVENING], set_after_the_job, NOON) == Bounds(2, 2)


def test_with_autoscaling_a_job_sets_the_bounds() -> None:
    auto = Autoscaling(min_replicas=1, max_replicas=8)
    assert bounds(1, auto, [], None, NOON) == Bounds(1, 8)
    assert bounds(1, auto, [MORNING], None, NOON) == Bounds(4, 8)  # replicas: the floor
    both = ScaleJob("0 9 * * *", min_replicas=2, max_replicas=3)
    assert bounds(1, auto, [both], None, NOON) == Bounds(2, 3)
    above = ScaleJob("0 9 * * *", replicas=10)
    assert bounds(1, auto, [above], None, NOON) == Bounds(10, 10)


@pytest.mark.parametrize(
    ("in_flight", "target", "held", "want"),
    [(0, 1, 0, 0), (0, 1, 2, 1), (0.2, 1, 0, 1), (4, 2, 0, 2), (4.1, 2, 0, 3), (6, 3, 0, 2)],
)
def test_recommend(in_flight: float, target: float, held: int, want: int) -> None:
    assert recommend(in_flight, target, held) == want


@pytest.mark.parametrize(
    ("a", "field"),
    [
        (Autoscaling(min_replicas=-1), "a.min_replicas"),
        (Autoscaling(max_replicas=65), "a.max_replicas"),
        (Autoscaling(min_replicas=3, max_replicas=2), "a.max_replicas"),
        (Autoscaling(min_replicas=0, max_replicas=0), "a.max_replicas"),
        (Autoscaling(target=0), "a.target"),
        (Autoscaling(target=float("nan")), "a.target"),
        (Autoscaling(scale_down_delay=-1), "a.scale_down_delay"),
        (Autoscaling(scale_up_delay=float("inf")), "a.scale_up_delay"),
    ],
)
def test_bad_autoscaling_names_its_field(a: Autoscaling, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_autoscaling("a", a)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("job", "field"),
    [
        (ScaleJob("0 9 * *", replicas=1), "j[0].schedule"),
        (ScaleJob("0 9 * * * *", replicas=1), "j[0].schedule"),
        (ScaleJob("not cron at all x", replicas=1), "j[0].schedule"),
        (ScaleJob("0 9 * * *"), "j[0].replicas"),
        (ScaleJob("0 9 * * *", replicas=99), "j[0].replicas"),
        (ScaleJob("0 9 * * *", min_replicas=3, max_replicas=2), "j[0].max_replicas"),
        (ScaleJob("0 9 * * *", replicas=1, exclude_dates=("18/11/2026",)), "j[0].exclude_dates[0]"),
        (ScaleJob("0 9 * * *", replicas=1, name="x" * 65), "j[0].name"),
    ],
)
def test_a_bad_job_names_its_field(job: ScaleJob, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_jobs("j", [job])
    assert caught.value.field == field


def test_at_most_sixteen_jobs() -> None:
    with pytest.raises(Invalid) as caught:
        check_jobs("j", [MORNING] * 17)
    assert caught.value.field == "j"
