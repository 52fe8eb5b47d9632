"""The platform's benchmark: every figure beside its baseline, measured in the same run.

    bash bench/run.sh [--size smoke|small|medium|full] [--reuse] [--only P1,P3] [--out bench/results/latest.json]

It brings the compose stack up (or, with --reuse, uses the one running), lands the data each
figure needs on dates no other figure or test uses, measures P1-P7 (see docs/performance.md for
what each is) and writes the raw figures as JSON. bench/report.py turns results into the report.

While it measures, the landing sensor and the automation sensors are stopped, so that nothing but
the measured work runs on the machine; their states are restored at the end.
"""

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Stack, sh, use_standins  # noqa: E402  (puts deploy/ on the path)

import dagster_gql as gql  # noqa: E402
import landing  # noqa: E402
import plain_polars  # noqa: E402

SIZES = {
    # P2 days x events per day; the one-partition-per-run baseline's days; P6 days x files a day;
    # P1 launches. "smoke" is CI's: every figure once (P3 thrice: its writes are short), in a few
    # minutes; its figures are not quoted (one sample each).
    "smoke": {"p2_days": 2, "p2_events": 5_000, "p2b_days": 1, "p6_days": 5, "p6_files": 24, "p1_runs": 1,
              "p3_rows": 100_000, "p3_repeats": 3},
    "small": {"p2_days": 4, "p2_events": 20_000, "p2b_days": 2, "p6_days": 30, "p6_files": 24, "p1_runs": 3,
              "p3_rows": 500_000, "p3_repeats": 3},
    "medium": {"p2_days": 28, "p2_events": 100_000, "p2b_days": 7, "p6_days": 365, "p6_files": 24, "p1_runs": 10,
               "p3_rows": 2_000_000, "p3_repeats": 5},
    "full": {"p2_days": 365, "p2_events": 100_000, "p2b_days": 28, "p6_days": 365, "p6_files": 24, "p1_runs": 10,
             "p3_rows": 2_000_000, "p3_repeats": 5},
}
P1_DAY = "2024-10-01"
P2_START = date(2024, 1, 1)  # full size: the whole of 2024
P2_START_SMALL = date(2024, 9, 2)
P6_START = date(2025, 1, 1)
CHAIN = [["raw", "raw_events"], ["staging", "processed_events"], ["marts", "daily_summary"]]
LANDING_SENSOR = ("ingest", "landing_files_sensor")
SERVICES = ("webserver", "daemon", "ingest", "transforms", "reporting", "postgres", "minio")
DAGSTER_SERVICES = ("webserver", "daemon", "ingest", "transforms", "reporting")


