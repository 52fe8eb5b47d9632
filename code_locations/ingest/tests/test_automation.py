from datetime import datetime, timezone

import dagster as dg

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


def test_files_outside_the_date_layout_are_ignored(object_store, instance):
    object_store.write_bytes("landing/events/not-a-date/a.parquet", b"x")
    object_store.write_bytes("landing/events/1999-01-01/a.parquet", b"x")
    object_store.write_bytes("landing/events/a.parquet", b"x")
    requests, _ = tick(object_store, instance)
    assert requests == []


def test_the_nightly_schedule_loads_the_previous_day():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc)
    )
    request = raw_events_nightly(context)
    assert request.partition_key == "2024-02-29"
    assert raw_events_nightly.cron_schedule == "0 2 * * *"
    assert raw_events_nightly.default_status == dg.DefaultScheduleStatus.RUNNING
