"""The containerized platform, really started: assertions an ops team cares about.

The tests run in file order against one stack (see conftest.py) and share a few dates of data.
"""

import io
import json
import re
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

import dagster_gql as gql
from ops import BACKFILL_DONE
from ingest.demo import demo_events
from lake.partitions import DAILY_BACKFILL_POLICY

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAY = "2024-06-03"  # launched by hand, then automation
SENSOR_DAY = "2024-06-10"  # arrives while the sensor watches
BACKFILL = [(date(2024, 5, 1) + timedelta(days=i)).isoformat() for i in range(14)]
PER_RUN = DAILY_BACKFILL_POLICY.max_partitions_per_run  # days per backfill run
CHAIN = ["raw/raw_events", "staging/processed_events", "marts/daily_summary"]
shared: dict = {}


def automation_sensors(stack) -> list[tuple[str, str]]:
    """(location, sensor) of every automation sensor the deployment serves."""
    sensors = gql.sensors(stack.client, gql.AUTOMATION_SENSOR_TYPES)
    assert {location for location, _ in sensors} == {"transforms", "reporting"}, sensors
    return sensors


def land(stack, day: str, events: int = 120) -> pl.DataFrame:
    frame = demo_events(date.fromisoformat(day), events)
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    stack.s3.write_bytes(f"landing/events/{day}/e2e-{day}.parquet", buffer.getvalue())
    return frame


def expected_summary(frame: pl.DataFrame) -> tuple[float, int]:
    active = frame.filter(pl.col("status") == "active")
    return float(active["value"].fill_null(0).sum()), active.height


def lake_frame(stack, layer: str, day: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(stack.s3.read_bytes(f"{layer}/date={day}/data.parquet")))


def test_up_on_a_fresh_state_brings_every_service_up_healthy(stack):
    for service in ("postgres", "minio", "ingest", "transforms", "reporting", "webserver", "daemon"):
        assert stack.health(service) == "healthy", service
    init = stack.container("init")["State"]
    assert init["Status"] == "exited" and init["ExitCode"] == 0
    entries = {e["name"]: e for e in gql.locations(stack.client)}
    assert sorted(entries) == ["ingest", "reporting", "transforms"]
    for name, entry in entries.items():
        assert entry["status"] == "loaded", entry["error"]
        assert entry["image"] == f"dataplatform/{name}:latest"
    # The init service seeded demo landing data (DEMO_DAYS=2 in tests).
    seeded = [o.key for o in stack.s3.list("landing/events") if "/demo-" in o.key]
    assert len(seeded) == 2
    # The daemon is `dagster-daemon run` through the launcher's wrapper (a 5 s backfill pause).
    daemon = stack.compose(
        "exec", "-T", "daemon", "sh", "-c", 'tr "\\0" " " < /proc/1/cmdline; cat "$(command -v dagster-daemon)"'
    )
    assert "dagster-daemon run" in daemon and "from dataplatform_launcher.daemon import main" in daemon


def test_the_status_command_reports_services_locations_queue_and_runs(stack):
    out = stack.ops("status").stdout
    for service in ("postgres", "minio", "ingest", "transforms", "reporting", "webserver", "daemon"):
        assert re.search(rf"^  {service}\s+running\s+health=healthy", out, re.M), service
    for name in ("ingest", "transforms", "reporting"):
        assert re.search(rf"^  {name}\s+loaded\s+dataplatform/{name}:latest$", out, re.M), name
    assert re.search(r"^queue depth: \d+$", out, re.M)
    assert "UNHEALTHY" not in out
    assert re.search(r"^last runs:$", out, re.M)


def test_only_the_webserver_and_minio_are_published_and_only_on_loopback(stack):
    published = {}
    for service, info in compose_containers(stack):
        for port, bindings in (info["HostConfig"]["PortBindings"] or {}).items():
            for binding in bindings or []:
                published.setdefault(service, []).append((port, binding["HostIp"]))
    assert {k: sorted(v) for k, v in published.items()} == {
        "webserver": [("3000/tcp", "127.0.0.1")],
        "minio": [("9000/tcp", "127.0.0.1"), ("9001/tcp", "127.0.0.1")],
    }


