import io
from datetime import datetime, timezone

import dagster as dg
import polars as pl

from lake.env import lake_resources
from lake.keys import DAILY_SUMMARY, MONTHLY_SUMMARY, RAW_EVENTS
from lake.schema import RAW_EVENTS_SCHEMA
from transforms.defs.events import daily_summary, process_events, processed_events
from transforms.defs.monthly import monthly_summary
from transforms.defs.upstream import raw_events


def raw(rows, day="2024-03-05"):
    return pl.DataFrame(
        [{"user_id": 1, "source_file": "f", "date": day, **r} for r in rows]
    ).with_columns(pl.col("date").str.to_date()).cast(RAW_EVENTS_SCHEMA).select(list(RAW_EVENTS_SCHEMA))


def test_process_events_keeps_active_parses_time_fills_nulls_and_drops_duplicate_ids():
    frame = raw(
        [
            {"id": "a", "status": "active", "timestamp": "2024-03-05T10:00:00Z", "value": 2.5},
            {"id": "b", "status": "inactive", "timestamp": "2024-03-05T11:00:00Z", "value": 9.0},
            {"id": "c", "status": "active", "timestamp": "2024-03-05T12:30:00+00:00", "value": None},
            {"id": "a", "status": "active", "timestamp": "2024-03-05T13:00:00Z", "value": 7.0},
        ]
    )
    out = process_events(frame)
    assert out["id"].to_list() == ["a", "c"]
    assert out["value"].to_list() == [2.5, 0.0]
    assert out["timestamp"].to_list() == [
        datetime(2024, 3, 5, 10, tzinfo=timezone.utc),
        datetime(2024, 3, 5, 12, 30, tzinfo=timezone.utc),
    ]
    assert out.schema["timestamp"] == pl.Datetime("us", "UTC")


def put_raw(store, frame, day):
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    store.write_bytes(f"raw/raw_events/date={day}/data.parquet", buffer.getvalue())


def test_daily_and_monthly_summaries_through_the_lake(object_store, instance):
    days = {"2024-02-28": [1.0, 2.0, None], "2024-02-29": [10.0], "2024-03-01": [100.0]}
    for day, values in days.items():
        rows = [
            {"id": f"{day}-{i}", "status": "active", "timestamp": f"{day}T01:00:00Z", "value": v}
            for i, v in enumerate(values)
        ] + [{"id": f"{day}-x", "status": "pending", "timestamp": f"{day}T02:00:00Z", "value": 1e5}]
        put_raw(object_store, raw(rows, day), day)
    resources = lake_resources(object_store)

    result = dg.materialize(
        [raw_events, processed_events, daily_summary],
        selection=[processed_events, daily_summary],
        tags={"dagster/asset_partition_range_start": "2024-02-28", "dagster/asset_partition_range_end": "2024-03-01"},
        resources=resources,
        instance=instance,
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    summaries = {
        day: pl.read_parquet(object_store.read_bytes(f"marts/daily_summary/date={day}/data.parquet")).to_dicts()
        for day in days
    }
    assert [(r["total_value"], r["event_count"]) for d in days for r in summaries[d]] == [
        (3.0, 3),
        (10.0, 1),
        (100.0, 1),
    ]

    result = dg.materialize(
        [dg.AssetSpec(DAILY_SUMMARY, partitions_def=daily_summary.partitions_def), monthly_summary],
        selection=[monthly_summary],
        partition_key="2024-02-01",
        resources=resources,
        instance=instance,
    )
    assert result.success
    month = pl.read_parquet(object_store.read_bytes("marts/monthly_summary/month=2024-02-01/data.parquet"))
    assert month.select("total_value", "event_count", "days_with_data").row(0) == (13.0, 4, 2)
    assert month["avg_value_per_event"][0] == 13.0 / 4


def test_a_failed_blocking_check_stops_downstream_in_the_same_run(object_store, instance):
    day = "2024-03-05"
    rows = [{"id": "a", "status": "active", "timestamp": f"{day}T01:00:00Z", "value": 5e6}]
    put_raw(object_store, raw(rows, day), day)
    result = dg.materialize(
        [raw_events, processed_events, daily_summary],
        selection=[processed_events, daily_summary],
        partition_key=day,
        resources=lake_resources(object_store),
        instance=instance,
        raise_on_error=False,
    )
    checks = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}
    assert not checks[(processed_events.key, "value_in_range")].passed
    assert not list(object_store.list("marts/daily_summary"))


def test_transforms_reach_ingest_only_by_key():
    assert processed_events.asset_deps[processed_events.key] == {RAW_EVENTS}
    assert monthly_summary.asset_deps[MONTHLY_SUMMARY] == {DAILY_SUMMARY}
    assert processed_events.backfill_policy.max_partitions_per_run == 7
