import io
import time
from datetime import date, datetime, timezone

import dagster as dg
import polars as pl
import pytest

from ingest.defs.raw_events import (
    LANDING_FILES_VALID,
    LANDING_LAYOUT_VALID,
    landing_layout_job,
    landing_layout_valid,
    raw_events,
)
from ingest.demo import demo_events
from lake.env import lake_resources
from lake.keys import RAW_EVENTS
from lake.messages import MAX_MESSAGE_CHARS

DAY = "2024-03-05"


def parquet(df: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.write_parquet(buffer)
    return buffer.getvalue()


def good(n=5, prefix="a", day=DAY) -> pl.DataFrame:
    return demo_events(date.fromisoformat(day), 50).head(n).with_columns(
        pl.format(f"{prefix}-{{}}", pl.int_range(pl.len())).alias("id")
    )


BAD_FILES = {
    "wrong schema": (
        "bad-schema.parquet",
        parquet(good().rename({"value": "amount"})),
        "wrong schema: missing columns ['value']",
    ),
    "wrong types": (
        "bad-types.csv",
        b"id,user_id,status,timestamp,value\nx-1,7,active,2024-03-05T10:00:00Z,twelve\n",
        "wrong types: column 'value' expected Float64, got 'twelve'",
    ),
    "corrupt parquet": ("corrupt.parquet", b"PAR1 this is not parquet at all", "corrupt parquet"),
    "empty file": ("empty.jsonl", b"", "empty file (0 bytes)"),
    "duplicate ids": (
        "dupes.parquet",
        parquet(pl.concat([good(3, "d"), good(1, "d")])),
        "duplicate ids: 1 ids repeat within the file: d-0",
    ),
    "null ids": (
        "null-ids.parquet",
        parquet(good(4, "n").with_columns(id=pl.when(pl.int_range(pl.len()) < 2).then(None).otherwise("id"))),
        "null ids: 2 of 4 rows have no id",
    ),
}


def run(store, instance):
    return dg.materialize(
        [raw_events],
        partition_key=DAY,
        resources=lake_resources(store),
        instance=instance,
        raise_on_error=False,
    )


def test_valid_files_of_every_format_land_in_the_lake(object_store, instance):
    a, b, c = good(4, "p"), good(3, "c"), good(2, "j")
    object_store.write_bytes(f"landing/events/{DAY}/a.parquet", parquet(a))
    object_store.write_bytes(f"landing/events/{DAY}/b.csv", c_bytes := b.write_csv().encode())
    object_store.write_bytes(f"landing/events/{DAY}/c.jsonl", c.write_ndjson().encode())
    assert c_bytes

    result = run(object_store, instance)

    assert result.success
    lake = pl.read_parquet(object_store.read_bytes(f"raw/raw_events/date={DAY}/data.parquet"))
    assert sorted(lake["id"]) == sorted([*a["id"], *b["id"], *c["id"]])
    assert set(lake["source_file"]) == {f"landing/events/{DAY}/{n}" for n in ("a.parquet", "b.csv", "c.jsonl")}
    assert lake.filter(pl.col("id") == "c-1")["value"].to_list() == b.filter(pl.col("id") == "c-1")["value"].to_list()
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert not list(object_store.list("quarantine"))


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_landing_file_is_quarantined_reported_and_kept_out_of_the_lake(case, object_store, instance):
    name, data, problem = BAD_FILES[case]
    bad_key = f"landing/events/{DAY}/{name}"
    object_store.write_bytes(f"landing/events/{DAY}/good.parquet", parquet(good(5, "g")))
    object_store.write_bytes(bad_key, data)

    result = run(object_store, instance)

    # The failed check names the file and the problem.
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}[LANDING_FILES_VALID]
    assert not check.passed
    assert bad_key in check.description and problem in check.description
    # So does an error in the run log.
    errors = [
        r.user_message
        for r in instance.all_logs(result.run_id)
        if r.level >= 40 and bad_key in r.user_message
    ]
    assert errors and problem in errors[0] and "quarantine/events/" in errors[0]
    # The original is kept in quarantine, byte for byte, with the reason beside it.
    quarantined = [o.key for o in object_store.list("quarantine/events") if o.key.endswith(name)]
    assert len(quarantined) == 1
    assert object_store.read_bytes(quarantined[0]) == data
    assert problem in object_store.read_bytes(quarantined[0] + ".error.txt").decode()
    assert not object_store.exists(bad_key)  # moved: the day's next run no longer sees it
    # Only the good file's rows reached the lake.
    lake = pl.read_parquet(object_store.read_bytes(f"raw/raw_events/date={DAY}/data.parquet"))
    assert set(lake["source_file"]) == {f"landing/events/{DAY}/good.parquet"}
    assert lake.height == 5


