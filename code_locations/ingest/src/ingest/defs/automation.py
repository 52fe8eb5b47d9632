"""When raw_events runs on its own: a sensor on the landing prefix and a nightly schedule."""

import hashlib
import json
from datetime import timedelta

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
from lake.store import ObjectStore

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
        "One raw_events run per new or changed file under landing/events/YYYY-MM-DD/ (run key: the"
        " file's key and etag, so an unchanged file never triggers twice). Files under a future"
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
    waiting, strays, requests = set(), [], []
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
        requests.append(
            dg.RunRequest(
                job_name=raw_events_job.name,
                run_key=run_key,
                partition_key=place.date,
                tags={"landing/file": obj.key, "landing/etag": obj.etag},
            )
        )
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
