import dagster as dg
import polars as pl

from ingest.landing import (
    LANDING_PREFIX,
    READY,
    STRAY,
    WAITING,
    LandingFileError,
    classify_landing_key,
    landing_prefix,
    last_landing_day,
    list_landing,
    quarantine_file,
    validate_landing_file,
)
from lake import checks, keys, partitions
from lake.messages import bounded, truncate
from lake.metadata import lake_asset_metadata
from lake.schema import RAW_EVENTS_SCHEMA
from lake.store import ObjectStore

LANDING_FILES_VALID = "landing_files_valid"
LANDING_LAYOUT_VALID = "landing_layout_valid"
QUALITY = checks.LakeChecks(
    keys.RAW_EVENTS, RAW_EVENTS_SCHEMA, value_column="value", partition_column="date", id_column="id"
)
MAX_LISTED_FILES = 20  # in check metadata; the description is bounded by lake.messages


class RawEventsConfig(checks.QualityConfig):
    """min_value/max_value bound every landing file's values as well as the value_in_range check."""


def _files_description(rejected: list[dict]) -> str:
    if not rejected:
        return "all landing files valid"
    head = f"{len(rejected)} landing file(s) rejected and moved to quarantine: "
    return truncate(head + bounded((f"{r['file']}: {r['problem']}" for r in rejected), 5, 1_500))


@dg.asset(
    key=keys.RAW_EVENTS,
    description=(
        "Events from the day's landing files (parquet, csv or jsonl) directly under"
        " landing/events/YYYY-MM-DD/ (the arrival day), validated against the event contract in"
        " arrival order. A file that fails validation is moved to quarantine/events/ with its"
        " reason and none of its rows are loaded."
    ),
    group_name="ingest",
    owners=["team:ingest"],
    tags={"layer": "raw", "domain": "events"},
    kinds={"polars", "parquet", "s3"},
    code_version="2",
    partitions_def=partitions.daily_partitions,
    backfill_policy=partitions.DAILY_BACKFILL_POLICY,
    metadata=lake_asset_metadata(keys.RAW_EVENTS, RAW_EVENTS_SCHEMA, "date"),
    check_specs=[
        dg.AssetCheckSpec(
            LANDING_FILES_VALID,
            asset=keys.RAW_EVENTS,
            blocking=True,
            description="Every landing file of the partition passed validation",
        ),
        *QUALITY.specs(),
    ],
)
def raw_events(context: dg.AssetExecutionContext, config: RawEventsConfig, object_store: ObjectStore):
    bucket = object_store.bucket
    last_day = last_landing_day()
    frames, rejected = [], []
    for date in context.partition_keys:
        files, strays = [], []
        for obj in list_landing(object_store, landing_prefix(date)):
            place = classify_landing_key(obj.key, last_day)
            if place.status == READY and place.date == date:
                files.append(obj)
            else:
                strays.append(obj.key)
        if strays:
            context.log.warning(
                truncate(
                    f"Not loading {len(strays)} keys under s3://{bucket}/{landing_prefix(date)}/ that"
                    f" break the layout {LANDING_PREFIX}/<YYYY-MM-DD>/<file> (the"
                    f" {LANDING_LAYOUT_VALID} check quarantines them): {bounded(strays)}"
                )
            )
        if not files:
            context.log.warning(f"No landing files under s3://{bucket}/{landing_prefix(date)}/")
        # Arrival order decides which of two files claiming the same id wins: the earlier one.
        claimed: dict[str, str] = {}
        for obj in sorted(files, key=lambda o: (o.last_modified, o.key)):
            try:
                data = object_store.read_bytes(obj.key)
            except FileNotFoundError:
                context.log.warning(f"s3://{bucket}/{obj.key} disappeared before it was read; skipped")
                continue
            try:
                events = validate_landing_file(
                    obj.key,
                    data,
                    day=date,
                    claimed_ids=claimed,
                    min_value=config.min_value,
                    max_value=config.max_value,
                    warn=context.log.warning,
                )
            except LandingFileError as err:
                try:
                    moved = quarantine_file(object_store, obj, err.problem)
                except FileNotFoundError:
                    moved = "(already moved by another run)"
                context.log.error(
                    truncate(
                        f"Rejected landing file s3://{bucket}/{err.file}: {err.problem}. Moved to"
                        f" s3://{bucket}/{moved}; none of its rows were loaded.",
                        2_500,
                    )
                )
                rejected.append({"file": err.file, "problem": err.problem, "quarantined_as": moved})
                continue
            claimed.update(dict.fromkeys(events.get_column("id").to_list(), obj.key))
            frames.append(
                events.with_columns(source_file=pl.lit(obj.key), date=pl.lit(date).str.to_date())
            )
    events = (
        pl.concat(frames).select(list(RAW_EVENTS_SCHEMA))
        if frames
        else pl.DataFrame(schema=RAW_EVENTS_SCHEMA)
    )
    context.log.info(
        f"Loaded {events.height} events from {len(frames)} files; rejected {len(rejected)} files"
    )
    yield dg.Output(
        events,
        metadata={"files_loaded": len(frames), "files_rejected": len(rejected)},
    )
    yield dg.AssetCheckResult(
        check_name=LANDING_FILES_VALID,
        passed=not rejected,
        description=_files_description(rejected),
        metadata={"rejected_files": dg.MetadataValue.json(rejected[:MAX_LISTED_FILES])},
    )
    yield from QUALITY.results(events, context.partition_keys, config)


@dg.asset_check(
    asset=keys.RAW_EVENTS,
    name=LANDING_LAYOUT_VALID,
    blocking=False,
    description=(
        "Every key under landing/events/ is landing/events/<YYYY-MM-DD>/<file> with a real date"
        f" from {partitions.LAKE_START_DATE} on. Any other key is moved to quarantine/events/ with"
        " its reason, and the check fails naming it. Files under a future date wait for their day."
    ),
)
def landing_layout_valid(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStore
) -> dg.AssetCheckResult:
    bucket = object_store.bucket
    last_day = last_landing_day()
    moved, waiting = [], 0
    for obj in list_landing(object_store):
        place = classify_landing_key(obj.key, last_day)
        if place.status == WAITING:
            waiting += 1
        if place.status != STRAY:
            continue
        try:
            dst = quarantine_file(object_store, obj, place.reason or "breaks the landing layout")
        except FileNotFoundError:
            continue  # moved by another run meanwhile
        context.log.error(
            truncate(f"Moved s3://{bucket}/{obj.key} to s3://{bucket}/{dst}: {place.reason}")
        )
        moved.append({"key": obj.key, "reason": place.reason, "quarantined_as": dst})
    return dg.AssetCheckResult(
        passed=not moved,
        description=(
            f"every key under {LANDING_PREFIX}/ follows the layout"
            if not moved
            else truncate(
                f"{len(moved)} key(s) broke the layout and were moved to quarantine: "
                + bounded(f"{m['key']} ({m['reason']})" for m in moved)
            )
        ),
        metadata={
            "moved_to_quarantine": dg.MetadataValue.json(moved[:MAX_LISTED_FILES]),
            "moved_count": len(moved),
            "waiting_for_their_day": waiting,
        },
    )


# Runs only the landing_layout_valid check; the landing sensor requests it when it sees strays.
landing_layout_job = dg.define_asset_job(
    "landing_layout_job",
    selection=dg.AssetSelection.checks(landing_layout_valid),
    description="Quarantine keys under landing/events/ that break the layout (check landing_layout_valid)",
)
