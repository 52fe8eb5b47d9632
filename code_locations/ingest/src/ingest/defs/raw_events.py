import dagster as dg
import polars as pl

from ingest.landing import LandingFileError, landing_prefix, quarantine_key, validate_landing_file
from lake import checks, keys, partitions
from lake.metadata import lake_asset_metadata
from lake.schema import RAW_EVENTS_SCHEMA
from lake.store import ObjectStore

LANDING_FILES_VALID = "landing_files_valid"
QUALITY = checks.LakeChecks(
    keys.RAW_EVENTS, RAW_EVENTS_SCHEMA, value_column="value", partition_column="date", id_column="id"
)


class RawEventsConfig(checks.QualityConfig):
    pass


@dg.asset(
    key=keys.RAW_EVENTS,
    description=(
        "Events from the day's landing files (parquet, csv or jsonl) under"
        " landing/events/YYYY-MM-DD/, validated against the event contract. A file that fails"
        " validation is copied to quarantine/events/ and none of its rows are loaded."
    ),
    group_name="ingest",
    owners=["team:ingest"],
    tags={"layer": "raw", "domain": "events"},
    kinds={"polars", "parquet", "s3"},
    code_version="1",
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
    frames, rejected = [], []
    for date in context.partition_keys:
        accepted_ids: set[str] = set()
        files = list(object_store.list(landing_prefix(date)))
        if not files:
            context.log.warning(f"No landing files under s3://{object_store.bucket}/{landing_prefix(date)}/")
        for obj in files:
            try:
                events = validate_landing_file(obj.key, object_store.read_bytes(obj.key), accepted_ids)
            except LandingFileError as err:
                copy = quarantine_key(obj.key, obj.etag)
                object_store.copy(obj.key, copy)
                object_store.write_bytes(copy + ".error.txt", f"{err}\n".encode())
                context.log.error(
                    f"Rejected landing file s3://{object_store.bucket}/{err.file}: {err.problem}."
                    f" Copied to s3://{object_store.bucket}/{copy}; none of its rows were loaded."
                )
                rejected.append({"file": err.file, "problem": err.problem, "quarantined_as": copy})
                continue
            accepted_ids.update(events.get_column("id"))
            frames.append(
                events.with_columns(
                    source_file=pl.lit(obj.key), date=pl.lit(date).str.to_date()
                )
            )
    events = pl.concat(frames) if frames else pl.DataFrame(schema=RAW_EVENTS_SCHEMA)
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
        description=(
            "all landing files valid"
            if not rejected
            else "; ".join(f"{r['file']}: {r['problem']}" for r in rejected)
        ),
        metadata={"rejected_files": dg.MetadataValue.json(rejected)},
    )
    yield from QUALITY.results(events, context.partition_keys, config)
