"""The benchmark at its smoke size: it runs end to end on the real stack, every figure
P1-P7 is there, and the platform's daily_summary equals the plain polars script's. No timing is
asserted (these machines are noisy); the figures are kept in test-artifacts/bench.json.

It runs first among the e2e tests: P7 measures the fixture's own `up` on empty volumes.
"""

import json
import os
import subprocess
import sys

import pytest

from harness import ARTIFACTS, ROOT
from lake.partitions import DAILY_BACKFILL_POLICY

import dagster_gql as gql

pytestmark = pytest.mark.e2e

FIGURES = ("P1", "P2", "P3", "P4", "P5", "P6", "P7")


def test_the_smoke_benchmark_measures_every_figure_beside_its_baseline(stack):
    out = ARTIFACTS / "bench.json"
    args = [sys.executable, str(ROOT / "bench" / "bench.py"), "--size", "smoke", "--reuse", "--out", str(out)]
    fresh = stack.cold_up_started_at is not None
    if fresh:
        args += ["--up-started-at", str(stack.cold_up_started_at), "--up-healthy-s", str(stack.cold_up_healthy_s)]
    result = subprocess.run(args, cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=1500)
    (ARTIFACTS / "bench.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    figures = json.loads(out.read_text())["figures"]
    expected = FIGURES if fresh or os.environ.get("E2E_REUSE") != "1" else FIGURES[:-1]
    assert sorted(figures) == sorted(expected)
    p1, p2, p3 = figures["P1"], figures["P2"], figures["P3"]
    assert p1["launch_to_success_s"]["n"] == p1["floor_s"]["n"] > 0 and p1["ratio_to_floor"] > 0
    assert p2["summaries_equal"], p2["summary_mismatches"]
    assert p2["backfill_status"] in ("COMPLETED", "COMPLETED_SUCCESS")
    assert p2["plain_polars_s"] > 0 and p2["one_per_run_s"] > 0 and p2["run_peak_memory_mb"]["max"] > 0
    assert p3["write_ratio"] > 0 and p3["read_ratio"] > 0
    assert figures["P4"]["idle_dagster_services_mb"] > 0 and figures["P4"]["above_base_mb"]["ingest"] > 0
    assert 0 < figures["P4"]["idle_host_cpu_busy"] <= 1
    assert figures["P5"]["query_s"]["n"] > 0
    # The smoke's few files fit in one tick's share of the listing: the first tick asks to load every
    # day of P6's files (a run covers at most a backfill run's days) and lists them all.
    p6, days_per_run = figures["P6"], DAILY_BACKFILL_POLICY.max_partitions_per_run
    assert p6["landing_files"] > 0 and p6["run_requests_first_tick"] >= -(-p6["landing_days"] // days_per_run)
    assert p6["sweep_ticks"] == 1
    if "P7" in figures:
        assert figures["P7"]["seeded_days"] > 0 and figures["P7"]["up_to_kpi_report_s"] > 0
    # The bench restores the sensors it stopped.
    sensors = [("ingest", "landing_files_sensor"), *gql.sensors(stack.client, gql.AUTOMATION_SENSOR_TYPES)]
    assert ("transforms", "transforms_automation") in sensors
    for location, sensor in sensors:
        assert gql.sensor_state(stack.client, location, sensor) == "RUNNING", sensor
