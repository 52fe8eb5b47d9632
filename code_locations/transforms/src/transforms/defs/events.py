"""Daily event transforms: raw_events (from ingest, by key) -> processed_events -> daily_summary.

raw_events is partitioned by ARRIVAL day (the landing folder's date); processed_events and
daily_summary by EVENT day (the UTC day of an event's timestamp). An event arrives at most
lake.partitions.LATE_ARRIVAL_DAYS late, so event day D is read from arrival days D .. D+that.
"""

from dataclasses import dataclass
from datetime import date

import dagster as dg
import polars as pl

from lake import checks, keys, partitions
from lake.automation import ON_ARRIVAL_UPDATE, ON_UPSTREAM_UPDATE
from lake.metadata import lake_asset_metadata
from lake.schema import RAW_EVENTS_SCHEMA

PROCESSED_EVENTS = dg.AssetKey(["staging", "processed_events"])

PROCESSED_EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "user_id": pl.Int64(),
    "status": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "value": pl.Float64(),
    "date": pl.Date(),
}
# The raw columns processed_events reads, timestamp as raw stores it since it holds Datetimes.
RAW_COLUMNS: dict[str, pl.DataType] = {**RAW_EVENTS_SCHEMA, "timestamp": pl.Datetime("us", "UTC")}
DAILY_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "total_value": pl.Float64(),
    "event_count": pl.UInt32(),
}

PROCESSED_EVENTS_CHECKS = checks.LakeChecks(
    PROCESSED_EVENTS, PROCESSED_EVENTS_SCHEMA, value_column="value", partition_column="date", id_column="id"
)
DAILY_SUMMARY_CHECKS = checks.LakeChecks(
    keys.DAILY_SUMMARY, DAILY_SUMMARY_SCHEMA, value_column="total_value", partition_column="date"
)

_COMMON = dict(
    group_name="transforms",
    owners=["team:transforms"],
    partitions_def=partitions.daily_partitions,
    backfill_policy=partitions.DAILY_BACKFILL_POLICY,
)


class ProcessedEventsConfig(checks.QualityConfig):
    # An event day may hold no active events: the day before the first delivery (automation runs
    # it for the late events of the next folder), or a day of only inactive events. Deliveries
    # are held to at least one row by raw_events' own row_count check.
    min_rows: int = 0


class DailySummaryConfig(checks.QualityConfig):
    max_value: float = 1e12  # a day's total, not a single event


@dg.asset(
    key=PROCESSED_EVENTS,
    ins={
        "raw_events": dg.AssetIn(
            key=keys.RAW_EVENTS,
            # Event day D reads the arrival days D .. D+LATE_ARRIVAL_DAYS; the later ones may not
            # exist yet (or ever), and D is materialized from what exists.
            partition_mapping=partitions.arrival_to_event_day,
            metadata={"allow_missing_partitions": True},
        )
    },
    description=(
        "Active events of each event day (the UTC day of timestamp), taken from the raw arrival"
        f" days D .. D+{partitions.LATE_ARRIVAL_DAYS}; an id that arrived more than once is kept"
        " from its earliest arrival (counted in the run's metadata); a null value filled with 0."
        " `date` is the event day."
    ),
    tags={"layer": "staging", "domain": "events"},
    kinds={"polars", "parquet", "s3"},
    # 2: `date` is the event day (was the arrival day); raw's Datetime timestamps.
    code_version="2",
    metadata=lake_asset_metadata(PROCESSED_EVENTS, PROCESSED_EVENTS_SCHEMA, "date"),
    check_specs=PROCESSED_EVENTS_CHECKS.specs(),
    automation_condition=ON_ARRIVAL_UPDATE,
    **_COMMON,
)
def processed_events(
    context: dg.AssetExecutionContext,
    config: ProcessedEventsConfig,
    raw_events: dict[str, pl.DataFrame],
):
    result = process_events(raw_events, context.partition_keys)
    arrival_days = sorted(raw_events)
    context.log.info(
        f"Event days {context.partition_keys[0]}..{context.partition_keys[-1]} from arrival days"
        f" {arrival_days}: {result.rows_in} raw rows, {result.late_events} late arrivals kept,"
        f" {result.duplicates_dropped} later arrivals of an id already seen dropped,"
        f" {result.frame.height} active events written"
    )
    if result.duplicates_dropped:
        context.log.warning(
            f"Dropped {result.duplicates_dropped} rows whose id had already arrived earlier"
            f" (kept the earliest arrival), e.g. {result.duplicate_examples}"
        )
    yield dg.Output(
        result.frame,
        metadata={
            "rows_in": result.rows_in,
            "arrival_days_read": dg.MetadataValue.json(arrival_days),
            "legacy_partitions_upgraded": dg.MetadataValue.json(result.legacy_partitions),
            "late_events": result.late_events,
            "duplicates_dropped": result.duplicates_dropped,
        },
    )
    yield from PROCESSED_EVENTS_CHECKS.results(result.frame, context.partition_keys, config)


