import base64
import io
import re

import dagster as dg
import duckdb
import polars as pl

from lake.testing import Requests
from reporting.duck import reporting_resources
from reporting.defs.analytics_db import ANALYTICS_DB_KEY, load_to_duckdb
from reporting.defs.kpi_report import monthly_kpi_report
from reporting.defs.upstream import daily_summary, monthly_summary

DAILY = {"2024-02-28": (3.0, 3), "2024-02-29": (10.0, 1), "2024-03-01": (100.0, 1)}


def seed_summaries(store):
    for day, (total, count) in DAILY.items():
        buffer = io.BytesIO()
        pl.DataFrame({"date": [day], "total_value": [total], "event_count": [count]}).with_columns(
            pl.col("date").str.to_date(), pl.col("event_count").cast(pl.UInt32)
        ).write_parquet(buffer)
        store.write_bytes(f"marts/daily_summary/date={day}/data.parquet", buffer.getvalue())
    buffer = io.BytesIO()
    pl.DataFrame({"month": ["2024-02-01"], "total_value": [13.0], "event_count": [4]}).with_columns(
        pl.col("month").str.to_date()
    ).write_parquet(buffer)
    store.write_bytes("marts/monthly_summary/month=2024-02-01/data.parquet", buffer.getvalue())


def test_load_to_duckdb_publishes_a_database_with_every_day(object_store, instance, tmp_path):
    seed_summaries(object_store)
    result = dg.materialize(
        [load_to_duckdb, daily_summary, monthly_summary],
        selection=[load_to_duckdb],
        resources=reporting_resources(object_store),
        instance=instance,
    )
    assert result.success
    db = tmp_path / "analytics.duckdb"
    db.write_bytes(object_store.read_bytes(ANALYTICS_DB_KEY))
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute("SELECT date::VARCHAR, total_value, event_count FROM daily_summary ORDER BY date").fetchall()
        months = conn.execute("SELECT month::VARCHAR, total_value FROM monthly_summary").fetchall()
    assert rows == [(d, t, c) for d, (t, c) in DAILY.items()]
    assert months == [("2024-02-01", 13.0)]
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_load_to_duckdb_without_summaries_fails_with_a_clear_message(object_store, instance):
    result = dg.materialize(
        [load_to_duckdb, daily_summary, monthly_summary],
        selection=[load_to_duckdb],
        resources=reporting_resources(object_store),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "No daily_summary partitions under s3://" in failure.step_failure_data.error.to_string()


def test_the_monthly_kpi_report_shows_a_table_and_a_chart(object_store, instance):
    seed_summaries(object_store)
    result = dg.materialize(
        [monthly_kpi_report, daily_summary, monthly_summary],
        selection=[monthly_kpi_report],
        partition_key="2024-02-01",
        resources=reporting_resources(object_store),
        instance=instance,
    )
    assert result.success
    metadata = result.asset_materializations_for_node("reporting__monthly_kpi_report")[0].metadata
    table = metadata["kpis"].value
    assert "| total value | 13.00 |" in table
    assert "| events | 4 |" in table
    assert "| best day | 2024-02-29 |" in table
    png = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)\)", metadata["chart"].value).group(1))
    assert png.startswith(b"\x89PNG")
    assert object_store.read_bytes("reports/monthly_kpi/month=2024-02-01/chart.png") == png
    assert "| days with data | 2 |" in object_store.read_bytes(
        "reports/monthly_kpi/month=2024-02-01/report.md"
    ).decode()


def test_reporting_fetches_the_summaries_together_each_once(object_store, instance):
    """DuckDB reads local copies: through s3fs registered in DuckDB, it fetched them one request at
    a time (a year of daily_summary objects: 20 s on the stand-in S3 server, 5 s together)."""
    seed_summaries(object_store)
    requests = Requests(object_store)
    assert dg.materialize(
        [load_to_duckdb, daily_summary, monthly_summary],
        selection=[load_to_duckdb],
        resources=reporting_resources(object_store),
        instance=instance,
    ).success
    assert requests.names.count("GetObject") == len(DAILY) + 1  # the days and the month
    assert requests.most_in_flight > 1
    requests.names.clear()
    assert dg.materialize(
        [monthly_kpi_report, daily_summary, monthly_summary],
        selection=[monthly_kpi_report],
        partition_key="2024-02-01",
        resources=reporting_resources(object_store),
        instance=instance,
    ).success
    assert requests.names.count("GetObject") == 2  # February's two days
