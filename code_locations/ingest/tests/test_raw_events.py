import io
from datetime import date

import dagster as dg
import polars as pl
import pytest

from ingest.defs.raw_events import LANDING_FILES_VALID, raw_events
from ingest.demo import demo_events
from lake.env import lake_resources
from lake.keys import RAW_EVENTS

DAY = "2024-03-05"


def parquet(df: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.write_parquet(buffer)
    return buffer.getvalue()


def good(n=5, prefix="a") -> pl.DataFrame:
    return demo_events(date(2024, 3, 5), 50).head(n).with_columns(
        pl.format(f"{prefix}-{{}}", pl.int_range(pl.len())).alias("id")
    )


BAD_FILES = {
    "wrong schema": (
        "bad-schema.parquet",
        parquet(good().rename({"value": "amount"})),
        "wrong schema: missing columns ['value'], unexpected columns ['amount']",
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
        "duplicate ids: 1 ids repeat within the file, e.g. ['d-0']",
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
    assert object_store.read_bytes(bad_key) == data  # never deleted from landing either
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
        object_store.write_bytes(f"landing/events/{day}/f.parquet", parquet(good(3, day)))
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