def test_only_the_webserver_and_the_daemon_reach_the_docker_socket_and_not_as_root(stack):
    mounts = [
        service for service, info in compose_containers(stack)
        if any(m["Source"] == "/var/run/docker.sock" for m in info["Mounts"])
    ]
    assert sorted(mounts) == ["daemon", "webserver"]
    socket_gid = str(Path("/var/run/docker.sock").stat().st_gid)
    for service in ("webserver", "daemon", "ingest", "transforms", "reporting"):
        status = sh_in(stack, service, "cat", "/proc/1/status")
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
        assert uid == "10001", f"{service} runs as uid {uid}"
        if service in mounts:
            assert socket_gid in re.search(r"^Groups:(.*)$", status, re.M).group(1).split(), service


def compose_containers(stack):
    """(service, docker inspect) of every container of the stack."""
    for container in stack.compose("ps", "-q").split():
        info = json.loads(subprocess.run(["docker", "inspect", container], capture_output=True, text=True).stdout)[0]
        yield info["Config"]["Labels"]["com.docker.compose.service"], info


def sh_in(stack, service: str, *command: str) -> str:
    container = stack.compose("ps", "-q", service).split()[0]
    return subprocess.run(["docker", "exec", container, *command], capture_output=True, text=True, check=True).stdout


def test_the_nightly_schedule_is_running(stack):
    assert gql.schedule_state(stack.client, "ingest", "raw_events_nightly") == "RUNNING"


def test_a_new_landing_file_triggers_exactly_one_sensor_run(stack):
    assert gql.sensor_state(stack.client, "ingest", "landing_files_sensor") == "RUNNING"
    key = f"landing/events/{SENSOR_DAY}/e2e-{SENSOR_DAY}.parquet"
    land(stack, SENSOR_DAY)

    def runs_for_file():
        return gql.runs(stack.client, tags={"landing/file": key}, limit=None)

    runs = stack.wait_until(f"a sensor run for {key}", runs_for_file, timeout=240)
    assert len(runs) == 1
    assert runs[0]["tags"]["dagster/partition"] == SENSOR_DAY
    assert gql.wait_for_run(stack.client, runs[0]["run_id"], timeout=300) == "SUCCESS"

    # The same bytes again: same etag, so no new run, tick after tick.
    rewritten_at = time.time()
    stack.s3.write_bytes(key, stack.s3.read_bytes(key))
    stack.wait_until(
        "two landing sensor ticks after the rewrite",
        lambda: len(landing_ticks_after(stack, rewritten_at)) >= 2,
        timeout=240, every=2,
    )
    assert len(runs_for_file()) == 1
    # Later tests land data the sensor should not race with.
    gql.set_sensor_running(stack.client, "ingest", "landing_files_sensor", False)


def test_a_partition_launched_through_graphql_runs_in_an_ingest_container(stack):
    frame = land(stack, DAY)
    run_id = gql.launch_asset_run(stack.client, "ingest", [["raw", "raw_events"]], partition_key=DAY)
    assert gql.wait_for_run(stack.client, run_id, timeout=300) == "SUCCESS"
    run = next(r for r in gql.runs(stack.client, limit=50) if r["run_id"] == run_id)
    assert run["tags"]["dagster/image"] == "dataplatform/ingest:latest"
    assert run["tags"]["docker/container_id"]
    raw = lake_frame(stack, "raw/raw_events", DAY)
    assert sorted(raw["id"]) == sorted(frame["id"])
    shared["run_id"] = run_id


