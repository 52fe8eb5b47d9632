"""The analytics database: daily and monthly summaries in one DuckDB file in the object store.

Analysts download or ATTACH s3://<bucket>/reports/analytics.duckdb; nothing stays on local disk.
"""

from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from lake import checks, keys
from lake.automation import ON_ROLLUP_UPDATE
from lake.metadata import markdown_table
from lake.store import ObjectStore
from reporting.duck import local_parquet, partition_objects, scratch_dir

LOAD_TO_DUCKDB = dg.AssetKey(["reporting", "load_to_duckdb"])
ANALYTICS_DB_KEY = "reports/analytics.duckdb"

DAILY_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "total_value": pl.Float64(),
    "event_count": pl.Int64(),
}

# Checked like a lake table, but not blocking: nothing in the lake reads the published database.
QUALITY = checks.LakeChecks(
    LOAD_TO_DUCKDB, DAILY_TABLE_SCHEMA, value_column="total_value", partition_column="date", blocking=False
)


class AnalyticsDbConfig(checks.QualityConfig):
    max_value: float = 1e12


@dg.asset(
    key=LOAD_TO_DUCKDB,
    deps=[keys.DAILY_SUMMARY, keys.MONTHLY_SUMMARY],
    description=(
        "Loads every daily_summary and monthly_summary partition from the lake into a DuckDB"
        " database (tables daily_summary, monthly_summary) and publishes it to"
        f" s3://$LAKE_BUCKET/{ANALYTICS_DB_KEY}."
    ),
    group_name="reporting",
    owners=["team:reporting"],
    tags={"layer": "reporting", "domain": "events"},
    kinds={"duckdb", "s3"},
    code_version="1",
    metadata={
        "storage_path": dg.MetadataValue.text(f"s3://$LAKE_BUCKET/{ANALYTICS_DB_KEY}"),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(n, str(t)) for n, t in DAILY_TABLE_SCHEMA.items()]
        ),
    },
    automation_condition=ON_ROLLUP_UPDATE,
    check_specs=QUALITY.specs(),
)
def load_to_duckdb(
    context: dg.AssetExecutionContext,
    config: AnalyticsDbConfig,
    duckdb: DuckDBResource,
    object_store: ObjectStore,
):
    daily_keys = partition_objects(object_store, "marts", "daily_summary")
    if not daily_keys:
        raise dg.Failure(
            f"No daily_summary partitions under s3://{object_store.bucket}/marts/daily_summary/;"
            " materialize transforms first."
        )
    monthly_keys = partition_objects(object_store, "marts", "monthly_summary")
    with duckdb.get_connection() as conn, scratch_dir() as scratch:
        db_file = Path(scratch) / "analytics.duckdb"
        conn.execute(f"ATTACH '{db_file}' AS analytics")
        conn.execute(
            "CREATE TABLE analytics.daily_summary AS"
            " SELECT date, total_value, CAST(event_count AS BIGINT) AS event_count"
            f" FROM read_parquet({local_parquet(object_store, daily_keys, scratch)},"
            " hive_partitioning = false) ORDER BY date"
        )
        conn.execute(
            "CREATE TABLE analytics.monthly_summary AS "
            + (
                f"SELECT * FROM read_parquet({local_parquet(object_store, monthly_keys, scratch)},"
                " hive_partitioning = false) ORDER BY month"
                if monthly_keys
                else "SELECT NULL::DATE AS month, NULL::DOUBLE AS total_value,"
                " NULL::BIGINT AS event_count WHERE false"
            )
        )
        daily = conn.sql("SELECT * FROM analytics.daily_summary ORDER BY date").pl()
        monthly_rows = conn.execute("SELECT count(*) FROM analytics.monthly_summary").fetchone()[0]
        conn.execute("DETACH analytics")
        object_store.write_bytes(ANALYTICS_DB_KEY, db_file.read_bytes())

    context.log.info(
        f"Published s3://{object_store.bucket}/{ANALYTICS_DB_KEY}:"
        f" {daily.height} days, {monthly_rows} months"
    )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": daily.height,
            "monthly_rows": monthly_rows,
            "path": dg.MetadataValue.path(object_store.uri(ANALYTICS_DB_KEY)),
            "first_date": str(daily["date"].min()),
            "last_date": str(daily["date"].max()),
            "preview": dg.MetadataValue.md(markdown_table(daily.tail(10))),
        }
    )
    yield from QUALITY.results(daily, [str(d) for d in daily["date"]], config)
