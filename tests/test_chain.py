"""The whole chain across the three locations' own definitions, against an S3 server.

Synthetic landing files go in; raw_events, processed_events, daily_summary, monthly_summary and the
DuckDB database come out. Every number is compared with an independent polars computation on the
same landing files.
"""

import io
from datetime import date

import dagster as dg
import duckdb
import polars as pl

from ingest.demo import write_demo_landing

DAYS = ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]


def run(defs: dg.Definitions, keys: list[str], instance, **kwargs):
    selection = [dg.AssetKey.from_user_string(k) for k in keys]
    result = dg.materialize(
        list(defs.assets), selection=selection, resources=defs.resources, instance=instance, **kwargs
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    return result


def day_range(first: str, last: str) -> dict:
    return {"tags": {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}}


def expected_daily(store) -> pl.DataFrame:
    landing = pl.concat(
        pl.read_parquet(io.BytesIO(store.read_bytes(o.key))).with_columns(date=pl.lit(o.key.split("/")[2]))
        for o in store.list("landing/events")
    )
    return (
        landing.filter(pl.col("status") == "active")
        .unique(subset="id")
        .group_by("date")
        .agg(total_value=pl.col("value").fill_null(0).sum(), event_count=pl.len())
        .sort("date")
    )


def test_landing_files_flow_through_all_three_locations(location_defs, lake_env, instance, tmp_path):
    store = lake_env
    write_demo_landing(store, date.fromisoformat(DAYS[0]), date.fromisoformat(DAYS[-1]), 250)
    expected = expected_daily(store)

    run(location_defs["ingest"], ["raw/raw_events"], instance, **day_range(DAYS[0], DAYS[-1]))
    run(
        location_defs["transforms"],
        ["staging/processed_events", "marts/daily_summary"],
        instance,
        **day_range(DAYS[0], DAYS[-1]),
    )
    for month in ("2024-02-01", "2024-03-01"):
        run(location_defs["transforms"], ["marts/monthly_summary"], instance, partition_key=month)
    run(location_defs["reporting"], ["reporting/load_to_duckdb"], instance)
    run(location_defs["reporting"], ["reporting/monthly_kpi_report"], instance, partition_key="2024-02-01")

    # The lake: one object per day and layer, with the expected numbers.
    for day in DAYS:
        for layer in ("raw/raw_events", "staging/processed_events", "marts/daily_summary"):
            assert store.exists(f"{layer}/date={day}/data.parquet"), f"{layer} {day}"
    lake_daily = pl.concat(
        pl.read_parquet(io.BytesIO(store.read_bytes(f"marts/daily_summary/date={d}/data.parquet"))) for d in DAYS
    )
    assert [str(d) for d in lake_daily["date"]] == expected["date"].to_list()
    assert lake_daily["event_count"].to_list() == expected["event_count"].to_list()
    for got, want in zip(lake_daily["total_value"], expected["total_value"]):
        assert abs(got - want) < 1e-6

    february = pl.read_parquet(io.BytesIO(store.read_bytes("marts/monthly_summary/month=2024-02-01/data.parquet")))
    feb = expected.filter(pl.col("date").str.starts_with("2024-02"))
    assert february["event_count"][0] == feb["event_count"].sum()
    assert abs(february["total_value"][0] - feb["total_value"].sum()) < 1e-6

    # The published DuckDB database holds the same numbers.
    db = tmp_path / "analytics.duckdb"
    db.write_bytes(store.read_bytes("reports/analytics.duckdb"))
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            "SELECT date::VARCHAR, total_value, event_count FROM daily_summary ORDER BY date"
        ).fetchall()
        month_total = conn.execute(
            "SELECT total_value FROM monthly_summary WHERE month = DATE '2024-02-01'"
        ).fetchone()[0]
    assert [r[0] for r in rows] == expected["date"].to_list()
    assert [r[2] for r in rows] == expected["event_count"].to_list()
    assert all(abs(r[1] - w) < 1e-6 for r, w in zip(rows, expected["total_value"]))
    assert abs(month_total - feb["total_value"].sum()) < 1e-6

    assert store.exists("reports/monthly_kpi/month=2024-02-01/chart.png")
