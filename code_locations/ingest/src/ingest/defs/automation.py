"""When raw_events runs on its own: a sensor on the landing prefix and a nightly schedule."""

import json
from datetime import timedelta

import dagster as dg

from ingest.landing import LANDING_PREFIX, parse_landing_key
from lake import keys, partitions
from lake.store import ObjectStore

raw_events_job = dg.define_asset_job(
    "raw_events_job",
    selection=dg.AssetSelection.assets(keys.RAW_EVENTS),
    partitions_def=partitions.daily_partitions,
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
    job=raw_events_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "One raw_events run per new or changed file under landing/events/YYYY-MM-DD/. The run key is"
        " the file's key and etag, so an unchanged file never triggers twice."
    ),
)
def landing_files_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStore):
    # The cursor holds the newest LastModified seen and the files seen at exactly that instant, so
    # each tick only considers files that arrived since, without remembering every file ever seen.
    cursor = json.loads(context.cursor) if context.cursor else {"since": "", "at_since": []}
    valid_keys = set(partitions.daily_partitions.get_partition_keys())
    newest, at_newest, requests = cursor["since"], set(cursor["at_since"]), []
    for obj in object_store.list(LANDING_PREFIX):
        modified = obj.last_modified.isoformat()
        run_key = f"{obj.key}@{obj.etag}"
        if modified < cursor["since"] or (modified == cursor["since"] and run_key in cursor["at_since"]):
            continue
        if modified > newest:
            newest, at_newest = modified, set()
        if modified == newest:
            at_newest.add(run_key)
        parsed = parse_landing_key(obj.key)
        if parsed is None or parsed[0] not in valid_keys:
            context.log.warning(
                f"Ignoring s3://{object_store.bucket}/{obj.key}: expected"
                f" {LANDING_PREFIX}/<YYYY-MM-DD>/<file> with a date from"
                f" {partitions.LAKE_START_DATE} to today"
            )
            continue
        requests.append(
            dg.RunRequest(
                run_key=run_key,
                partition_key=parsed[0],
                tags={"landing/file": obj.key, "landing/etag": obj.etag},
            )
        )
    cursor_out = json.dumps({"since": newest, "at_since": sorted(at_newest)})
    if not requests:
        return dg.SensorResult(skip_reason="no new or changed landing files", cursor=cursor_out)
    return dg.SensorResult(run_requests=requests, cursor=cursor_out)
