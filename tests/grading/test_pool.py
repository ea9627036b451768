"""The worker pool: results in order, budget kills and replaces workers, failures are contained."""

from __future__ import annotations

import signal

from surestep.grading.pool import WorkerPool
from tests.grading import pool_helpers

SCHEDULING_SLACK = 5.0
"""How late the parent may notice an overrun on a loaded single-core machine."""


def test_results_come_back_in_input_order():
    with WorkerPool(pool_helpers.square_after, workers=2, budget_seconds=10) as pool:
        results = pool.map([(0.02 * (5 - i), i) for i in range(6)])
    assert [r.value for r in results] == [0, 1, 4, 9, 16, 25]
    assert not any(r.timed_out or r.crashed for r in results)


def test_overrunning_item_is_killed_and_the_rest_still_finish():
    original = signal.getsignal(signal.SIGTERM)
    with WorkerPool(pool_helpers.spin, workers=2, budget_seconds=0.3) as pool:
        results = pool.map([(1,), (2,), (3,)])
        assert all(r.timed_out for r in results)
        assert all(0.3 <= r.seconds < 0.3 + SCHEDULING_SLACK for r in results)
        assert pool.replaced == 3
    assert signal.getsignal(signal.SIGTERM) == original
    # A replacement worker's start-up counts against its first item: the budget leaves room for a slow fork.
    with WorkerPool(pool_helpers.square_after, workers=1, budget_seconds=3.0) as pool:
        mixed = pool.map([(600.0, 1), (0.0, 2), (0.0, 3)])
        assert [r.timed_out for r in mixed] == [True, False, False]
        assert [r.value for r in mixed[1:]] == [4, 9]


def test_exceptions_and_dead_workers_are_contained():
    with WorkerPool(pool_helpers.fail, workers=1, budget_seconds=5) as pool:
        (result,) = pool.map([(1,)])
        assert result.crashed and result.value is None
    with WorkerPool(pool_helpers.die, workers=1, budget_seconds=5) as pool:
        results = pool.map([(1,), (2,)])
        assert all(r.crashed for r in results)
        assert pool.replaced == 2


def test_empty_input():
    with WorkerPool(pool_helpers.square_after, workers=2) as pool:
        assert pool.map([]) == []


def test_a_slow_worker_start_does_not_count_against_an_items_budget():
    from tests.grading import slow_start_helpers

    # each worker needs 1.5 s to start; every item needs microseconds of a 1 s budget
    with WorkerPool(slow_start_helpers.double, workers=1, budget_seconds=1.0) as pool:
        results = pool.map([(1,), (2,), (3,)])
    assert [r.value for r in results] == [2, 4, 6]
    assert not any(r.timed_out or r.crashed for r in results)
