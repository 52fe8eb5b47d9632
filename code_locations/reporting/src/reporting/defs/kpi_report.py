"""The monthly KPI report the ops team reads on the asset page: a KPI table and a daily chart."""

import base64
import io

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from lake import keys, partitions
from lake.automation import ON_ROLLUP_UPDATE
from lake.metadata import markdown_table
from lake.store import ObjectStore
from reporting.duck import local_parquet, partition_objects, scratch_dir

MONTHLY_KPI_REPORT = dg.AssetKey(["reporting", "monthly_kpi_report"])
DAYS_REPORTED = "days_reported"


def report_prefix(month: str) -> str:
    return f"reports/monthly_kpi/month={month}"


@dg.asset(
    key=MONTHLY_KPI_REPORT,
    deps=[
        dg.AssetDep(keys.DAILY_SUMMARY, partition_mapping=partitions.daily_to_monthly),
        keys.MONTHLY_SUMMARY,
    ],
    description=(
        "Monthly KPIs (total value, events, value per event, best day, days with data) and a"
        " chart of daily value, shown in this asset's metadata and published to"
        " s3://$LAKE_BUCKET/reports/monthly_kpi/month=YYYY-MM-01/."
    ),
    group_name="reporting",
    owners=["team:reporting"],
    tags={"layer": "reporting", "domain": "events"},
    kinds={"duckdb", "s3"},
    code_version="1",
    partitions_def=partitions.monthly_partitions,
    metadata={"storage_path": dg.MetadataValue.text("s3://$LAKE_BUCKET/reports/monthly_kpi/")},
    automation_condition=ON_ROLLUP_UPDATE,
    check_specs=[
        dg.AssetCheckSpec(
            DAYS_REPORTED,
            asset=MONTHLY_KPI_REPORT,
            description="The report covers at least one day with events",
        )
    ],
)
def monthly_kpi_report(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, object_store: ObjectStore
):
    month = context.partition_key
    daily = daily_values(duckdb, object_store, month)
    kpis = month_kpis(daily)
    chart = render_chart(daily, month)
    table = markdown_table(kpis)
    prefix = report_prefix(month)
    object_store.write_bytes(f"{prefix}/chart.png", chart)
    object_store.write_bytes(f"{prefix}/report.md", f"# KPIs for {month[:7]}\n\n{table}\n".encode())
    encoded = base64.b64encode(chart).decode()
    yield dg.MaterializeResult(
        metadata={
            "kpis": dg.MetadataValue.md(table),
            "chart": dg.MetadataValue.md(f"![daily value {month[:7]}](data:image/png;base64,{encoded})"),
            "dagster/row_count": daily.height,
            "path": dg.MetadataValue.path(object_store.uri(prefix)),
        }
    )
    days = int((daily["event_count"] > 0).sum()) if daily.height else 0
    yield dg.AssetCheckResult(
        check_name=DAYS_REPORTED, passed=days > 0, description=f"{days} days with events"
    )


def daily_values(duckdb: DuckDBResource, store: ObjectStore, month: str) -> pl.DataFrame:
    """The month's daily_summary rows, read from the lake by DuckDB."""
    days = [k for k in partition_objects(store, "marts", "daily_summary") if f"/date={month[:7]}-" in k]
    if not days:
        return pl.DataFrame(schema={"date": pl.Date, "total_value": pl.Float64, "event_count": pl.Int64})
    with duckdb.get_connection() as conn, scratch_dir() as scratch:
        return conn.sql(
            "SELECT date, total_value, CAST(event_count AS BIGINT) AS event_count"
            f" FROM read_parquet({local_parquet(store, days, scratch)}, hive_partitioning = false)"
            " ORDER BY date"
        ).pl()


def month_kpis(daily: pl.DataFrame) -> pl.DataFrame:
    total = float(daily["total_value"].sum()) if daily.height else 0.0
    events = int(daily["event_count"].sum()) if daily.height else 0
    best = daily.sort("total_value", descending=True).head(1)
    return pl.DataFrame(
        {
            "kpi": [
                "total value",
                "events",
                "value per event",
                "days with data",
                "best day",
                "best day value",
            ],
            "value": [
                f"{total:,.2f}",
                f"{events:,}",
                f"{(total / events if events else 0):,.2f}",
                str(int((daily["event_count"] > 0).sum()) if daily.height else 0),
                str(best["date"][0]) if best.height else "-",
                f"{best['total_value'][0]:,.2f}" if best.height else "-",
            ],
        }
    )


def render_chart(daily: pl.DataFrame, month: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    ax.bar([d.day for d in daily["date"]], daily["total_value"].to_list(), color="#4f43dd")
    ax.set_title(f"Daily total value, {month[:7]}")
    ax.set_xlabel("day of month")
    ax.set_ylabel("total value")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