def test_automation_then_materializes_the_transforms_for_that_partition(stack):
    total, count = expected_summary(
        pl.read_parquet(io.BytesIO(stack.s3.read_bytes(f"landing/events/{DAY}/e2e-{DAY}.parquet")))
    )
    stack.wait_until(
        f"daily_summary for {DAY}",
        lambda: stack.s3.exists(f"marts/daily_summary/date={DAY}/data.parquet"),
        timeout=420,
    )
    summary = lake_frame(stack, "marts/daily_summary", DAY)
    assert summary["event_count"].to_list() == [count]
    assert abs(summary["total_value"][0] - total) < 1e-6
    assert lake_frame(stack, "staging/processed_events", DAY).height == count
    automated = gql.runs(
        stack.client, statuses=["SUCCESS"], tags={"dagster/sensor_name": "transforms_automation"}, limit=None
    )
    assert automated and all(r["tags"]["dagster/image"] == "dataplatform/transforms:latest" for r in automated)


def test_the_run_stdout_is_readable_after_its_container_is_gone(stack):
    run_id = shared["run_id"]
    stack.wait_until("the run container to be removed", lambda: stack.run_containers(run_id) == [], 60)
    logs = stack.wait_until(
        "captured logs in the object store", lambda: gql.run_stdout(stack.client, run_id), timeout=120
    )
    assert re.search(r"Loaded \d+ events from 1 files", logs)


