"""The whole chain across the three locations' own definitions, against an S3 server.

Synthetic landing files go in; raw_events, processed_events, daily_summary, monthly_summary and the
DuckDB database come out. Every number is compared with an independent polars computation on the
same landing files.
"""

import io
from datetime import date

import dagster as dg
import pytest
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


def event_days(frame: pl.DataFrame) -> pl.DataFrame:
    """Independent of the transforms: the UTC day of each event's timestamp, whether the frame
    holds it as ISO text (landing files, legacy raw) or as a datetime (raw since the contract)."""
    ts = pl.col("timestamp")
    if frame.schema["timestamp"] == pl.String:
        ts = ts.str.to_datetime(time_zone="UTC")
    return frame.with_columns(event_day=ts.dt.convert_time_zone("UTC").dt.date().cast(pl.String))


def expected_daily(good_rows: pl.DataFrame, days: list[str]) -> pl.DataFrame:
    """daily_summary computed with plain polars: active rows, first arrival of an id, grouped by
    the UTC day of the timestamp."""
    return (
        event_days(good_rows)
        .unique(subset="id", keep="first", maintain_order=True)
        .filter(pl.col("status") == "active", pl.col("event_day").is_in(days))
        .group_by(date="event_day")
        .agg(total_value=pl.col("value").fill_null(0).sum(), event_count=pl.len())
        .sort("date")
    )


def landing_rows(store) -> pl.DataFrame:
    """Every landing file's rows in arrival order (folder date, then key)."""
    frames = []
    for o in store.list("landing/events"):
        frame = pl.read_parquet(io.BytesIO(store.read_bytes(o.key)))
        frames.append(frame.with_columns(pl.col("timestamp").cast(pl.String)) if frame.schema["timestamp"] == pl.String else frame)
    return pl.concat(frames, how="diagonal_relaxed")


def lake_daily(store, days: list[str]) -> pl.DataFrame:
    return pl.concat(
        pl.read_parquet(io.BytesIO(store.read_bytes(f"marts/daily_summary/date={d}/data.parquet"))) for d in days
    ).with_columns(pl.col("date").cast(pl.String))


def assert_same_summary(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got["date"].to_list() == want["date"].to_list()
    assert got["event_count"].to_list() == want["event_count"].to_list()
    for g, w in zip(got["total_value"], want["total_value"]):
        assert abs(g - w) < 1e-6


def test_landing_files_flow_through_all_three_locations(location_defs, lake_env, instance, tmp_path):
    store = lake_env
    write_demo_landing(store, date.fromisoformat(DAYS[0]), date.fromisoformat(DAYS[-1]), 250)
    expected = expected_daily(landing_rows(store), DAYS)

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
    assert_same_summary(lake_daily(store, DAYS), expected)

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


# Raw partitions as ingest writes them under the agreed contract (timestamp a UTC Datetime, `date`
# the ARRIVAL day), and one in the shape written before the change (timestamp ISO text).
RAW = {
    "id": pl.String(),
    "user_id": pl.Int64(),
    "status": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "value": pl.Float64(),
    "source_file": pl.String(),
    "date": pl.Date(),
}


def raw_partition(arrival_day: str, rows: list[tuple], legacy: bool = False) -> pl.DataFrame:
    """rows: (id, status, ISO timestamp with any offset, value)."""
    frame = pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "user_id": list(range(len(rows))),
            "status": [r[1] for r in rows],
            "timestamp": [r[2] for r in rows],
            "value": [r[3] for r in rows],
            "source_file": f"landing/events/{arrival_day}/f.parquet",
            "date": arrival_day,
        },
        schema_overrides={"value": pl.Float64, "user_id": pl.Int64},
    ).with_columns(pl.col("date").str.to_date())
    if not legacy:
        frame = frame.with_columns(pl.col("timestamp").str.to_datetime(time_unit="us", time_zone="UTC"))
    return frame.select(list(RAW))


def put_raw(store, frame: pl.DataFrame, day: str) -> None:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    store.write_bytes(f"raw/raw_events/date={day}/data.parquet", buffer.getvalue())


LATE_DAYS = ["2024-03-04", "2024-03-05", "2024-03-06"]


