"""Monthly rollup of daily_summary, on the shared monthly partitions."""

import dagster as dg
import polars as pl

from lake import checks, keys, partitions
from lake.automation import ON_ANY_UPSTREAM_UPDATE
from lake.metadata import lake_asset_metadata

MONTHLY_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "total_value": pl.Float64(),
    "event_count": pl.Int64(),
    "days_with_data": pl.Int64(),
    "avg_value_per_event": pl.Float64(),
}

MONTHLY_SUMMARY_CHECKS = checks.LakeChecks(
    keys.MONTHLY_SUMMARY, MONTHLY_SUMMARY_SCHEMA, value_column="total_value", partition_column="month"
)


class MonthlySummaryConfig(checks.QualityConfig):
    max_value: float = 1e13


@dg.asset(
    key=keys.MONTHLY_SUMMARY,
    ins={
        "daily_summary": dg.AssetIn(
            key=keys.DAILY_SUMMARY,
            partition_mapping=partitions.daily_to_monthly,
            # The running month has days that do not exist yet.
            metadata={"allow_missing_partitions": True},
        )
    },
    description="Per month: total_value, event_count, days with data and value per event.",
    group_name="transforms",
    owners=["team:transforms"],
    tags={"layer": "marts", "domain": "events"},
    kinds={"polars", "parquet", "s3"},
    code_version="1",
    partitions_def=partitions.monthly_partitions,
    metadata=lake_asset_metadata(keys.MONTHLY_SUMMARY, MONTHLY_SUMMARY_SCHEMA, "month"),
    # Any day of the month updating refreshes the month; days still missing do not block it.
    automation_condition=ON_ANY_UPSTREAM_UPDATE,
    check_specs=MONTHLY_SUMMARY_CHECKS.specs(),
)
def monthly_summary(
    context: dg.AssetExecutionContext, config: MonthlySummaryConfig, daily_summary: pl.DataFrame
):
    summary = summarize_month(daily_summary, context.partition_key)
    yield dg.Output(summary, metadata={"days_loaded": daily_summary.height})
    yield from MONTHLY_SUMMARY_CHECKS.results(summary, context.partition_keys, config)


def summarize_month(daily: pl.DataFrame, month: str) -> pl.DataFrame:
    total = float(daily["total_value"].sum()) if daily.height else 0.0
    count = int(daily["event_count"].sum()) if daily.height else 0
    return pl.DataFrame(
        {
            "month": [month],
            "total_value": [total],
            "event_count": [count],
            "days_with_data": [int((daily["event_count"] > 0).sum()) if daily.height else 0],
            "avg_value_per_event": [total / count if count else 0.0],
        }
    ).with_columns(pl.col("month").str.to_date()).cast(MONTHLY_SUMMARY_SCHEMA)