def test_an_id_already_loaded_from_another_file_of_the_day_is_a_duplicate(object_store, instance):
    object_store.write_bytes(f"landing/events/{DAY}/1.parquet", parquet(good(3, "x")))
    object_store.write_bytes(f"landing/events/{DAY}/2.parquet", parquet(good(2, "x")))

    result = run(object_store, instance)

    check = {e.check_name: e for e in result.get_asset_check_evaluations()}[LANDING_FILES_VALID]
    assert not check.passed
    assert f"landing/events/{DAY}/2.parquet: duplicate ids: 2 ids already arrived" in check.description


def test_a_day_without_landing_files_fails_the_row_count_check(object_store, instance):
    result = run(object_store, instance)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[LANDING_FILES_VALID].passed
    assert not checks["row_count"].passed
    assert DAY in checks["row_count"].description


def test_a_backfill_run_loads_a_week_into_one_object_per_day(object_store, instance):
    days = [f"2024-03-0{d}" for d in range(1, 8)]
    for day in days:
        object_store.write_bytes(f"landing/events/{day}/f.parquet", parquet(good(3, day, day)))
    result = dg.materialize(
        [raw_events],
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
        resources=lake_resources(object_store),
        instance=instance,
    )
    assert result.success
    for day in days:
        part = pl.read_parquet(object_store.read_bytes(f"raw/raw_events/date={day}/data.parquet"))
        assert part["id"].to_list() == [f"{day}-{i}" for i in range(3)]
    materialized = instance.get_materialized_partitions(RAW_EVENTS)
    assert materialized == set(days)