@pytest.mark.parametrize("first_partition_legacy", [True, False], ids=["mixed-lake", "new-lake"])
def test_late_events_count_on_their_own_day_across_old_and_new_raw_partitions(
    location_defs, lake_env, instance, first_partition_legacy
):
    store = lake_env
    arrivals = {
        # Written before the change (text timestamps) in the mixed lake.
        "2024-03-04": raw_partition(
            "2024-03-04",
            [
                ("a1", "active", "2024-03-04T10:00:00Z", 1.0),
                ("a2", "active", "2024-03-04T23:30:00Z", 2.0),
                ("a3", "pending", "2024-03-04T11:00:00Z", 50.0),
                ("a4", "active", "2024-03-05T00:30:00+02:00", None),  # 03-04 22:30 UTC
            ],
            legacy=first_partition_legacy,
        ),
        "2024-03-05": raw_partition(
            "2024-03-05",
            [
                ("b1", "active", "2024-03-04T23:59:00Z", 4.0),  # late: counted on 03-04
                ("a2", "active", "2024-03-04T23:30:00Z", 2.0),  # resent: counted once, on 03-04
                ("b2", "active", "2024-03-05T12:00:00Z", 8.0),
                ("b3", "active", "2024-03-06T01:00:00+02:00", 16.0),  # 03-05 23:00 UTC
                ("b4", "inactive", "2024-03-05T09:00:00Z", 32.0),
            ],
        ),
        "2024-03-06": raw_partition(
            "2024-03-06",
            [
                ("c1", "active", "2024-03-05T22:00:00-01:00", 64.0),  # 03-05 23:00 UTC: late
                ("c2", "active", "2024-03-06T00:00:00Z", 128.0),
            ],
        ),
        # 2024-03-07 has not arrived: event day 03-06 materializes from raw 03-06 alone.
    }
    for day, frame in arrivals.items():
        put_raw(store, frame, day)

    result = run(
        location_defs["transforms"],
        ["staging/processed_events", "marts/daily_summary"],
        instance,
        **day_range(LATE_DAYS[0], LATE_DAYS[-1]),
    )

    got = lake_daily(store, LATE_DAYS)
    assert got.select("date", "event_count").rows() == [("2024-03-04", 4), ("2024-03-05", 3), ("2024-03-06", 1)]
    assert got["total_value"].to_list() == [1.0 + 2.0 + 0.0 + 4.0, 8.0 + 16.0 + 64.0, 128.0]
    # The same numbers from plain polars over the good rows, grouped by UTC day of timestamp.
    good = pl.concat(
        [f.with_columns(pl.col("timestamp").cast(pl.String)) if f.schema["timestamp"] == pl.String
         else f.with_columns(pl.col("timestamp").dt.to_string("%Y-%m-%dT%H:%M:%S%.f%:z"))
         for f in arrivals.values()]
    )
    assert_same_summary(got, expected_daily(good, LATE_DAYS))

    # processed_events' date is the event day; the dropped resend is counted, not silent.
    processed = pl.read_parquet(io.BytesIO(store.read_bytes("staging/processed_events/date=2024-03-04/data.parquet")))
    assert sorted(processed["id"]) == ["a1", "a2", "a4", "b1"]
    assert set(processed["date"].cast(pl.String)) == {"2024-03-04"}
    metadata = next(
        e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["staging", "processed_events"])
    )
    assert metadata["duplicates_dropped"].value == 1
    assert metadata["late_events"].value == 2  # b1 and c1 arrived a day after their event day
    assert (metadata["legacy_partitions_upgraded"].value == ["2024-03-04"]) is first_partition_legacy


# A messy delivery across two arrival days, every row's true UTC instant known here, written in
# the forms producers use. Each file is (name, format, rows, accepted?, why rejected).
MESSY_DAY, NEXT_DAY, DAY_BEFORE = "2024-04-08", "2024-04-09", "2024-04-07"


def messy_rows(prefix: str, at: list[str], statuses: list[str], values: list) -> list[dict]:
    from datetime import datetime

    return [
        {"id": f"{prefix}-{i}", "status": s, "utc": datetime.fromisoformat(t), "value": v}
        for i, (t, s, v) in enumerate(zip(at, statuses, values))
    ]


def write_messy(store, day: str, name: str, rows: list[dict], text_form, extra: dict | None = None) -> None:
    frame = pl.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "status": [r["status"] for r in rows],
            "timestamp": [text_form(r["utc"]) for r in rows],
            "value": [r["value"] for r in rows],
            **(extra or {}),
        },
        schema_overrides={"value": pl.Float64},
    )
    buffer = io.BytesIO()
    if name.endswith(".csv"):
        frame.write_csv(buffer)
    elif name.endswith(".jsonl"):
        frame.write_ndjson(buffer)
    else:
        frame.write_parquet(buffer)
    store.write_bytes(f"landing/events/{day}/{name}", buffer.getvalue())


