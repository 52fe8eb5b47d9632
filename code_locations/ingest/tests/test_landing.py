"""The landing-file rules, one function at a time: no object store needed."""

import io
from datetime import datetime, timezone

import polars as pl
import pytest

from ingest.landing import (
    READY,
    STRAY,
    WAITING,
    LandingFileError,
    classify_landing_key,
    validate_landing_file,
)
from lake.messages import MAX_MESSAGE_CHARS, bounded, truncate
from lake.schema import RAW_EVENTS_SCHEMA

DAY = "2024-03-05"
FILE = f"landing/events/{DAY}/f.csv"
HEADER = "id,status,timestamp,value\n"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "\n".join(rows) + "\n").encode()


def parquet(df: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.write_parquet(buffer)
    return buffer.getvalue()


def problem(data: bytes, file: str = FILE, **kwargs) -> str:
    with pytest.raises(LandingFileError) as err:
        validate_landing_file(file, data, **kwargs)
    return err.value.problem


# ---------------------------------------------------------------------------- bounded messages


def test_bounded_lists_a_few_items_and_counts_the_rest():
    assert bounded(["a", "b"]) == "a, b"
    assert bounded(range(15), limit=3) == "0, 1, 2, ... and 12 more"
    assert len(bounded(["x" * 10_000])) <= 200
    assert len(truncate("y" * 10_000)) == MAX_MESSAGE_CHARS
    assert truncate("y" * 10_000).endswith("(8000 more characters)")


# ------------------------------------------------------------------------------- seed contract


def test_the_seeds_four_columns_load_with_a_null_user_id():
    # Observed: rejected with "missing columns ['user_id']".
    events = validate_landing_file(FILE, csv("a,active,2024-03-05T10:00:00Z,1.5"))
    assert events.columns == ["id", "user_id", "status", "timestamp", "value"]
    assert events["user_id"].to_list() == [None]
    assert events.schema["user_id"] == pl.Int64


def test_user_id_is_kept_when_present_and_a_bad_one_names_the_column():
    events = validate_landing_file(
        FILE, csv("a,7,active,2024-03-05T10:00:00Z,1", header="id,user_id,status,timestamp,value\n")
    )
    assert events["user_id"].to_list() == [7]
    bad = problem(csv("a,seven,active,2024-03-05T10:00:00Z,1", header="id,user_id,status,timestamp,value\n"))
    assert "column 'user_id' expected Int64, got 'seven' (row 1)" in bad


def test_unexpected_columns_are_dropped_with_a_warning_and_header_names_are_trimmed():
    warnings = []
    events = validate_landing_file(
        FILE,
        csv("a,active,2024-03-05T10:00:00Z,1,x", header="\ufeffid , status,timestamp,value,extra\n"),
        warn=warnings.append,
    )
    assert events["id"].to_list() == ["a"]
    assert warnings == [f"{FILE}: ignoring 1 unexpected columns: extra"]


def test_five_thousand_unexpected_columns_give_a_bounded_warning():
    wide = pl.DataFrame(
        {"id": ["a"], "status": ["active"], "timestamp": ["2024-03-05T10:00:00Z"], "value": [1.0]}
        | {f"unexpected_column_{i:05d}": [i] for i in range(5_000)}
    )
    warnings = []
    validate_landing_file(f"landing/events/{DAY}/w.parquet", parquet(wide), warn=warnings.append)
    assert len(warnings) == 1 and len(warnings[0]) <= MAX_MESSAGE_CHARS
    assert "ignoring 5000 unexpected columns" in warnings[0] and "... and 4,990 more" in warnings[0]


def test_a_missing_required_column_rejects_naming_it():
    assert "wrong schema: missing columns ['value']" in problem(
        csv("a,active,2024-03-05T10:00:00Z", header="id,status,timestamp\n")
    )


# ---------------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    "text, instant",
    [
        ("2024-03-05T10:00:00Z", datetime(2024, 3, 5, 10, tzinfo=timezone.utc)),
        ("2024-03-05T10:00:00.123456Z", datetime(2024, 3, 5, 10, 0, 0, 123456, tzinfo=timezone.utc)),
        ("2024-03-05T12:00:00+02:00", datetime(2024, 3, 5, 10, tzinfo=timezone.utc)),
        ("2024-03-05T12:00:00+0200", datetime(2024, 3, 5, 10, tzinfo=timezone.utc)),
        ("2024-03-05T10:00:00", datetime(2024, 3, 5, 10, tzinfo=timezone.utc)),
        ("2024-03-05 10:00:00.5", datetime(2024, 3, 5, 10, 0, 0, 500000, tzinfo=timezone.utc)),
        ("2024-03-05 12:00:00+02:00", datetime(2024, 3, 5, 10, tzinfo=timezone.utc)),
    ],
)
def test_accepted_timestamp_text_is_a_utc_instant(text, instant):
    events = validate_landing_file(FILE, csv(f"a,active,{text},1"))
    assert events.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert events["timestamp"].to_list() == [instant]


