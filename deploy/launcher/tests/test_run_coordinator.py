"""The run queue as dagster.yaml configures it: Dagster's daemon looks at it every 0.5 s.

The daemon, its loop and the coordinator's queueing are Dagster's; only the look at the queue
(the iteration's body) is replaced where the test counts looks."""

import inspect
import threading
import time
from pathlib import Path

import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator as DagsterQueuedRunCoordinator
from dagster._core.test_utils import instance_for_test
from dagster._daemon.controller import create_daemon_of_type
from dagster._daemon.daemon import IntervalDaemon
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dataplatform_launcher.run_coordinator import SHORTEST_INTERVAL_SECONDS, QueuedRunCoordinator

DAGSTER_YAML = Path(__file__).parents[3] / "dagster.yaml"


def run_coordinator_section(**config) -> dict:
    section = yaml.safe_load(DAGSTER_YAML.read_text())["run_coordinator"]
    return {**section, "config": {**section["config"], **config}}


def queue_daemon(**config):
    """The daemon Dagster's controller builds for an instance with dagster.yaml's queue."""
    with instance_for_test(overrides={"run_coordinator": run_coordinator_section(**config)}) as instance:
        return instance.run_coordinator, create_daemon_of_type(QueuedRunCoordinatorDaemon.daemon_type(), instance)


def look_times(daemon: QueuedRunCoordinatorDaemon, monkeypatch, seconds: float) -> list[float]:
    """When Dagster's loop looked at the queue, run for `seconds`."""
    looked: list[float] = []

    def run_iteration(context):
        looked.append(time.monotonic())
        yield

    monkeypatch.setattr(daemon, "run_iteration", run_iteration)
    deadline = time.monotonic() + seconds
    for _ in daemon.core_loop(None, threading.Event()):
        if time.monotonic() >= deadline:
            break
    return looked


def test_dagster_yaml_has_the_queue_looked_at_every_half_second(monkeypatch):
    coordinator, daemon = queue_daemon()
    assert isinstance(coordinator, QueuedRunCoordinator)
    assert isinstance(coordinator, DagsterQueuedRunCoordinator)  # what Dagster's daemon requires
    assert daemon.interval_seconds == 0.5
    looked = look_times(daemon, monkeypatch, 3.2)
    assert len(looked) >= 6, looked
    gaps = [b - a for a, b in zip(looked, looked[1:])]
    assert all(0.45 < gap < 0.8 for gap in gaps), gaps


def test_the_rest_of_the_queue_is_dagsters():
    coordinator, _ = queue_daemon()
    config = run_coordinator_section()["config"]
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == config["max_concurrent_runs"]
    assert queue.tag_concurrency_limits == config["tag_concurrency_limits"]
    assert (coordinator.dequeue_use_threads, coordinator.dequeue_num_workers) == (True, 4)


def test_whole_seconds_still_work():
    _, daemon = queue_daemon(dequeue_interval_seconds=2)
    assert daemon.interval_seconds == 2


def test_an_interval_the_loop_cannot_keep_is_refused():
    with pytest.raises(ValueError, match="at most every 0.5 s"):
        queue_daemon(dequeue_interval_seconds=0.1)


def test_dagsters_loop_still_waits_in_half_seconds():
    # Why 0.5 s is the shortest: IntervalDaemon.core_loop waits `shutdown_event.wait(0.5)` at a
    # time. A release that changes it is seen here.
    assert f"shutdown_event.wait({SHORTEST_INTERVAL_SECONDS})" in inspect.getsource(IntervalDaemon.core_loop)