def upgrade_legacy_raw(raw: pl.DataFrame) -> pl.DataFrame:
    """A raw partition written before raw stored timestamps as Datetime("us", "UTC") holds them as
    ISO-8601 text ("2024-03-05T10:00:00Z", or with an offset such as "+02:00"); parse it to UTC,
    exactly as processed_events did before. A partition in the current shape is returned as is.
    The one place the lake's old raw form is known: drop it once no such partition is left."""
    if raw.schema.get("timestamp") != pl.String:
        return raw
    return raw.with_columns(pl.col("timestamp").str.to_datetime(time_unit="us", time_zone="UTC"))


@dataclass(frozen=True)
class ProcessedEvents:
    frame: pl.DataFrame
    rows_in: int
    late_events: int  # kept rows whose event day is before their arrival day
    duplicates_dropped: int  # rows of these event days dropped: the id arrived earlier
    duplicate_examples: list[str]
    legacy_partitions: list[str]  # arrival days read in the old (text timestamp) form


def process_events(raw_by_arrival_day: dict[str, pl.DataFrame], event_days: list[str]) -> ProcessedEvents:
    """The active events of ``event_days`` from raw arrival-day partitions ({date: frame}).

    An id that arrived more than once (a resend in a later folder) is kept from its earliest
    arrival: arrival day, then its order within that partition. That choice is made over all rows
    read, whatever their status or event day, so every run that reads the same arrivals keeps the
    same copy. Only rows whose event day is one of ``event_days`` are returned; ``date`` becomes
    the event day.
    """
    legacy = sorted(d for d, f in raw_by_arrival_day.items() if f.schema.get("timestamp") == pl.String)
    frames = [
        upgrade_legacy_raw(raw_by_arrival_day[day]).select(list(RAW_COLUMNS)).cast(RAW_COLUMNS)
        for day in sorted(raw_by_arrival_day)
    ]
    raw = pl.concat(frames) if frames else pl.DataFrame(schema=RAW_COLUMNS)
    wanted = pl.Series([date.fromisoformat(d) for d in event_days], dtype=pl.Date)
    # Frames are concatenated in arrival-day order, rows in their order within the partition.
    ranked = raw.with_columns(
        _event_day=pl.col("timestamp").dt.date(),
        _first=pl.col("id").is_first_distinct(),
    ).filter(pl.col("_event_day").is_in(wanted.implode()))
    duplicates = ranked.filter(~pl.col("_first"))
    kept = ranked.filter(pl.col("_first"))
    processed = (
        kept.filter(pl.col("status") == "active")
        .with_columns(pl.col("value").fill_null(0.0), date=pl.col("_event_day"))
        .select(list(PROCESSED_EVENTS_SCHEMA))
    )
    return ProcessedEvents(
        frame=processed,
        rows_in=raw.height,
        late_events=kept.filter(pl.col("_event_day") < pl.col("date")).height,
        duplicates_dropped=duplicates.height,
        duplicate_examples=duplicates.get_column("id").head(5).to_list(),
        legacy_partitions=legacy,
    )


@dg.asset(
    key=keys.DAILY_SUMMARY,
    ins={"processed_events": dg.AssetIn(key=PROCESSED_EVENTS)},
    description=(
        "Per event day (UTC day of the events' timestamps): total_value (sum of value) and"
        " event_count of processed events."
    ),
    tags={"layer": "marts", "domain": "events"},
    kinds={"polars", "parquet", "s3"},
    # 2: days are event days (were arrival days).
    code_version="2",
    automation_condition=ON_UPSTREAM_UPDATE,
    metadata=lake_asset_metadata(keys.DAILY_SUMMARY, DAILY_SUMMARY_SCHEMA, "date"),
    check_specs=DAILY_SUMMARY_CHECKS.specs(),
    **_COMMON,
)
def daily_summary(
    context: dg.AssetExecutionContext, config: DailySummaryConfig, processed_events: pl.DataFrame
):
    summary = summarize_days(processed_events, context.partition_keys)
    yield dg.Output(summary)
    yield from DAILY_SUMMARY_CHECKS.results(summary, context.partition_keys, config)


def summarize_days(processed: pl.DataFrame, dates: list[str]) -> pl.DataFrame:
    """One row per requested date, with zeros for a date that had no active events."""
    totals = processed.group_by("date").agg(
        total_value=pl.col("value").sum(), event_count=pl.len()
    )
    every_date = pl.DataFrame({"date": dates}).with_columns(pl.col("date").str.to_date())
    return (
        every_date.join(totals, on="date", how="left")
        .with_columns(
            pl.col("total_value").fill_null(0.0),
            pl.col("event_count").fill_null(0).cast(pl.UInt32),
        )
        .sort("date")
        .select(list(DAILY_SUMMARY_SCHEMA))
    )