def test_an_offset_moves_the_event_to_its_utc_day():
    # Observed: 2024-03-05T01:15:00+02:00 counted on 2024-03-05; it is 2024-03-04 23:15 UTC.
    events = validate_landing_file(FILE, csv("a,active,2024-03-05T01:15:00+02:00,1"))
    assert events["timestamp"].to_list() == [datetime(2024, 3, 4, 23, 15, tzinfo=timezone.utc)]


def test_mixed_timestamp_styles_in_one_file_all_parse():
    events = validate_landing_file(
        FILE,
        csv("a,active,2024-03-05T10:00:00Z,1", "b,active,2024-03-05T10:00:00,1", "c,active,2024-03-05T12:00:00+02:00,1"),
    )
    assert events["timestamp"].n_unique() == 1


def test_native_parquet_datetimes_naive_are_utc_and_aware_are_converted():
    naive = pl.DataFrame(
        {"id": ["a"], "status": ["active"], "timestamp": [datetime(2024, 3, 5, 10)], "value": [1.0]}
    )
    aware = naive.with_columns(
        pl.col("timestamp").dt.replace_time_zone("Europe/Berlin").dt.cast_time_unit("ns")
    )
    file = f"landing/events/{DAY}/f.parquet"
    assert validate_landing_file(file, parquet(naive))["timestamp"].to_list() == [
        datetime(2024, 3, 5, 10, tzinfo=timezone.utc)
    ]
    out = validate_landing_file(file, parquet(aware))
    assert out.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert out["timestamp"].to_list() == [datetime(2024, 3, 5, 9, tzinfo=timezone.utc)]


@pytest.mark.parametrize("text", ["03/05/2024 10:00", "yesterday", "2024-13-01T00:00:00", "2024-03-05"])
def test_other_timestamp_text_rejects_naming_column_row_and_value(text):
    message = problem(csv("a,active,2024-03-05T10:00:00Z,1", f"b,active,{text},1"))
    assert "column 'timestamp'" in message and f"row 2: '{text}'" in message


def test_a_missing_timestamp_rejects():
    assert "row 1: None" in problem(csv("a,active,,1"))


# ---------------------------------------------------------------------- arrival day vs event day


def test_an_event_from_another_day_rejects_the_file():
    # Observed: a 2019-07-04 event in folder 2024-03-05 was accepted.
    message = problem(csv("a,active,2024-03-05T10:00:00Z,1", "b,active,2019-07-04T10:00:00Z,1"))
    assert "events outside the arrival window" in message
    assert "row 2 (id b) on 2019-07-04" in message


def test_events_may_arrive_one_day_late_but_not_early():
    late = validate_landing_file(FILE, csv("a,active,2024-03-04T00:00:00Z,1"))
    assert late.height == 1
    assert "row 1 (id a) on 2024-03-06" in problem(csv("a,active,2024-03-06T00:00:00Z,1"))
    assert "row 1 (id a) on 2024-03-03" in problem(csv("a,active,2024-03-03T23:59:59Z,1"))
    # The offset decides the day: 2024-03-06T00:30+02:00 is 2024-03-05 22:30 UTC.
    assert validate_landing_file(FILE, csv("a,active,2024-03-06T00:30:00+02:00,1")).height == 1


