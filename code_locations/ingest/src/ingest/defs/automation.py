"""When raw_events runs on its own: a sensor on the landing prefix and a nightly schedule."""

import hashlib
import json
from datetime import date, timedelta

import dagster as dg

from ingest.defs.raw_events import landing_layout_job, landing_layout_valid
from ingest.landing import (
    LANDING_PREFIX,
    STRAY,
    WAITING,
    classify_landing_key,
    last_landing_day,
    list_landing,
)
from lake import keys, partitions
from lake.messages import bounded, truncate
from lake.store import ObjectStore, StoredObject

# Dagster's run tags for a partition range (as a backfill's multi-partition runs carry).
PARTITION_RANGE_START, PARTITION_RANGE_END = (
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
)

# raw_events' checks belong to the asset, not to a partition, and automation reads a blocking
# check as passed only if it evaluated the latest materialization. Two raw_events runs at once (say
# two days' files at the first `up`) can finish in the order "A materializes, B materializes, A's
# checks": the checks are then stale, and every event day waits for the next raw_events run. So
# the runs that load landing files (sensor, nightly schedule, released days, restore) run one at a
# time (dagster.yaml: tag_concurrency_limits on this tag).
ONE_AT_A_TIME = {"dataplatform/one_at_a_time": "raw_events"}

raw_events_job = dg.define_asset_job(
    "raw_events_job",
    selection=dg.AssetSelection.assets(keys.RAW_EVENTS) - dg.AssetSelection.checks(landing_layout_valid),
    partitions_def=partitions.daily_partitions,
    tags=ONE_AT_A_TIME,
)


@dg.schedule(
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    job=raw_events_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 UTC: materialize the previous day's raw_events partition.",
)
def raw_events_nightly(context: dg.ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"nightly-{day}", partition_key=day)


@dg.sensor(
    jobs=[raw_events_job, landing_layout_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "One raw_events run for the days with new or changed files under"
        " landing/events/YYYY-MM-DD/, up to two weeks of consecutive days per run (run key: the"
        " files' keys and etags, so unchanged files never trigger twice). Files under a future"
        " date wait in the cursor until their day exists. Keys that break the layout request one"
        " landing_layout_job run, which quarantines them."
    ),
)
def landing_files_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStore):
    # The cursor holds the newest LastModified seen and the files seen at exactly that instant, so
    # each tick only considers files that arrived since, plus the files that wait for their day
    # ("waiting": key@etag). All state is in the cursor: a daemon restart loses nothing.
    cursor = {"since": "", "at_since": [], "waiting": []}
    cursor.update(json.loads(context.cursor) if context.cursor else {})
    since, at_since, was_waiting = cursor["since"], set(cursor["at_since"]), set(cursor["waiting"])
    last_day = last_landing_day()
    newest, at_newest = since, set(at_since)
    waiting, strays, ready = set(), [], {}
    for obj in list_landing(object_store):
        run_key = f"{obj.key}@{obj.etag}"
        place = classify_landing_key(obj.key, last_day)
        if place.status == STRAY:
            # Considered on every tick until moved; the run key dedups the request.
            strays.append(run_key)
            continue
        modified = obj.last_modified.isoformat()
        is_new = modified > since or (modified == since and run_key not in at_since)
        if is_new:
            if modified > newest:
                newest, at_newest = modified, set()
            if modified == newest:
                at_newest.add(run_key)
        elif run_key not in was_waiting:
            continue
        if place.status == WAITING:
            waiting.add(run_key)
            continue
        ready.setdefault(place.date, []).append(obj)
    requests = [_load_request(days, ready) for days in _runs_of_days(sorted(ready))]
    if strays:
        digest = hashlib.sha256("\n".join(sorted(strays)).encode()).hexdigest()[:16]
        context.log.warning(
            truncate(
                f"{len(strays)} keys under s3://{object_store.bucket}/{LANDING_PREFIX}/ break the"
                f" layout; requesting {landing_layout_job.name} to quarantine them: {bounded(strays)}"
            )
        )
        requests.append(
            dg.RunRequest(
                job_name=landing_layout_job.name,
                run_key=f"landing-layout-{digest}",
                tags={"landing/stray_keys": str(len(strays))},
            )
        )
    cursor_out = json.dumps(
        {"since": newest, "at_since": sorted(at_newest), "waiting": sorted(waiting)}
    )
    if not requests:
        return dg.SensorResult(skip_reason="no new or changed landing files", cursor=cursor_out)
    return dg.SensorResult(run_requests=requests, cursor=cursor_out)


def _runs_of_days(days: list[str]) -> list[list[str]]:
    """Sorted days cut into runs of consecutive days, each at most a backfill run's size: a run
    loads a partition range, so a gap starts a new run."""
    runs: list[list[str]] = []
    for day in days:
        follows = runs and date.fromisoformat(day) - date.fromisoformat(runs[-1][-1]) == timedelta(days=1)
        if follows and len(runs[-1]) < partitions.DAILY_BACKFILL_POLICY.max_partitions_per_run:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _load_request(days: list[str], ready: dict[str, list[StoredObject]]) -> dg.RunRequest:
    """One raw_events run for new or changed files of ``days``. raw_events re-reads each day's
    whole folder, so the run loads them all. A single file keeps the run key and tags of its own
    (key@etag); several share one run key, a digest of theirs."""
    files = sorted(f"{obj.key}@{obj.etag}" for day in days for obj in ready[day])
    if len(files) == 1:
        [obj] = ready[days[0]]
        run_key, tags = files[0], {"landing/file": obj.key, "landing/etag": obj.etag}
    else:
        digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
        run_key, tags = f"landing-files-{digest}", {"landing/files": str(len(files))}
    if len(days) == 1:
        return dg.RunRequest(job_name=raw_events_job.name, run_key=run_key, partition_key=days[0], tags=tags)
    tags.update({PARTITION_RANGE_START: days[0], PARTITION_RANGE_END: days[-1]})
    return dg.RunRequest(job_name=raw_events_job.name, run_key=run_key, tags=tags)
