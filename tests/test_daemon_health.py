"""The daemon's Docker health check (deploy/platform/daemon_health.py) asks what
`dagster-daemon liveness-check` asks, for the daemons this instance runs."""

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("daemon_health", ROOT / "deploy" / "platform" / "daemon_health.py")
daemon_health = importlib.util.module_from_spec(spec)
spec.loader.exec_module(daemon_health)

NOW = datetime(2026, 11, 30, 12, 0, 0)


def test_it_expects_the_daemons_dagster_requires_for_this_instance():
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    # What decides the daemons: the run queue, run monitoring, automation, schedules and sensors.
    # Storage, the run launcher and compute logs need Postgres, Docker and S3, and decide none.
    for needs_services in ("storage", "run_launcher", "compute_logs", "local_artifact_storage"):
        del config[needs_services]
    with dg.instance_for_test(overrides=config) as instance:
        assert daemon_health.DAEMONS == set(instance.get_required_daemon_types())


def test_healthy_when_every_daemon_beat_recently():
    assert daemon_health.problems({d: NOW - timedelta(seconds=40) for d in daemon_health.DAEMONS}, NOW) == []


def test_a_daemon_that_never_beat_or_fell_silent_is_named():
    beats = {d: NOW for d in daemon_health.DAEMONS if d != "SENSOR"}
    beats["BACKFILL"] = NOW - timedelta(minutes=6)
    assert daemon_health.problems(beats, NOW) == ["no heartbeat yet from SENSOR", "BACKFILL silent for 360s"]
    assert daemon_health.problems({}, NOW)[0].startswith("no heartbeat yet from ASSET, BACKFILL")