def log(text: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {text}", flush=True)


def idle_cpu_share(seconds: float) -> float:
    """The share of the host's CPU time that was busy over `seconds` (1.0: every core, all the
    time), from /proc/stat: with the queue drained, what the idle stack costs the host."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / (total1 - total0)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("nan")


def summary(values: list[float]) -> dict:
    return {"p50": median(values), "p95": p95(values), "min": min(values), "max": max(values), "n": len(values)}


class Bench:
    def __init__(self, stack: Stack, size: str):
        self.stack, self.size, self.cfg = stack, size, SIZES[size]
        # A sensor tick over a year of files may take minutes: the client waits for it.
        self.client = gql.Client("http://127.0.0.1:3000", timeout=900)
        self.s3 = stack.s3

    # -- the stack -------------------------------------------------------------------------------

    def run_record(self, run_id: str) -> dict:
        data = self.client.query(
            "query RunTimes($id: ID!) { runOrError(runId: $id) { __typename"
            " ... on Run { status creationTime startTime endTime } } }",
            {"id": run_id},
        )
        return data["runOrError"]

    def wait_runs(self, run_ids: list[str], timeout: float, peaks: "MemoryWatch | None" = None) -> list[dict]:
        deadline, pending, done = time.monotonic() + timeout, set(run_ids), {}
        while pending:
            for run_id in list(pending):
                record = self.run_record(run_id)
                if record["status"] in gql.TERMINAL_RUN_STATUSES:
                    done[run_id] = record
                    pending.discard(run_id)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} runs unfinished after {timeout:.0f}s")
            time.sleep(0.2 if len(run_ids) == 1 else 1.0)
        failed = [r for r, rec in done.items() if rec["status"] != "SUCCESS"]
        if failed:
            raise RuntimeError(f"runs failed: {failed}")
        return [done[r] for r in run_ids]

    def sensor_states(self) -> dict:
        """The landing sensor and every location's automation sensors, as the deployment lists them."""
        sensors = [LANDING_SENSOR, *gql.sensors(self.client, gql.AUTOMATION_SENSOR_TYPES)]
        return {s: gql.sensor_state(self.client, *s) for s in sensors}

    def set_sensors(self, states: dict) -> None:
        for (location, name), state in states.items():
            if state == "RUNNING":
                gql.set_sensor_running(self.client, location, name, True)
            else:
                # The harness's stop: stopped, and no tick begun from an older state restarts it
                # (one did in a full run: the landing sensor then loaded P6's 120 files).
                self.stack.stop_sensor(location, name)

    def image(self, service: str) -> str:
        return self.stack.container(service)["Config"]["Image"]

    # -- P1 ----------------------------------------------------------------------------------------

    def p1_launch_latency(self) -> dict:
        day = date.fromisoformat(P1_DAY)
        self.s3.write_bytes(
            f"landing/events/{P1_DAY}/bench-{P1_DAY}.parquet", landing.parquet_bytes(landing.events(day, 400))
        )
        image = self.image("ingest")
        floor = []
        for _ in range(self.cfg["p1_runs"]):
            started = time.perf_counter()
            sh("docker", "run", "--rm", "--network", "none", image, "python", "-c",
               "import ingest.definitions as d; d.defs()")
            floor.append(time.perf_counter() - started)
        log(f"P1 floor: docker run + definitions load, p50 {median(floor):.2f}s")
        total, queued, running, observed = [], [], [], []
        for _ in range(self.cfg["p1_runs"]):
            started = time.perf_counter()
            run_id = gql.launch_asset_run(self.client, "ingest", [CHAIN[0]], partition_key=P1_DAY)
            record = self.wait_runs([run_id], timeout=300)[0]
            observed.append(time.perf_counter() - started)
            total.append(record["endTime"] - record["creationTime"])
            queued.append(record["startTime"] - record["creationTime"])
            running.append(record["endTime"] - record["startTime"])
        log(f"P1 launch -> SUCCESS p50 {median(total):.2f}s ({median(total) / median(floor):.2f}x floor)")
        return {
            "launch_to_success_s": summary(total),
            "queue_to_start_s": summary(queued),
            "start_to_end_s": summary(running),
            "client_observed_s": summary(observed),
            "floor_s": summary(floor),
            "floor_command": f"docker run --rm {image} python -c 'import ingest.definitions as d; d.defs()'",
            "ratio_to_floor": median(total) / median(floor),
        }

    # -- P2 ----------------------------------------------------------------------------------------

    def p2_backfill(self) -> dict:
        n, m = self.cfg["p2_days"], self.cfg["p2_events"]
        first = P2_START_SMALL if self.size in ("smoke", "small") else P2_START
        dates = [d.isoformat() for d in landing.days(first, n)]
        log(f"P2 landing {n} days x {m:,} events")
        landing.land_days(self.s3, first, n, m)

        with MemoryWatch() as memory:
            started = time.perf_counter()
            backfill_id = gql.launch_backfill(self.client, CHAIN, dates, title="bench P2")
            status = self.wait_backfill(backfill_id, timeout=4 * 3600)
            platform_s = time.perf_counter() - started
        runs = status["runs"]
        log(f"P2 backfill: {platform_s:.1f}s in {len(runs)} runs, {status['status']}")

        started = time.perf_counter()
        plain_polars.run("http://127.0.0.1:9000", self.s3.bucket, "bench-plain", first, n)
        plain_s = time.perf_counter() - started
        log(f"P2 plain polars: {plain_s:.1f}s")
        mismatched = self.compare_summaries(dates)

        nb = min(self.cfg["p2b_days"], n)
        per_run_dates = dates[:nb]
        started = time.perf_counter()
        raw_runs = [
            gql.launch_asset_run(self.client, "ingest", [CHAIN[0]], partition_key=d) for d in per_run_dates
        ]
        self.wait_runs(raw_runs, timeout=4 * 3600)
        transform_runs = [
            gql.launch_asset_run(self.client, "transforms", CHAIN[1:], partition_key=d) for d in per_run_dates
        ]
        self.wait_runs(transform_runs, timeout=4 * 3600)
        per_partition_s = time.perf_counter() - started
        scaled = per_partition_s * n / nb
        log(f"P2 one partition per run: {per_partition_s:.1f}s for {nb} days (scaled to {n}: {scaled:.1f}s)")
        run_times = [r["end_time"] - r["start_time"] for r in runs if r["end_time"] and r["start_time"]]
        return {
            "days": n,
            "events_per_day": m,
            "events": n * m,
            "platform_s": platform_s,
            "backfill_status": status["status"],
            "runs": len(runs),
            "run_start_to_end_s": summary(run_times) if run_times else None,
            "plain_polars_s": plain_s,
            "ratio_to_plain": platform_s / plain_s,
            "one_per_run_days": nb,
            "one_per_run_s": per_partition_s,
            "one_per_run_scaled_s": scaled,
            "speedup_vs_one_per_run": scaled / platform_s,
            "summaries_equal": not mismatched,
            "summary_mismatches": mismatched[:10],
            "run_peak_memory_mb": memory.peaks_mb(),
        }

    def wait_backfill(self, backfill_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = gql.backfill_status(self.client, backfill_id)
            if status["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
                if status["status"] not in ("COMPLETED", "COMPLETED_SUCCESS"):
                    raise RuntimeError(f"backfill {backfill_id} ended {status['status']}: {status['error']}")
                return status
            time.sleep(2)
        raise TimeoutError(f"backfill {backfill_id} unfinished after {timeout:.0f}s")

    def compare_summaries(self, dates: list[str]) -> list[str]:
        mismatched = []
        for day in dates:
            ours = pl.read_parquet(io.BytesIO(self.s3.read_bytes(f"marts/daily_summary/date={day}/data.parquet")))
            plain = plain_polars.read_summary("http://127.0.0.1:9000", self.s3.bucket, "bench-plain", day)
            same = (
                ours["event_count"].to_list() == plain["event_count"].to_list()
                and abs(float(ours["total_value"][0]) - float(plain["total_value"][0])) < 1e-6 * max(1.0, abs(float(plain["total_value"][0])))
            )
            if not same:
                mismatched.append(f"{day}: platform {ours.row(0)} plain {plain.row(0)}")
        log(f"P2 daily_summary vs plain polars: {len(dates) - len(mismatched)}/{len(dates)} days equal")
        return mismatched

    # -- P3 ----------------------------------------------------------------------------------------

    def p3_io_manager(self) -> dict:
        rows, repeats = self.cfg["p3_rows"], self.cfg["p3_repeats"]
        import dagster as dg

        from lake import partitions
        from lake.io import LakeParquetIOManager

        frame = landing.events(date(2024, 2, 1), rows).with_columns(date=pl.lit(date(2024, 2, 1)))
        key = dg.AssetKey(["bench", "io_manager"])
        manager = LakeParquetIOManager(object_store=self.s3)
        options = plain_polars.storage("http://127.0.0.1:9000")[1]
        url = f"s3://{self.s3.bucket}/bench/polars/date=2024-02-01/data.parquet"
        figures: dict[str, list[float]] = {k: [] for k in (
            "io_manager_write", "io_manager_read", "polars_s3_write", "polars_s3_read", "local_write", "local_read")}
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "data.parquet"
            for _ in range(repeats):
                with dg.build_init_resource_context() as init:
                    manager.setup_for_execution(init)
                out = dg.build_output_context(
                    asset_key=key, partition_key="2024-02-01", asset_partitions_def=partitions.daily_partitions,
                    dagster_type=dg.DagsterType(lambda _, __: True, name="frame", typing_type=pl.DataFrame),
                )
                figures["io_manager_write"].append(timed(lambda: manager.handle_output(out, frame)))
                inp = dg.build_input_context(
                    asset_key=key, partition_key="2024-02-01", asset_partitions_def=partitions.daily_partitions,
                    dagster_type=dg.DagsterType(lambda _, __: True, name="frame", typing_type=pl.DataFrame),
                    upstream_output=out,
                )
                figures["io_manager_read"].append(timed(lambda: manager.load_input(inp)))
                figures["polars_s3_write"].append(timed(lambda: frame.write_parquet(url, storage_options=options)))
                figures["polars_s3_read"].append(timed(lambda: pl.read_parquet(url, storage_options=options)))
                figures["local_write"].append(timed(lambda: frame.write_parquet(local)))
                figures["local_read"].append(timed(lambda: pl.read_parquet(local)))
        result = {name: summary(values) for name, values in figures.items()}
        result["rows"] = rows
        result["write_ratio"] = result["io_manager_write"]["p50"] / result["polars_s3_write"]["p50"]
        result["read_ratio"] = result["io_manager_read"]["p50"] / result["polars_s3_read"]["p50"]
        log(f"P3 IO manager write {result['write_ratio']:.2f}x, read {result['read_ratio']:.2f}x polars on S3")
        return result

    # -- P4 and P7 ---------------------------------------------------------------------------------

    def p7_first_up(self, up_started_at: float | None = None, healthy_s: float | None = None) -> dict:
        """`up` on empty volumes (images built) until the KPI report covers every seeded day; the
        same `up` gives P4's cold up -> all healthy. ``up_started_at`` (epoch seconds): measure
        from an `up` on empty volumes that the caller started, instead of a down -v and up here."""
        if up_started_at is None:
            self.stack.down("-v", "--remove-orphans")
            up_started_at = time.time()
            self.stack.compose("up", "-d")
            self.stack.wait_healthy(timeout=3600)
            healthy_s = time.time() - up_started_at
        log(f"P4 cold up -> all healthy: {healthy_s:.1f}s")
        seeded = sorted(o.key.split("/")[2] for o in self.s3.list("landing/events") if "/demo-" in o.key)
        months = sorted({d[:7] for d in seeded})

        def reported() -> bool:
            for month in months:
                key = f"reports/monthly_kpi/month={month}-01/report.md"
                if not self.s3.exists(key):
                    return False
                text = self.s3.read_bytes(key).decode()
                days = int(text.split("| days with data |")[1].split("|")[0])
                if days < sum(d.startswith(month) for d in seeded):
                    return False
            return True

        self.stack.wait_until("the KPI report for every seeded day", reported, timeout=3600, every=2)
        report_s = time.time() - up_started_at
        log(f"P7 first up -> KPI report of {len(seeded)} seeded days: {report_s:.1f}s")
        return {"seeded_days": len(seeded), "up_to_healthy_s": healthy_s, "up_to_kpi_report_s": report_s}

    def p4_footprint(self, cold_up_s: float | None, attempts: int = 4) -> dict:
        """Idle: no run queued or in flight, the sensors running as they do on an idle stack. A run
        that starts during the sample (automation still finishing what came before) spoils it:
        then it is taken again."""
        for attempt in range(1, attempts + 1):
            self.stack.wait_idle()
            time.sleep(10)
            started = time.time()
            rss = {s: memory_usage_mb(self.stack.container(s)["Id"]) for s in SERVICES}
            sessions = self.postgres_sessions()
            cpu = idle_cpu_share(30)
            sessions_per_s = (self.postgres_sessions() - sessions) / 30
            if not [r for r in gql.runs(self.client, limit=5) if (r["creation_time"] or 0) >= started]:
                break
            log(f"P4: a run started during the idle sample ({attempt}/{attempts}); sampling again")
        images = {s: self.image(s) for s in ("ingest", "transforms", "reporting", "webserver")}
        base = "dataplatform-standin/python:3.11-slim" if self.stack.standins else "python:3.11-slim-bookworm"
        base_mb = image_mb(base)
        sizes = {s: image_mb(i) for s, i in images.items()}
        dagster_total = sum(rss[s] for s in DAGSTER_SERVICES)
        log(f"P4 idle: Dagster services {dagster_total:.0f} MB, host CPU {cpu:.0%} busy,"
            f" {sessions_per_s:.1f} Postgres connections opened a second; images {sizes}")
        return {
            "idle_rss_mb": rss,
            "idle_dagster_services_mb": dagster_total,
            "idle_total_mb": sum(rss.values()),
            "idle_host_cpu_busy": cpu,
            "idle_postgres_connections_per_s": sessions_per_s,
            "cold_up_to_healthy_s": cold_up_s,
            "image_mb": sizes,
            "base_image": base,
            "base_image_mb": base_mb,
            "above_base_mb": {s: mb - base_mb for s, mb in sizes.items()},
        }

    def postgres_sessions(self) -> int:
        """Connections Postgres has accepted into the Dagster database since it started."""
        return int(self.stack.sql("select sessions from pg_stat_database where datname = current_database()")[0][0])

    # -- P5 ----------------------------------------------------------------------------------------

    def p5_catalog(self, repeats: int = 20) -> dict:
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            data = self.client.query(CATALOG_QUERY)
            timings.append(time.perf_counter() - started)
        nodes = data["assetNodes"]
        materialized = max((n["partitionStats"] or {}).get("numMaterialized", 0) for n in nodes)
        log(f"P5 asset catalog query p50 {median(timings):.3f}s p95 {p95(timings):.3f}s ({materialized} partitions)")
        return {"query_s": summary(timings), "assets": len(nodes), "max_partitions_materialized": materialized}

    # -- P6 ----------------------------------------------------------------------------------------

    def p6_sensor_tick(self, repeats: int = 3) -> dict:
        n, per_day = self.cfg["p6_days"], self.cfg["p6_files"]
        one_row = landing.parquet_bytes(landing.events(P6_START, 1))
        items = [
            (f"landing/events/{d.isoformat()}/bench-h{h:02d}.parquet", one_row)
            for d in landing.days(P6_START, n) for h in range(per_day)
        ]
        log(f"P6 landing {len(items)} files")
        landing.put_many(self.s3, items)
        first, steady, listing = [], [], []
        try:
            for _ in range(repeats):
                started = time.perf_counter()
                tick = self.dry_run(None)
                first.append(time.perf_counter() - started)
                started = time.perf_counter()
                self.dry_run(tick["cursor"])
                steady.append(time.perf_counter() - started)
            # A tick lists the recent days and a bounded share of the older ones: how many ticks,
            # from an empty cursor, until every file has been listed once (the longest a late
            # file of an older day waits, in ticks of 30 s).
            sweep_ticks, cursor = 1, self.dry_run(None)["cursor"]
            while json.loads(cursor).get("sweep_after") and sweep_ticks < 100:
                cursor, sweep_ticks = self.dry_run(cursor)["cursor"], sweep_ticks + 1
            for _ in range(repeats):
                # The baseline: the object store listing the same prefix for the same client code
                # (what every tick did before it listed a bounded share).
                listing.append(timed(lambda: sum(1 for _ in self.s3.list("landing/events"))))
        finally:
            self.remove(key for key, _ in items)
        log(f"P6 sensor tick over {len(items)} files: first p50 {median(first):.2f}s, steady p50"
            f" {median(steady):.2f}s; listing the prefix alone p50 {median(listing):.2f}s; every file"
            f" listed once in {sweep_ticks} ticks")
        return {
            "landing_files": len(items),
            "landing_days": n,
            "first_tick_s": summary(first),
            "steady_tick_s": summary(steady),
            "listing_s": summary(listing),
            "steady_ratio_to_listing": median(steady) / median(listing),
            "sweep_ticks": sweep_ticks,
            "run_requests_first_tick": tick["requests"],
        }

    def remove(self, keys) -> None:
        """Delete the bench's own objects, in batches of 500 keys, and check none is left."""
        paths = [self.s3.path(key) for key in keys]
        fs = self.s3.filesystem()
        for start in range(0, len(paths), 500):
            fs.rm(paths[start : start + 500])
        left = [p for p in paths[:: max(1, len(paths) // 20)] if fs.exists(p)]
        if left:
            raise RuntimeError(f"bench files still in the bucket after removal, e.g. {left[:3]}")

    def dry_run(self, cursor: str | None) -> dict:
        data = self.client.query(
            "mutation SensorDryRun($selector: SensorSelector!, $cursor: String) {"
            " sensorDryRun(selectorData: $selector, cursor: $cursor) { __typename"
            " ... on PythonError { message }"
            " ... on DryRunInstigationTick { evaluationResult {"
            " runRequests { runKey } skipReason cursor error { message } } } } }",
            {
                "selector": {
                    "repositoryLocationName": "ingest",
                    "repositoryName": gql.REPOSITORY,
                    "sensorName": "landing_files_sensor",
                },
                "cursor": cursor,
            },
        )
        result = data["sensorDryRun"]
        if result["__typename"] != "DryRunInstigationTick" or result["evaluationResult"]["error"]:
            raise RuntimeError(f"sensor dry run failed: {result}")
        evaluation = result["evaluationResult"]
        return {"cursor": evaluation["cursor"], "requests": len(evaluation["runRequests"] or [])}


CATALOG_QUERY = """
query AssetCatalog {
  assetNodes {
    id assetKey { path } groupName opNames isPartitioned
    repository { name location { name } }
    partitionStats { numMaterialized numPartitions numFailed numMaterializing }
    assetPartitionStatuses {
      __typename
      ... on TimePartitionStatuses { ranges { status startKey endKey } }
      ... on DefaultPartitionStatuses { materializedPartitions failedPartitions }
    }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking executionForLatestMaterialization { status } } }
    }
    assetMaterializations(limit: 1) { timestamp runId partition }
  }
}
"""


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def memory_usage_mb(container: str) -> float:
    """A container's memory as `docker stats` counts it (usage less page cache)."""
    out = sh("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container).strip()
    used = out.split("/")[0].strip()
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "kB": 1 / 1024, "MB": 1, "GB": 1024}
    for unit in sorted(units, key=len, reverse=True):
        if used.endswith(unit):
            return float(used[: -len(unit)]) * units[unit]
    raise ValueError(f"unexpected docker stats output {out!r}")


def image_mb(image: str) -> float:
    return int(sh("docker", "image", "inspect", "-f", "{{.Size}}", image).strip()) / 1e6


class MemoryWatch:
    """Peak memory of every run container while it lives, read from its cgroup (run containers
    are removed as they finish, so `docker stats` after the fact sees nothing)."""

    def __init__(self):
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _watch(self):
        while not self._stop.is_set():
            ids = subprocess.run(
                ["docker", "ps", "-q", "--no-trunc", "--filter", "label=com.dataplatform.role=run-worker"],
                capture_output=True, text=True,
            ).stdout.split()
            for cid in ids:
                peak = cgroup_peak_bytes(cid)
                if peak:
                    self.peaks[cid] = max(self.peaks.get(cid, 0), peak)
            self._stop.wait(0.5)

    def peaks_mb(self) -> dict:
        values = [p / 2**20 for p in self.peaks.values()]
        return {"max": max(values), "p50": median(values), "containers": len(values)} if values else {}


def cgroup_peak_bytes(container_id: str) -> int | None:
    for path in (
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.max_usage_in_bytes",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.peak",
        f"/sys/fs/cgroup/docker/{container_id}/memory.peak",
    ):
        try:
            return int(Path(path).read_text())
        except (OSError, ValueError):
            continue
    return None


def machine() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kb / 2**20, 1), "arch": platform.machine()}


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "code_locations", "Dockerfile", "dagster.yaml",
                            "docker-compose.yml"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + ("+changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--reuse", action="store_true", help="use the running stack; never down/up")
    parser.add_argument("--only", default="P7,P4,P1,P3,P6,P2,P5", help="figures to measure (P7, then P4, then the rest in this order)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--label", default="current")
    parser.add_argument("--up-started-at", type=float, help="P7 from an `up` on empty volumes"
                        " started at this epoch time (with --reuse), e.g. by the e2e fixture")
    parser.add_argument("--up-healthy-s", type=float, help="how long that `up` took to be healthy")
    args = parser.parse_args(argv)
    wanted = [f.strip().upper() for f in args.only.split(",")]

    stack = Stack(use_standins())
    if not args.reuse:
        # An e2e run leaves its deploy env file (say, a redeploy's image tag): the bench's own
        # stack runs the images just built, as a fresh e2e session does.
        stack.env_file.unlink(missing_ok=True)
    stack.env["DEMO_DAYS"] = os.environ.get("DEMO_DAYS", "2" if args.size in ("smoke", "small") else "21")
    if args.reuse:
        stack.wait_until("every location loaded", lambda: all(
            e["status"] == "loaded" for e in gql.locations(stack.client)), timeout=300)
    elif "P7" not in wanted:  # P7 brings the stack up itself, from empty volumes
        stack.compose("up", "-d")
        stack.wait_healthy()
    bench = Bench(stack, args.size)
    results: dict = {
        "label": args.label, "size": args.size, "sizes": SIZES[args.size], "commit": commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
        "standins": stack.standins, "figures": {},
    }
    figures = results["figures"]
    if "P7" in wanted and args.reuse and args.up_started_at is None:
        log("P7 and P4's cold up need a down/up of the stack: skipped with --reuse")
    elif "P7" in wanted:
        figures["P7"] = bench.p7_first_up(args.up_started_at, args.up_healthy_s)
    if "P4" in wanted:
        # Before the other figures stop the sensors and load data that automation then follows.
        figures["P4"] = bench.p4_footprint(figures.get("P7", {}).get("up_to_healthy_s"))
    states = bench.sensor_states()
    bench.set_sensors({s: "STOPPED" for s in states})
    measures = {"P1": bench.p1_launch_latency, "P2": bench.p2_backfill, "P3": bench.p3_io_manager,
                "P5": bench.p5_catalog, "P6": bench.p6_sensor_tick}
    try:
        stack.wait_idle()
        for name in wanted:
            if name in measures:
                # A figure that fails is recorded as failed, with why; the others are still measured.
                try:
                    figures[name] = measures[name]()
                except Exception as error:  # noqa: BLE001
                    log(f"{name} failed: {error}")
                    figures[name] = {"error": f"{type(error).__name__}: {error}"[:2000]}
    finally:
        try:
            # Past the files the bench wrote (it loaded them itself): the restored sensor must
            # not start a run for each of them.
            stack.advance_landing_cursor()
        except Exception as error:  # noqa: BLE001
            # Restarting the landing sensor now would start a run for every bench file.
            log(f"could not move the landing sensor past the bench's files ({error}); leaving it STOPPED")
            states[LANDING_SENSOR] = "STOPPED"
        bench.set_sensors(states)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    failed = sorted(name for name, figure in figures.items() if "error" in figure)
    if failed:
        log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
