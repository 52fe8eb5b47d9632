from datetime import date

import dagster as dg
import polars as pl

from ingest.defs.demo_job import seed_demo_landing
from ingest.demo import demo_events, main
from ingest.landing import validate_landing_file
from lake.schema import EVENT_STATUSES


def test_demo_events_are_deterministic_per_date_and_pass_validation():
    day = date(2024, 3, 4)
    first, second = demo_events(day, 300), demo_events(day, 300)
    assert first.equals(second)
    assert not first.equals(demo_events(date(2024, 3, 5), 300))
    assert first.height == 300  # a Monday: the full weekday volume
    assert demo_events(date(2024, 3, 9), 300).height == 180  # a Saturday
    assert set(first["status"]) <= set(EVENT_STATUSES)
    assert 0 < first["value"].null_count() < 30
    assert first["id"].is_unique().all()
    buffer_df = validate_landing_file("demo.csv", first.write_csv().encode(), day="2024-03-04")
    assert buffer_df.height == 300


def test_the_command_line_seeds_a_range_and_only_an_empty_bucket(lake_env, capsys):
    assert main(["--start", "2024-03-01", "--end", "2024-03-03", "--events-per-day", "20"]) == 0
    keys = [o.key for o in lake_env.list("landing/events")]
    assert keys == [f"landing/events/2024-03-0{d}/demo-2024-03-0{d}.parquet" for d in (1, 2, 3)]
    first = pl.read_parquet(lake_env.read_bytes(keys[0]))
    assert first.equals(demo_events(date(2024, 3, 1), 20))

    etags = {o.key: o.etag for o in lake_env.list("landing/events")}
    assert main(["--days", "5", "--if-empty"]) == 0
    assert "already has files; not seeding" in capsys.readouterr().out
    assert {o.key: o.etag for o in lake_env.list("landing/events")} == etags


def test_the_demo_job_writes_the_same_files(object_store, instance):
    result = seed_demo_landing.execute_in_process(
        run_config={"ops": {"write_demo_landing_files": {"config": {
            "start_date": "2024-03-01", "end_date": "2024-03-02", "events_per_day": 10}}}},
        resources={"object_store": object_store},
        instance=instance,
    )
    assert result.success
    data = pl.read_parquet(object_store.read_bytes("landing/events/2024-03-02/demo-2024-03-02.parquet"))
    assert data.equals(demo_events(date(2024, 3, 2), 10))
