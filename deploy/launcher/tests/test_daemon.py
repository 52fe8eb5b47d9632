"""The daemon wrapper: Dagster's own backfill loop, pausing BACKFILL_INTERVAL_SECONDS between
iterations instead of 30 s. Only the iteration's body is replaced; the loop is Dagster's."""

import logging
import threading
import time

import dagster._daemon.controller as controller
import pytest
from dagster._daemon import backfill
from dataplatform_launcher import daemon


@pytest.fixture
def dagster_interval(monkeypatch):
    """Dagster's interval, put back after the test whatever the wrapper set."""
    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", controller.DEFAULT_DAEMON_INTERVAL_SECONDS)


def iteration_times(monkeypatch, seconds: float) -> list[float]:
    """When Dagster's backfill loop started an iteration, run for `seconds`."""
    started: list[float] = []

    def iteration(*args, **kwargs):
        started.append(time.monotonic())
        yield

    monkeypatch.setattr(backfill, "execute_backfill_iteration", iteration)
    loop = backfill.execute_backfill_iteration_loop(
        None, logging.getLogger("test"), threading.Event(), until=time.time() + seconds
    )
    for _ in loop:
        pass
    return started


def test_the_backfill_daemon_iterates_every_interval(monkeypatch, dagster_interval):
    interval = daemon.BACKFILL_INTERVAL_SECONDS
    daemon.use_backfill_interval()
    started = iteration_times(monkeypatch, 2 * interval + 1)
    assert len(started) == 3
    gaps = [b - a for a, b in zip(started, started[1:])]
    assert all(interval - 0.1 < gap < interval + 1 for gap in gaps), gaps


def test_main_sets_the_interval_before_dagster_starts(monkeypatch, dagster_interval):
    seen: list[int] = []
    monkeypatch.setattr(daemon, "dagster_daemon", lambda: seen.append(controller.DEFAULT_DAEMON_INTERVAL_SECONDS))
    daemon.main()
    assert seen == [daemon.BACKFILL_INTERVAL_SECONDS]


def test_without_it_dagster_waits_30_s():
    # What the wrapper changes, still Dagster's default (a new release may make it a setting).
    assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == 30