# ------------------------------------------------------------------------------------ statuses


def test_statuses_are_trimmed_and_lowercased():
    events = validate_landing_file(
        FILE, csv("a,ACTIVE,2024-03-05T10:00:00Z,1", "b,Active ,2024-03-05T10:00:00Z,1", "c,pending,2024-03-05T10:00:00Z,1")
    )
    assert events["status"].to_list() == ["active", "active", "pending"]


def test_an_unknown_status_rejects_naming_values_and_counts():
    # Observed: unknown statuses were accepted, then silently dropped downstream.
    message = problem(
        csv("a,bogus,2024-03-05T10:00:00Z,1", "b,bogus,2024-03-05T10:00:00Z,1", "c,done,2024-03-05T10:00:00Z,1",
            "d,,2024-03-05T10:00:00Z,1", "e,active,2024-03-05T10:00:00Z,1")
    )
    assert "unknown statuses (4 rows): 'bogus' (2 rows), 'done' (1 rows), null (1 rows)" in message


# -------------------------------------------------------------------------------------- values


@pytest.mark.parametrize("value", ["-1", "NaN", "inf", "-inf", "1000000.5"])
def test_out_of_range_nan_and_infinite_values_reject_naming_rows_and_ids(value):
    message = problem(csv("a,active,2024-03-05T10:00:00Z,1", f"b,active,2024-03-05T10:00:00Z,{value}"))
    assert "values outside [0.0, 1000000.0]" in message and "row 2 (id b)" in message


def test_value_bounds_are_configurable_and_null_is_allowed():
    data = csv("a,active,2024-03-05T10:00:00Z,50", "b,active,2024-03-05T10:00:00Z,")
    assert validate_landing_file(FILE, data)["value"].to_list() == [50.0, None]
    assert "row 1 (id a) = 50.0" in problem(data, max_value=10)


# ----------------------------------------------------------------------------------------- ids


def test_ids_claimed_by_an_earlier_file_reject_naming_ids_and_holder():
    message = problem(
        csv("a,active,2024-03-05T10:00:00Z,1", "b,active,2024-03-05T10:00:00Z,1"),
        claimed_ids={"a": "landing/events/2024-03-05/first.csv"},
    )
    assert message == (
        "duplicate ids: 1 ids already arrived in an earlier file of this date:"
        " a in landing/events/2024-03-05/first.csv"
    )


def test_many_problems_in_one_file_stay_bounded():
    rows = [f"id-{i},bogus-{i},2019-01-01T00:00:00Z,-{i}" for i in range(5_000)]
    message = problem(csv(*rows, *rows[:100]))
    assert len(message) <= MAX_MESSAGE_CHARS
    assert "... and" in message


# ------------------------------------------------------------------------------------- layout


@pytest.mark.parametrize(
    "key, status",
    [
        ("landing/events/2024-03-05/a.parquet", READY),
        ("landing/events/2024-01-01/a.parquet", READY),
        ("landing/events/2024-03-06/a.parquet", WAITING),
        ("landing/events/2024-03-05/archive/a.parquet", STRAY),
        ("landing/events/a.parquet", STRAY),
        ("landing/events/not-a-date/a.parquet", STRAY),
        ("landing/events/2024-02-30/a.parquet", STRAY),
        ("landing/events/2023-12-31/a.parquet", STRAY),
    ],
)
def test_one_layout_rule_classifies_every_key(key, status):
    place = classify_landing_key(key, last_day=DAY)
    assert place.status == status
    assert (place.reason is not None) == (status == STRAY)


def test_raw_events_stores_the_agreed_columns():
    assert list(RAW_EVENTS_SCHEMA) == ["id", "user_id", "status", "timestamp", "value", "source_file", "date"]