def checks_of(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def lake_rows(store, day=DAY) -> pl.DataFrame:
    return pl.read_parquet(store.read_bytes(f"raw/raw_events/date={day}/data.parquet"))


def test_the_seed_contract_loads_and_timestamps_are_utc_instants(object_store, instance):
    # The seed's four columns (no user_id) load; two files mixing Z and zone-less timestamps, and
    # an offset, all become UTC instants in raw.
    object_store.write_bytes(
        f"landing/events/{DAY}/seed.csv",
        b"id,status,timestamp,value\ns-1,active,2024-03-05T10:00:00Z,1.5\ns-2,Active ,2024-03-05T01:15:00+02:00,\n",
    )
    object_store.write_bytes(
        f"landing/events/{DAY}/naive.jsonl",
        b'{"id": "n-1", "user_id": 3, "status": "pending", "timestamp": "2024-03-05T10:00:00", "value": 2}\n',
    )
    result = run(object_store, instance)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    lake = lake_rows(object_store).sort("id")
    assert lake.schema == pl.Schema(
        {"id": pl.String, "user_id": pl.Int64, "status": pl.String, "timestamp": pl.Datetime("us", "UTC"),
         "value": pl.Float64, "source_file": pl.String, "date": pl.Date}
    )
    assert lake.select("id", "user_id", "status", "timestamp").rows() == [
        ("n-1", 3, "pending", datetime(2024, 3, 5, 10, tzinfo=timezone.utc)),
        ("s-1", None, "active", datetime(2024, 3, 5, 10, tzinfo=timezone.utc)),
        ("s-2", None, "active", datetime(2024, 3, 4, 23, 15, tzinfo=timezone.utc)),
    ]
    assert set(lake["date"]) == {date(2024, 3, 5)}  # the arrival day, not the event's day


def test_the_earlier_arrival_wins_a_duplicate_whatever_the_names(object_store, instance):
    # Observed: which duplicate won depended on file names.
    object_store.write_bytes(f"landing/events/{DAY}/z-first.parquet", parquet(good(3, "x")))
    time.sleep(1.1)  # LastModified has one-second resolution
    object_store.write_bytes(f"landing/events/{DAY}/a-later.parquet", parquet(good(2, "x")))

    check = checks_of(run(object_store, instance))[LANDING_FILES_VALID]

    assert not check.passed
    assert (
        f"landing/events/{DAY}/a-later.parquet: duplicate ids: 2 ids already arrived in an earlier"
        f" file of this date: x-0, x-1 in landing/events/{DAY}/z-first.parquet"
    ) in check.description
    assert set(lake_rows(object_store)["source_file"]) == {f"landing/events/{DAY}/z-first.parquet"}


def test_bad_values_quarantine_the_file_naming_it_and_the_ids(object_store, instance):
    # Observed: negative/NaN/inf values were loaded and only value_in_range failed, unnamed.
    bad = good(3, "v").with_columns(value=pl.Series([-5.0, float("nan"), float("inf")]))
    object_store.write_bytes(f"landing/events/{DAY}/ok.parquet", parquet(good(2, "ok")))
    object_store.write_bytes(f"landing/events/{DAY}/bad.parquet", parquet(bad))

    checks = checks_of(run(object_store, instance))

    assert not checks[LANDING_FILES_VALID].passed
    description = checks[LANDING_FILES_VALID].description
    assert f"landing/events/{DAY}/bad.parquet" in description
    assert "row 1 (id v-0) = -5.0, row 2 (id v-1) = nan, row 3 (id v-2) = inf" in description
    assert checks["value_in_range"].passed  # nothing bad reached the lake
    assert not object_store.exists(f"landing/events/{DAY}/bad.parquet")
    assert [o.key for o in object_store.list("quarantine") if o.key.endswith("bad.parquet")]


def test_five_thousand_unexpected_columns_keep_logs_and_descriptions_bounded(object_store, instance):
    # Observed: an 89,000-character log line and check description.
    wide = good(3, "w").with_columns(pl.lit(1).alias(f"unexpected_column_{i:05d}") for i in range(5_000))
    object_store.write_bytes(f"landing/events/{DAY}/wide.parquet", parquet(wide))
    object_store.write_bytes(f"landing/events/{DAY}/wide-bad.parquet", parquet(wide.with_columns(value=pl.lit(-1.0))))

    result = run(object_store, instance)

    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(len(e.description or "") <= MAX_MESSAGE_CHARS for e in evaluations)
    logs = [r.user_message for r in instance.all_logs(result.run_id) if r.user_message]
    assert max(len(m) for m in logs) <= 3 * MAX_MESSAGE_CHARS
    assert any("ignoring 5000 unexpected columns" in m for m in logs)
    assert lake_rows(object_store)["id"].to_list() == ["w-0", "w-1", "w-2"]


def test_a_quarantined_day_turns_green_when_a_corrected_file_lands(object_store, instance):
    bad_key = f"landing/events/{DAY}/events.csv"
    object_store.write_bytes(f"landing/events/{DAY}/other.parquet", parquet(good(2, "o")))
    object_store.write_bytes(
        bad_key, b"id,status,timestamp,value\nc-1,bogus,2024-03-05T10:00:00Z,1\nc-2,active,2024-03-05T11:00:00Z,2\n"
    )
    first = checks_of(run(object_store, instance))
    assert not first[LANDING_FILES_VALID].passed and "'bogus' (1 rows)" in first[LANDING_FILES_VALID].description
    assert not object_store.exists(bad_key)
    assert "unknown statuses" in object_store.read_bytes(
        next(o.key for o in object_store.list("quarantine") if o.key.endswith(".error.txt"))
    ).decode()

    corrected = b"id,status,timestamp,value\nc-1,inactive,2024-03-05T10:00:00Z,1\nc-2,active,2024-03-05T11:00:00Z,2\n"
    object_store.write_bytes(f"landing/events/{DAY}/events-fixed.csv", corrected)
    second = run(object_store, instance)

    assert second.success and all(e.passed for e in second.get_asset_check_evaluations())
    lake = lake_rows(object_store).sort("id")
    assert lake["id"].to_list() == ["c-1", "c-2", "o-0", "o-1"]
    assert lake.filter(pl.col("source_file").str.ends_with("events-fixed.csv"))["status"].to_list() == [
        "inactive", "active"
    ]


def test_a_nested_key_is_not_loaded_and_the_layout_check_quarantines_strays(object_store, instance):
    # Observed: a file under landing/events/<date>/archive/ was loaded by raw_events.
    nested = f"landing/events/{DAY}/archive/old.parquet"
    object_store.write_bytes(f"landing/events/{DAY}/today.parquet", parquet(good(2, "t")))
    object_store.write_bytes(nested, parquet(good(2, "old")))
    strays = [nested, "landing/events/2024-02-30/x.csv", "landing/events/2023-12-31/x.csv", "landing/events/x.csv"]
    for key in strays[1:]:
        object_store.write_bytes(key, b"stray")
    future = "landing/events/2099-01-01/early.csv"
    object_store.write_bytes(future, b"waits")

    assert set(lake_rows_after(run(object_store, instance), object_store)["id"]) == {"t-0", "t-1"}

    result = landing_layout_job_result(object_store, instance)
    check = checks_of(result)[LANDING_LAYOUT_VALID]
    assert not check.passed and check.description.startswith("4 key(s) broke the layout")
    assert all(key in check.description for key in strays)
    assert not any(object_store.exists(key) for key in strays)
    assert object_store.exists(future)  # a future day waits, neither loaded nor quarantined
    reasons = [object_store.read_bytes(o.key).decode() for o in object_store.list("quarantine") if o.key.endswith(".error.txt")]
    assert any(r.startswith(nested) and "nested" in r for r in reasons)
    assert any("2024-02-30" in r and "not a real date" in r for r in reasons)
    assert object_store.read_bytes(next(o.key for o in object_store.list("quarantine") if o.key.endswith("old.parquet"))) == parquet(good(2, "old"))

    # Nothing stray left: the check passes when run again.
    assert checks_of(landing_layout_job_result(object_store, instance))[LANDING_LAYOUT_VALID].passed


def lake_rows_after(result, store) -> pl.DataFrame:
    assert result.success
    return lake_rows(store)


def landing_layout_job_result(store, instance):
    defs = dg.Definitions(
        assets=[raw_events], asset_checks=[landing_layout_valid], jobs=[landing_layout_job],
        resources=lake_resources(store),
    )
    return defs.resolve_job_def(landing_layout_job.name).execute_in_process(instance=instance, raise_on_error=False)
