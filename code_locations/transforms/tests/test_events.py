import io
from datetime import date, datetime, timezone

import dagster as dg
import polars as pl

from lake.env import lake_resources
from lake.keys import DAILY_SUMMARY, MONTHLY_SUMMARY, RAW_EVENTS
from lake.partitions import DAILY_BACKFILL_POLICY
from transforms.defs.events import (
    PROCESSED_EVENTS_SCHEMA,
    daily_summary,
    process_events,
    processed_events,
    upgrade_legacy_raw,
)
from transforms.defs.monthly import monthly_summary
from transforms.defs.upstream import raw_events


# raw_events as ingest writes it under the agreed contract: timestamp a UTC Datetime, `date` the
# arrival day. Built here, not through lake.schema, so these tests pin the contract themselves.
RAW = {
    "id": pl.String(),
    "user_id": pl.Int64(),
    "status": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "value": pl.Float64(),
    "source_file": pl.String(),
    "date": pl.Date(),
}


def raw(rows, day="2024-03-05"):
    """Raw rows in the contract; timestamps written as ISO text with any offset for readability."""
    frame = pl.DataFrame(
        [{"user_id": 1, "source_file": f"landing/events/{day}/f.parquet", "date": day, **r} for r in rows],
        schema_overrides={"timestamp": pl.String, "value": pl.Float64},
    )
    return frame.with_columns(
        pl.col("timestamp").str.to_datetime(time_unit="us", time_zone="UTC"),
        pl.col("date").str.to_date(),
    ).cast(RAW).select(list(RAW))


def legacy_raw(rows, day):
    """A raw partition as written before the contract change: timestamp ISO-8601 text."""
    return pl.DataFrame(
        [{"user_id": 1, "source_file": f"landing/events/{day}/old.parquet", "date": day, **r} for r in rows],
        schema_overrides={"value": pl.Float64},
    ).with_columns(pl.col("date").str.to_date()).select(list(RAW))


def test_process_events_keeps_active_fills_nulls_and_keeps_the_earliest_arrival_of_an_id():
    day5 = raw(
        [
            {"id": "a", "status": "active", "timestamp": "2024-03-05T10:00:00Z", "value": 2.5},
            {"id": "b", "status": "inactive", "timestamp": "2024-03-05T11:00:00Z", "value": 9.0},
            {"id": "c", "status": "active", "timestamp": "2024-03-05T12:30:00+00:00", "value": None},
        ]
    )
    day6 = raw(
        [
            # a resend of a: dropped, counted
            {"id": "a", "status": "active", "timestamp": "2024-03-05T10:00:00Z", "value": 7.0},
            # late: event day 5 (23:30 UTC), arrived on 6
            {"id": "d", "status": "active", "timestamp": "2024-03-06T01:30:00+02:00", "value": 1.0},
            # day 6's own event: not part of day 5
            {"id": "e", "status": "active", "timestamp": "2024-03-06T08:00:00Z", "value": 4.0},
        ],
        day="2024-03-06",
    )
    # Arrival-day order decides, not the order of the dict.
    out = process_events({"2024-03-06": day6, "2024-03-05": day5}, ["2024-03-05"])
    frame = out.frame
    assert frame["id"].to_list() == ["a", "c", "d"]
    assert frame["value"].to_list() == [2.5, 0.0, 1.0]
    assert frame["timestamp"].to_list() == [
        datetime(2024, 3, 5, 10, tzinfo=timezone.utc),
        datetime(2024, 3, 5, 12, 30, tzinfo=timezone.utc),
        datetime(2024, 3, 5, 23, 30, tzinfo=timezone.utc),
    ]
    assert frame["date"].to_list() == [date(2024, 3, 5)] * 3
    assert frame.schema == pl.Schema(PROCESSED_EVENTS_SCHEMA)
    assert (out.rows_in, out.late_events, out.duplicates_dropped) == (6, 1, 1)
    assert out.duplicate_examples == ["a"]
    assert out.legacy_partitions == []


def test_a_legacy_raw_partition_is_upgraded_on_read():
    old = legacy_raw(
        [
            {"id": "a", "status": "active", "timestamp": "2024-03-05T10:00:00Z", "value": 1.0},
            {"id": "b", "status": "active", "timestamp": "2024-03-06T00:30:00+02:00", "value": 2.0},
        ],
        "2024-03-05",
    )
    assert old.schema["timestamp"] == pl.String
    assert upgrade_legacy_raw(old)["timestamp"].to_list() == [
        datetime(2024, 3, 5, 10, tzinfo=timezone.utc),
        datetime(2024, 3, 5, 22, 30, tzinfo=timezone.utc),
    ]
    new = raw([{"id": "c", "status": "active", "timestamp": "2024-03-05T23:59:59Z", "value": 3.0}], "2024-03-06")
    assert upgrade_legacy_raw(new) is new
    out = process_events({"2024-03-05": old, "2024-03-06": new}, ["2024-03-05"])
    assert out.frame["id"].to_list() == ["a", "b", "c"]
    assert out.legacy_partitions == ["2024-03-05"]


def test_only_the_run_s_event_days_are_kept():
    day5 = raw(
        [
            {"id": "late-4", "status": "active", "timestamp": "2024-03-04T23:00:00Z", "value": 1.0},
            {"id": "own-5", "status": "active", "timestamp": "2024-03-05T01:00:00Z", "value": 2.0},
        ]
    )
    assert process_events({"2024-03-05": day5}, ["2024-03-05"]).frame["id"].to_list() == ["own-5"]
    assert process_events({"2024-03-05": day5}, ["2024-03-04"]).frame["id"].to_list() == ["late-4"]
    assert process_events({}, ["2024-03-05"]).frame.height == 0


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
    assert processed_events.backfill_policy == daily_summary.backfill_policy == DAILY_BACKFILL_POLICY