def test_a_messy_day_counts_exactly_the_good_rows_and_quarantines_each_bad_file(
    location_defs, lake_env, instance
):
    from datetime import timedelta, timezone

    store = lake_env
    z = lambda t: t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    plus2 = lambda t: t.astimezone(timezone(timedelta(hours=2))).isoformat()  # noqa: E731
    naive = lambda t: t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731

    good = {
        # Seed shape, Z timestamps, statuses in any case and padding.
        "a-seed.parquet": (messy_rows("a", ["2024-04-08T00:10:00+00:00", "2024-04-08T12:00:00+00:00",
                                             "2024-04-08T23:59:59+00:00", "2024-04-08T08:00:00+00:00"],
                                       ["active", "ACTIVE", " Active ", "pending"], [1.0, 2.0, None, 8.0]), z),
        # Offsets: 01:15+02:00 on the 8th is 23:15 UTC on the 7th, a late event of the day before.
        "b-offsets.csv": (messy_rows("b", ["2024-04-07T23:15:00+00:00", "2024-04-08T10:00:00+00:00"],
                                      ["active", "active"], [16.0, 32.0]), plus2),
        # Zone-less timestamps are UTC; an extra column is dropped, not a rejection.
        "c-naive.jsonl": (messy_rows("c", ["2024-04-08T06:30:00+00:00"], ["active"], [64.0]), naive),
    }
    bad = {
        "d-status.csv": (messy_rows("d", ["2024-04-08T09:00:00+00:00"], ["bogus"], [1.0]), z, "status"),
        "e-range.parquet": (messy_rows("e", ["2024-04-08T09:00:00+00:00", "2024-04-08T09:01:00+00:00"],
                                        ["active", "active"], [-5.0, float("inf")]), z, "value"),
        "f-another-year.csv": (messy_rows("f", ["2019-07-04T12:00:00+00:00"], ["active"], [1.0]), z, "2019-07-04"),
        # Arrives after a-seed (its key sorts later) and repeats one of its ids: rejected whole.
        "z-resend.parquet": (messy_rows("a", ["2024-04-08T12:00:00+00:00"], ["active"], [2.0]), z, "a-0"),
    }
    for name, (rows, form) in good.items():
        write_messy(store, MESSY_DAY, name, rows, form, {"campaign": ["x"] * len(rows)} if name.startswith("c") else None)
    for name, (rows, form, _) in bad.items():
        write_messy(store, MESSY_DAY, name, rows, form)
    late = messy_rows("g", ["2024-04-08T23:00:00+00:00", "2024-04-09T01:00:00+00:00"], ["active", "active"], [128.0, 256.0])
    write_messy(store, NEXT_DAY, "late.parquet", late, z)

    ingest = dg.materialize(
        list(location_defs["ingest"].assets), selection=[dg.AssetKey(["raw", "raw_events"])],
        resources=location_defs["ingest"].resources, instance=instance, raise_on_error=False,
        **day_range(MESSY_DAY, NEXT_DAY),
    )
    landing_check = next(e for e in ingest.get_asset_check_evaluations() if e.check_name == "landing_files_valid")
    assert not landing_check.passed
    run(
        location_defs["transforms"], ["staging/processed_events", "marts/daily_summary"], instance,
        **day_range(DAY_BEFORE, NEXT_DAY),
    )

    # Independent: the good files' rows by the UTC day of their true instant, first arrival wins.
    truth = [r for rows, _ in good.values() for r in rows] + late
    days = [DAY_BEFORE, MESSY_DAY, NEXT_DAY]
    want = {
        d: (
            sum(1 for r in truth if r["utc"].date().isoformat() == d and r["status"].strip().lower() == "active"),
            sum((r["value"] or 0.0) for r in truth if r["utc"].date().isoformat() == d and r["status"].strip().lower() == "active"),
        )
        for d in days
    }
    got = lake_daily(store, days)
    assert {row[0]: (row[2], row[1]) for row in got.select("date", "total_value", "event_count").rows()} == want

    # Every bad file left landing for quarantine, with a reason naming what was wrong.
    for name, (_, _, named) in bad.items():
        assert not store.exists(f"landing/events/{MESSY_DAY}/{name}"), name
        [moved] = [o.key for o in store.list(f"quarantine/events/{MESSY_DAY}") if o.key.endswith("/" + name)]
        reason = store.read_bytes(moved + ".error.txt").decode()
        assert named in reason, (name, reason)
    for name in good:
        assert store.exists(f"landing/events/{MESSY_DAY}/{name}"), name