def test_a_two_week_backfill_completes_in_multi_day_runs_through_a_storage_outage(stack):
    for day in BACKFILL:
        land(stack, day, events=80)
    known = {r["run_id"] for r in gql.runs(stack.client, limit=None)}
    outage: dict = {}

    def storage_outage():
        """As soon as the backfill's first run starts, the object store goes away for 100 s."""
        def started():
            return [r for r in gql.runs(stack.client, statuses=["STARTING", "STARTED"], limit=10)
                    if r["run_id"] not in known]
        try:
            stack.wait_until("the backfill's first run to start", started, timeout=900, every=0.5)
            stack.compose("stop", "minio")
            outage["stopped"] = time.monotonic()
            time.sleep(100)
        finally:
            stack.compose("start", "minio")
            outage["back"] = time.monotonic()

    drill = threading.Thread(target=storage_outage)
    drill.start()
    result = stack.ops("backfill", "--start", BACKFILL[0], "--end", BACKFILL[-1], "--wait", "--timeout", "1500")
    drill.join()
    assert outage["back"] - outage["stopped"] >= 100
    backfill_id = re.search(r"backfill (\w+):", result.stdout).group(1)
    status = gql.backfill_status(stack.client, backfill_id)
    assert status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), status
    # While the store was down, a run said so, naming the endpoint and the cause.
    messages = [m for r in status["runs"] for _, m in gql.run_event_messages(stack.client, r["run_id"])]
    assert any("object store http://minio:9000 unavailable" in m and "Could not connect" in m for m in messages)
    for day in BACKFILL:
        for layer in CHAIN:
            assert stack.s3.exists(f"{layer}/date={day}/data.parquet"), f"{layer} {day}"
    # The backfill policy's runs of at most PER_RUN days: 14 arrival days are one ingest run, not
    # fourteen. The event days are 15: the day before the first arrival day can hold that day's
    # late events, so the backfill carries it too, in transforms' runs of at most PER_RUN days.
    event_days = [(date(2024, 5, 1) - timedelta(days=1)).isoformat(), *BACKFILL]
    assert stack.s3.exists(f"marts/daily_summary/date={event_days[0]}/data.parquet")
    # Each run committed each asset's days in one insert (DAGSTER_EVENT_BATCH_SIZE): the backfill
    # daemon sees all of a run's days or none. Written one by one, a tick could see raw's days
    # part-way and request the children of those seen so far in a run of their own (CI once found
    # transforms in two runs here).
    run_ids = ", ".join(f"'{run['run_id']}'" for run in status["runs"])
    commits = stack.sql(
        "select asset_key, count(*), count(distinct xmin::text) from event_logs"
        f" where dagster_event_type = 'ASSET_MATERIALIZATION' and run_id in ({run_ids})"
        " group by run_id, asset_key"
    )
    assert sorted(int(days) for _, days, _ in commits) == [len(BACKFILL), len(event_days), len(event_days)], commits
    assert all(transactions == "1" for *_, transactions in commits), commits
    per_location: dict[str, int] = {}
    for run in status["runs"]:
        per_location[run["tags"]["dagster/code_location"]] = per_location.get(run["tags"]["dagster/code_location"], 0) + 1
        assert run["status"] == "SUCCESS"
    assert per_location == {"ingest": -(-len(BACKFILL) // PER_RUN), "transforms": -(-len(event_days) // PER_RUN)}
    shared["backfill_runs"] = len(status["runs"])


def test_redeploying_transforms_leaves_runs_in_flight_and_other_locations_alone(stack, tmp_path):
    before = {e["name"]: e for e in gql.locations(stack.client)}
    started = {s: stack.container(s)["State"]["StartedAt"] for s in ("ingest", "reporting", "daemon", "webserver")}
    context = stack.build_context(tmp_path / "v2")
    events = context / "code_locations/transforms/src/transforms/defs/events.py"
    events.write_text(re.sub(r'code_version="[^"]*"', 'code_version="e2e-v2"', events.read_text()))
    stack.ops("build", "transforms", "--tag", "e2e-v2", "--context", str(context))

    run_id = gql.launch_asset_run(
        stack.client, "transforms", [["staging", "processed_events"], ["marts", "daily_summary"]],
        tags={"dagster/asset_partition_range_start": BACKFILL[0], "dagster/asset_partition_range_end": BACKFILL[6]},
    )
    stack.wait_until("the run to start", lambda: gql.run_status(stack.client, run_id) in ("STARTING", "STARTED"), 900, 0.5)
    result = stack.ops("redeploy", "transforms", "--tag", "e2e-v2", "--no-build")
    assert "transforms now runs dataplatform/transforms:e2e-v2" in result.stdout

    assert gql.wait_for_run(stack.client, run_id, timeout=300) == "SUCCESS"
    run = next(r for r in gql.runs(stack.client, limit=50) if r["run_id"] == run_id)
    assert run["tags"]["dagster/image"] == "dataplatform/transforms:latest"
    assert stack.container("transforms")["Config"]["Image"] == "dataplatform/transforms:e2e-v2"
    assert code_version(stack, ["staging", "processed_events"]) == "e2e-v2"
    after = {e["name"]: e for e in gql.locations(stack.client)}
    assert after["transforms"]["image"] == "dataplatform/transforms:e2e-v2"
    for name in ("ingest", "reporting"):
        assert after[name]["server_id"] == before[name]["server_id"], name
    assert {s: stack.container(s)["State"]["StartedAt"] for s in started} == started


# The broken build: its definitions need a variable the runtime environment does not set.
MISSING_SETTING = "TRANSFORMS_E2E_REQUIRED_SETTING"


def test_a_broken_transforms_image_is_rolled_back_with_a_clear_message(stack, tmp_path):
    context = stack.build_context(tmp_path / "broken")
    events = context / "code_locations/transforms/src/transforms/defs/events.py"
    events.write_text(f'import os\nos.environ["{MISSING_SETTING}"]\n' + events.read_text())
    stack.ops("build", "transforms", "--tag", "e2e-broken", "--context", str(context))

    result = stack.ops("redeploy", "transforms", "--tag", "e2e-broken", "--no-build", check=False)

    assert result.returncode == 1
    assert "ROLLBACK: dataplatform/transforms:e2e-broken failed" in result.stderr
    assert MISSING_SETTING in result.stderr
    assert "back on dataplatform/transforms:e2e-v2" in result.stderr
    entry = next(e for e in gql.locations(stack.client) if e["name"] == "transforms")
    assert entry["status"] == "loaded" and entry["image"] == "dataplatform/transforms:e2e-v2"
    assert stack.health("transforms") == "healthy"


def test_a_location_failing_to_load_at_up_leaves_the_rest_running_and_says_why(stack):
    """`docker compose up` with the broken transforms build (no rollback this time): the other
    locations, the webserver and the daemon carry on, and the error is named where people look."""
    started = time.monotonic()
    # A variable in the shell beats the env file's (where ops.py keeps transforms on e2e-v2).
    stack.compose("up", "-d", timeout=600, env={"TRANSFORMS_TAG": "e2e-broken"})
    assert time.monotonic() - started < 300, "compose up hung on the broken location"
    try:
        def settled():
            entries = {e["name"]: e for e in gql.locations(stack.client)}
            broken = entries["transforms"]
            return broken["status"] != "loaded" and MISSING_SETTING in (broken["error"] or "") and entries
        entries = stack.wait_until("transforms to show its load error", settled, timeout=300)
        assert entries["ingest"]["status"] == entries["reporting"]["status"] == "loaded"
        for service in ("webserver", "daemon", "ingest", "reporting"):
            assert stack.health(service) == "healthy", service
        status = stack.ops("status").stdout
        line = next(l for l in status.splitlines() if l.strip().startswith("transforms ") and "dataplatform/" not in l)
        assert MISSING_SETTING in status[status.index(line):], status
        run_id = gql.launch_asset_run(stack.client, "ingest", [["raw", "raw_events"]], partition_key=DAY)
        assert gql.wait_for_run(stack.client, run_id, timeout=600) == "SUCCESS"
    finally:
        stack.ops("redeploy", "transforms", "--tag", "e2e-v2", "--no-build")
    assert next(e for e in gql.locations(stack.client) if e["name"] == "transforms")["status"] == "loaded"


def test_a_killed_run_container_is_marked_failed_and_the_retry_succeeds(stack):
    run_id = gql.launch_asset_run(
        stack.client, "ingest", [["raw", "raw_events"]],
        tags={"dagster/asset_partition_range_start": BACKFILL[0], "dagster/asset_partition_range_end": BACKFILL[6]},
    )
    stack.wait_until("the run to start", lambda: gql.run_status(stack.client, run_id) == "STARTED", 900, 0.3)
    container = stack.run_containers(run_id)
    assert container, "no container for the started run"
    # The location's run memory limit (INGEST_RUN_MEMORY, 2g by default), swap included.
    host_config = json.loads(subprocess.run(["docker", "inspect", container[0]], capture_output=True, text=True).stdout)[0]["HostConfig"]
    assert host_config["Memory"] == host_config["MemorySwap"] == 2 * 1024**3
    subprocess.run(["docker", "kill", container[0]], check=True, capture_output=True)

    assert gql.wait_for_run(stack.client, run_id, timeout=240) == "FAILURE"
    messages = " ".join(m for _, m in gql.run_event_messages(stack.client, run_id))
    assert "container" in messages.lower() or "worker" in messages.lower()
    try:
        retry = stack.wait_until(
            "a retry of the killed run",
            lambda: gql.runs(stack.client, tags={"dagster/parent_run_id": run_id}, limit=None),
            timeout=240,
        )
    except AssertionError as missing:
        # Seen once in a full run (will_retry=true, no retry): say what the retry daemon saw.
        tags = next(r["tags"] for r in gql.runs(stack.client, limit=None) if r["run_id"] == run_id)
        daemon = [line for line in stack.compose("logs", "--no-color", "--tail", "3000", "daemon").splitlines()
                  if run_id in line or "EventLogConsumer" in line]
        raise AssertionError(f"{missing}\nrun tags: {tags}\ndaemon log:\n" + "\n".join(daemon[-40:])) from None
    assert gql.wait_for_run(stack.client, retry[0]["run_id"], timeout=300) == "SUCCESS"


OOM_DAY = "2024-07-01"
OOM_LIMIT = "320m"  # a run worker holds about 230 MB with a small day; this day's file needs more


def oversized_events(day: str, rows: int) -> pl.DataFrame:
    """A valid day of `rows` events: demo rows repeated, each with its own id."""
    sample = demo_events(date.fromisoformat(day), 1000)
    return pl.concat([sample] * (rows // 1000)).with_columns(id=pl.format("oom-{}", pl.int_range(pl.len())))


def test_a_run_over_its_memory_limit_fails_saying_so_is_not_retried_and_nothing_else_suffers(stack):
    gql.set_sensor_running(stack.client, "ingest", "landing_files_sensor", False)
    stack.compose("up", "-d", "--no-deps", "ingest", env={"INGEST_RUN_MEMORY": OOM_LIMIT})
    stack.wait_healthy()
    gql.reload_location(stack.client, "ingest")  # runs launched from now on carry the new limit
    key = f"landing/events/{OOM_DAY}/e2e-oom-{OOM_DAY}.parquet"
    buffer = io.BytesIO()
    oversized_events(OOM_DAY, 3_000_000).write_parquet(buffer)
    stack.s3.write_bytes(key, buffer.getvalue())
    try:
        oom_run = gql.launch_asset_run(stack.client, "ingest", [["raw", "raw_events"]], partition_key=OOM_DAY)
        # Meanwhile another location's run goes on, and the services stay up.
        other_run = gql.launch_asset_run(stack.client, "transforms", [["staging", "processed_events"]], partition_key=DAY)
        assert gql.wait_for_run(stack.client, oom_run, timeout=600) == "FAILURE"
        messages = " ".join(m for _, m in gql.run_event_messages(stack.client, oom_run))
        assert "Out of memory" in messages, messages[-2000:]
        assert "memory limit for ingest runs" in messages and "Raise INGEST_RUN_MEMORY in .env" in messages
        [run] = [r for r in gql.runs(stack.client, limit=50) if r["run_id"] == oom_run]
        assert run["tags"]["dagster/will_retry"] == "false"
        # Its container is removed once its state was read.
        stack.wait_until("the OOM-killed run's container to be removed", lambda: stack.run_containers(oom_run) == [], 60)
        assert gql.wait_for_run(stack.client, other_run, timeout=600) == "SUCCESS"
        stack.wait_healthy(timeout=60)
        # Not retried: the run-retry daemon polls every few seconds; by now a retry would exist.
        assert gql.runs(stack.client, tags={"dagster/parent_run_id": oom_run}, limit=None) == []
    finally:
        stack.s3.delete(key)
        stack.compose("up", "-d", "--no-deps", "ingest")  # back to the default limit
        stack.wait_healthy()
        gql.reload_location(stack.client, "ingest")


def test_a_postgres_restart_mid_run_never_reaches_a_user_and_the_run_completes(stack):
    run_id = gql.launch_asset_run(
        stack.client, "ingest", [["raw", "raw_events"]],
        tags={"dagster/asset_partition_range_start": BACKFILL[7], "dagster/asset_partition_range_end": BACKFILL[13]},
    )
    stack.wait_until("the run to start", lambda: gql.run_status(stack.client, run_id) == "STARTED", 900, 0.3)
    stack.compose("stop", "postgres")
    time.sleep(15)
    stack.compose("start", "postgres")
    stack.wait_until("postgres healthy", lambda: stack.health("postgres") == "healthy", 120, 1)
    time.sleep(10)
    # From now on every query answers: no stale pooled connection surfaces as an error.
    for _ in range(5):
        assert gql.locations(stack.client) and gql.runs(stack.client, limit=5)
        assert gql.run_status(stack.client, run_id)
    # The run completes, or (if the outage broke its worker) its automatic retry does.
    if gql.wait_for_run(stack.client, run_id, timeout=600) != "SUCCESS":
        retry = stack.wait_until(
            "a retry of the run", lambda: gql.runs(stack.client, tags={"dagster/parent_run_id": run_id}, limit=None), 300
        )
        assert gql.wait_for_run(stack.client, retry[0]["run_id"], timeout=600) == "SUCCESS"
    for day in BACKFILL[7:]:
        assert stack.s3.exists(f"raw/raw_events/date={day}/data.parquet"), day


def test_a_daemon_killed_mid_backfill_comes_back_and_the_backfill_completes_without_duplicates(stack):
    result = stack.ops("backfill", "--start", BACKFILL[0], "--end", BACKFILL[-1], "--assets", "raw/raw_events")
    backfill_id = re.search(r"backfill (\w+):", result.stdout).group(1)
    stack.wait_until(
        "the backfill's first run", lambda: gql.backfill_status(stack.client, backfill_id)["runs"], timeout=600, every=1
    )
    subprocess.run(["docker", "kill", stack.container("daemon")["Id"]], check=True, capture_output=True)
    time.sleep(15)
    stack.compose("start", "daemon")
    status = stack.wait_until(
        "the backfill to finish",
        lambda: (b := gql.backfill_status(stack.client, backfill_id))["status"] in BACKFILL_DONE and b,
        timeout=900, every=5,
    )
    assert status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), status
    # 14 arrival days in runs of at most PER_RUN days: the backfill asked for each range once, and
    # each range was loaded by one successful run. A run the kill caught while it was being
    # launched stays STARTING until run monitoring fails it (start_timeout_seconds) and run
    # retries starts it again: that retry is the same request, not a second one.
    def ranges(runs):
        return sorted((r["tags"]["dagster/asset_partition_range_start"],
                       r["tags"]["dagster/asset_partition_range_end"]) for r in runs)

    chunks = [BACKFILL[i:i + PER_RUN] for i in range(0, len(BACKFILL), PER_RUN)]
    expected = [(chunk[0], chunk[-1]) for chunk in chunks]
    runs = [(r["run_id"][:8], r["status"], r["tags"].get("dagster/parent_run_id", "")[:8]) for r in status["runs"]]
    assert ranges(r for r in status["runs"] if "dagster/parent_run_id" not in r["tags"]) == expected, runs
    assert ranges(r for r in status["runs"] if r["status"] == "SUCCESS") == expected, runs


def test_down_then_up_keeps_run_history_and_lake_data(stack):
    # Stopped for good (a tick in flight may still request runs), then nothing left to run: the
    # previous test's raw_events days are still flowing through transforms and reporting.
    for location, sensor in automation_sensors(stack):
        stack.stop_sensor(location, sensor)
    stack.wait_idle()
    runs_before = {r["run_id"] for r in gql.runs(stack.client, limit=None)}
    lake_before = {o.key: o.etag for o in stack.s3.list("")}
    stack.down()
    stack.up()
    runs_after = {r["run_id"]: r for r in gql.runs(stack.client, limit=None)}
    assert runs_before <= runs_after.keys()
    lake_after = {o.key: o.etag for o in stack.s3.list("")}
    new_runs = [(r["job_name"], r["status"], r["tags"]) for i, r in runs_after.items() if i not in runs_before]
    assert {k: lake_after.get(k) for k in lake_before} == lake_before, f"runs since the `down`: {new_runs}"
    assert stack.container("transforms")["Config"]["Image"] == "dataplatform/transforms:e2e-v2"
    # Sensor states are part of the kept history.
    assert gql.sensor_state(stack.client, "transforms", "transforms_automation") == "STOPPED"
    for location, sensor in automation_sensors(stack):
        gql.set_sensor_running(stack.client, location, sensor, True)


def code_version(stack, path: list[str]) -> str:
    data = stack.client.query(
        "query CodeVersion($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) { opVersion } }",
        {"keys": [{"path": path}]},
    )
    return data["assetNodes"][0]["opVersion"]


def asset_history(stack) -> dict:
    """Every materialization of the daily chain and every landing check result, as the UI lists them."""
    history = {}
    for path in (p.split("/") for p in CHAIN):
        data = stack.client.query(
            "query History($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {"
            " assetMaterializations(limit: 10000) { runId partition timestamp } } } }",
            {"key": {"path": path}},
        )
        history["/".join(path)] = sorted(
            (m["runId"], m["partition"] or "", m["timestamp"]) for m in data["assetOrError"]["assetMaterializations"]
        )
    checks = stack.client.query(
        "query Checks($key: AssetKeyInput!) { assetCheckExecutions(assetKey: $key, checkName:"
        " \"landing_files_valid\", limit: 10000) { runId status } }",
        {"key": {"path": ["raw", "raw_events"]}},
    )["assetCheckExecutions"]
    history["landing_files_valid"] = sorted((c["runId"], c["status"]) for c in checks)
    return history


RESTORE_DAY = "2024-07-15"  # loaded by hand before the backup, so no sensor run key covers its file


def test_backup_then_restore_onto_empty_volumes_brings_everything_back(stack, tmp_path):
    gql.set_sensor_running(stack.client, "ingest", "landing_files_sensor", False)
    land(stack, RESTORE_DAY)
    by_hand = gql.launch_asset_run(stack.client, "ingest", [["raw", "raw_events"]], partition_key=RESTORE_DAY)
    assert gql.wait_for_run(stack.client, by_hand, timeout=600) == "SUCCESS"
    stack.start_landing_sensor_from_now()  # it must see the restored files and load none of them
    # Automation stays off through backup and restore (a sensor's state is in the backup), so that
    # nothing but the landing sensor could start a run after the restore.
    for location, sensor in automation_sensors(stack):
        stack.stop_sensor(location, sensor)
    stack.wait_idle()
    try:
        runs_before = {r["run_id"] for r in gql.runs(stack.client, limit=None)}
        history_before = asset_history(stack)
        lake_before = {o.key: o.etag for o in stack.s3.list("")}
        archive = tmp_path / "backup.tar.gz"
        stack.ops("backup", "--out", str(archive))

        stack.down("-v")
        stack.compose("up", "-d", env={"DEMO_DAYS": "0"})  # a fresh stack seeds nothing of its own
        stack.wait_healthy()
        assert gql.runs(stack.client, limit=None) == []
        restored_at = time.time()
        stack.ops("restore", str(archive))
        stack.wait_healthy()

        assert {r["run_id"] for r in gql.runs(stack.client, limit=None)} == runs_before
        assert asset_history(stack) == history_before
        assert {o.key: o.etag for o in stack.s3.list("")} == lake_before  # etag: the bytes' MD5
        # The landing sensor ticks over every restored file (all newer than its cursor) and loads none:
        # their keys and etags are in the restored run keys.
        assert gql.sensor_state(stack.client, "ingest", "landing_files_sensor") == "RUNNING"
        stack.wait_until("a landing sensor tick after the restore", lambda: landing_ticks_after(stack, restored_at), 180)
        assert {r["run_id"] for r in gql.runs(stack.client, limit=None)} == runs_before
        day = next(k for k in sorted(lake_before) if k.startswith("landing/events/")).split("/")[2]
        run_id = gql.launch_asset_run(stack.client, "ingest", [["raw", "raw_events"]], partition_key=day)
        assert gql.wait_for_run(stack.client, run_id, timeout=600) == "SUCCESS"
    finally:  # later tests need the stack and automation
        stack.ensure_up()
        for location, sensor in automation_sensors(stack):
            gql.set_sensor_running(stack.client, location, sensor, True)


def landing_ticks_after(stack, since: float) -> list[dict]:
    """The landing sensor's ticks that started after `since` and have ended."""
    ticks = gql.sensor_ticks(stack.client, "ingest", "landing_files_sensor")
    return [t for t in ticks if t["timestamp"] > since and t["status"] in ("SUCCESS", "SKIPPED")]
