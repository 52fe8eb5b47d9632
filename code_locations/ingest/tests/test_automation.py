from datetime import datetime, timezone

import dagster as dg
from dagster._core.test_utils import freeze_time

from ingest.defs.automation import landing_files_sensor, raw_events_nightly


def tick(store, instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"object_store": store})
    result = landing_files_sensor(context)
    return result.run_requests or [], result.cursor


def test_each_new_or_changed_landing_file_requests_one_run(object_store, instance):
    object_store.write_bytes("landing/events/2024-03-01/a.parquet", b"one")
    object_store.write_bytes("landing/events/2024-03-02/b.csv", b"two")

    requests, cursor = tick(object_store, instance)
    assert sorted((r.partition_key, r.tags["landing/file"]) for r in requests) == [
        ("2024-03-01", "landing/events/2024-03-01/a.parquet"),
        ("2024-03-02", "landing/events/2024-03-02/b.csv"),
    ]
    assert all(r.run_key == f"{r.tags['landing/file']}@{r.tags['landing/etag']}" for r in requests)

    # Nothing changed: nothing requested.
    again, cursor = tick(object_store, instance, cursor)
    assert again == []

    # Re-uploading the same bytes keeps the etag: the run key is the one already used.
    object_store.write_bytes("landing/events/2024-03-01/a.parquet", b"one")
    same, cursor = tick(object_store, instance, cursor)
    assert all(r.run_key in {q.run_key for q in requests} for r in same)

    # Changed content: one new run for that file only.
    object_store.write_bytes("landing/events/2024-03-01/a.parquet", b"one, revised")
    changed, cursor = tick(object_store, instance, cursor)
    assert [(r.partition_key, r.tags["landing/file"]) for r in changed] == [
        ("2024-03-01", "landing/events/2024-03-01/a.parquet")
    ]
    assert changed[0].run_key not in {r.run_key for r in requests}


def test_keys_breaking_the_layout_request_one_layout_check_run(object_store, instance):
    strays = [
        "landing/events/not-a-date/a.parquet",
        "landing/events/1999-01-01/a.parquet",
        "landing/events/2024-02-30/a.parquet",
        "landing/events/a.parquet",
        # Observed: a nested file was loaded by raw_events yet never triggered the sensor.
        "landing/events/2024-03-05/archive/a.parquet",
    ]
    for key in strays:
        object_store.write_bytes(key, b"x")
    requests, cursor = tick(object_store, instance)
    assert [(r.job_name, r.partition_key) for r in requests] == [("landing_layout_job", None)]
    assert requests[0].tags["landing/stray_keys"] == "5"
    # Until they are moved, every tick asks again under the same run key, which Dagster dedups.
    again, cursor = tick(object_store, instance, cursor)
    assert [r.run_key for r in again] == [requests[0].run_key]
    # Another stray: a new run key.
    object_store.write_bytes("landing/events/2024-03-05/x/y.csv", b"x")
    more, _ = tick(object_store, instance, cursor)
    assert [r.job_name for r in more] == ["landing_layout_job"] and more[0].run_key != requests[0].run_key


def test_a_file_under_a_future_date_waits_for_its_day(object_store, instance):
    # Observed: only a daemon-log warning, and a newest-LastModified cursor would skip it forever.
    with freeze_time(datetime(2024, 3, 5, 12, tzinfo=timezone.utc)):
        object_store.write_bytes("landing/events/2024-03-06/early.csv", b"tomorrow")
        object_store.write_bytes("landing/events/2024-03-05/today.csv", b"today")
        requests, cursor = tick(object_store, instance)
        assert [r.partition_key for r in requests] == ["2024-03-05"]
        again, cursor = tick(object_store, instance, cursor)
        assert again == []
    assert object_store.exists("landing/events/2024-03-06/early.csv")  # not quarantined

    # The daemon restarts (only the cursor survives) and the day begins.
    with freeze_time(datetime(2024, 3, 6, 0, 1, tzinfo=timezone.utc)):
        requests, cursor = tick(object_store, instance, cursor)
        assert [(r.partition_key, r.tags["landing/file"]) for r in requests] == [
            ("2024-03-06", "landing/events/2024-03-06/early.csv")
        ]
        again, cursor = tick(object_store, instance, cursor)
        assert again == []


def test_several_new_files_of_one_day_each_request_a_run(object_store, instance):
    _, cursor = tick(object_store, instance)
    for name in ("a.csv", "b.csv", "c.csv"):
        object_store.write_bytes(f"landing/events/2024-03-05/{name}", name.encode())
    requests, cursor = tick(object_store, instance, cursor)
    assert sorted(r.tags["landing/file"] for r in requests) == [
        f"landing/events/2024-03-05/{n}" for n in ("a.csv", "b.csv", "c.csv")
    ]
    assert {r.job_name for r in requests} == {"raw_events_job"}
    # A file moved to quarantine is simply gone; a corrected one under any name is new.
    object_store.delete("landing/events/2024-03-05/b.csv")
    object_store.write_bytes("landing/events/2024-03-05/b-fixed.csv", b"fixed")
    requests, _ = tick(object_store, instance, cursor)
    assert [r.tags["landing/file"] for r in requests] == ["landing/events/2024-03-05/b-fixed.csv"]


def test_the_nightly_schedule_loads_the_previous_day():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc)
    )
    request = raw_events_nightly(context)
    assert request.partition_key == "2024-02-29"
    assert raw_events_nightly.cron_schedule == "0 2 * * *"
    assert raw_events_nightly.default_status == dg.DefaultScheduleStatus.RUNNING
