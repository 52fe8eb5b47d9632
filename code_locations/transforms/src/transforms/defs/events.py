"""Daily event transforms: raw_events (from ingest, by key) -> processed_events -> daily_summary."""

import dagster as dg
import polars as pl

from lake import checks, keys, partitions
from lake.automation import ON_UPSTREAM_UPDATE
from lake.metadata import lake_asset_metadata

PROCESSED_EVENTS = dg.AssetKey(["staging", "processed_events"])

PROCESSED_EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "user_id": pl.Int64(),
    "status": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "value": pl.Float64(),
    "date": pl.Date(),
}
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
    automation_condition=ON_UPSTREAM_UPDATE,
)


class ProcessedEventsConfig(checks.QualityConfig):
    pass


class DailySummaryConfig(checks.QualityConfig):
    max_value: float = 1e12  # a day's total, not a single event


@dg.asset(
    key=PROCESSED_EVENTS,
    ins={"raw_events": dg.AssetIn(key=keys.RAW_EVENTS)},
    description=(
        "Active events only, timestamp parsed to a UTC datetime, a null value filled with 0,"
        " one row per id."
    ),
    tags={"layer": "staging", "domain": "events"},
    kinds={"polars", "parquet", "s3"},
    code_version="1",
    metadata=lake_asset_metadata(PROCESSED_EVENTS, PROCESSED_EVENTS_SCHEMA, "date"),
    check_specs=PROCESSED_EVENTS_CHECKS.specs(),
    **_COMMON,
)
def processed_events(
    context: dg.AssetExecutionContext, config: ProcessedEventsConfig, raw_events: pl.DataFrame
):
    processed = process_events(raw_events)
    yield dg.Output(processed, metadata={"rows_in": raw_events.height})
    yield from PROCESSED_EVENTS_CHECKS.results(processed, context.partition_keys, config)


def process_events(raw: pl.DataFrame) -> pl.DataFrame:
    return (
        raw.filter(pl.col("status") == "active")
        .with_columns(
            pl.col("timestamp").str.to_datetime(time_unit="us", time_zone="UTC"),
            pl.col("value").fill_null(0.0),
        )
        .unique(subset="id", keep="first", maintain_order=True)
        .select(list(PROCESSED_EVENTS_SCHEMA))
    )


@dg.asset(
    key=keys.DAILY_SUMMARY,
    ins={"processed_events": dg.AssetIn(key=PROCESSED_EVENTS)},
    description="Per date: total_value (sum of value) and event_count of processed events.",
    tags={"layer": "marts", "domain": "events"},
    kinds={"polars", "parquet", "s3"},
    code_version="1",
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
