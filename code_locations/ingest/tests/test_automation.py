import json
import time
from datetime import date, datetime, timedelta, timezone

import dagster as dg
from dagster._core.test_utils import freeze_time

from ingest.defs import automation
from ingest.defs.automation import (
    PARTITION_RANGE_END as RANGE_END,
    PARTITION_RANGE_START as RANGE_START,
    landing_files_sensor,
    raw_events_nightly,
)
from lake.partitions import DAILY_BACKFILL_POLICY, daily_partitions


def tick(store, instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"object_store": store})
    result = landing_files_sensor(context)
    return result.run_requests or [], result.cursor


def test_new_or_changed_landing_files_request_one_run_per_range_of_days(object_store, instance):
    object_store.write_bytes("landing/events/2024-03-01/a.parquet", b"one")
    object_store.write_bytes("landing/events/2024-03-02/b.csv", b"two")
    object_store.write_bytes("landing/events/2024-03-02/c.csv", b"three")

    requests, cursor = tick(object_store, instance)
    [request] = requests
    assert request.partition_key is None and request.tags[RANGE_START] == "2024-03-01"
    assert request.tags[RANGE_END] == "2024-03-02" and request.tags["landing/files"] == "3"

    # Nothing changed: nothing requested.
    again, cursor = tick(object_store, instance, cursor)
    assert again == []

    # Changed content: one new run, for that file's day only; a single file keeps the run key and
    # tags of its own.
    object_store.write_bytes("landing/events/2024-03-01/a.parquet", b"one, revised")
    changed, cursor = tick(object_store, instance, cursor)
    assert [(r.partition_key, r.tags["landing/file"]) for r in changed] == [
        ("2024-03-01", "landing/events/2024-03-01/a.parquet")
    ]
    assert changed[0].run_key == f"{changed[0].tags['landing/file']}@{changed[0].tags['landing/etag']}"

    # Re-uploading the same bytes keeps the etag: the run key is the one already used.
    time.sleep(1.1)  # a later LastModified (whole seconds): the sensor sees the file again
    object_store.write_bytes("landing/events/2024-03-01/a.parquet", b"one, revised")
    same, cursor = tick(object_store, instance, cursor)
    assert [r.run_key for r in same] == [changed[0].run_key]


def test_a_run_covers_at_most_a_backfill_runs_days_of_consecutive_days(object_store, instance):
    per_run = DAILY_BACKFILL_POLICY.max_partitions_per_run

    def day(n: int) -> str:
        return (date(2024, 3, 1) + timedelta(days=n)).isoformat()

    # per_run + 2 consecutive days, a gap, 1 day, a gap, 2 days.
    offsets = [*range(per_run + 2), per_run + 5, per_run + 7, per_run + 8]
    for n in offsets:
        object_store.write_bytes(f"landing/events/{day(n)}/x.csv", day(n).encode())
    requests, cursor = tick(object_store, instance)
    ranges = [(r.tags.get(RANGE_START, r.partition_key), r.tags.get(RANGE_END, r.partition_key)) for r in requests]
    assert ranges == [
        (day(0), day(per_run - 1)), (day(per_run), day(per_run + 1)), (day(per_run + 5), day(per_run + 5)),
        (day(per_run + 7), day(per_run + 8)),
    ]
    assert {r.job_name for r in requests} == {"raw_events_job"}
    assert len({r.run_key for r in requests}) == 4
    # The same files seen again (a tick repeated after a daemon restart): the same run keys.
    assert [r.run_key for r in tick(object_store, instance)[0]] == [r.run_key for r in requests]
    assert tick(object_store, instance, cursor)[0] == []


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


def test_several_new_files_of_one_day_request_one_run_of_that_day(object_store, instance):
    _, cursor = tick(object_store, instance)
    for name in ("a.csv", "b.csv", "c.csv"):
        object_store.write_bytes(f"landing/events/2024-03-05/{name}", name.encode())
    [request], cursor = tick(object_store, instance, cursor)
    assert (request.job_name, request.partition_key, request.tags["landing/files"]) == ("raw_events_job", "2024-03-05", "3")
    # A file moved to quarantine is simply gone; a corrected one under any name is new.
    object_store.delete("landing/events/2024-03-05/b.csv")
    object_store.write_bytes("landing/events/2024-03-05/b-fixed.csv", b"fixed")
    requests, _ = tick(object_store, instance, cursor)
    assert [r.tags["landing/file"] for r in requests] == ["landing/events/2024-03-05/b-fixed.csv"]


def requested_days(requests) -> list[str]:
    return sorted(
        day
        for r in requests
        for day in daily_partitions.get_partition_keys_in_range(
            dg.PartitionKeyRange(r.tags.get(RANGE_START, r.partition_key), r.tags.get(RANGE_END, r.partition_key))
        )
    )


def test_a_tick_lists_the_recent_days_and_a_bounded_share_of_the_older_ones(object_store, instance, monkeypatch):
    """Ten older days of two files, swept a few folders a tick (pages of 5 keys, no time to spare):
    each day is requested exactly once over the ticks; today's new file does not wait for the sweep;
    a late file of a day already swept is found by the next sweep; nothing is requested twice."""
    monkeypatch.setattr(automation, "LIST_PAGE", 5)
    monkeypatch.setattr(automation, "SWEEP_SECONDS", 0)
    older = [f"2024-03-{d:02d}" for d in range(1, 11)]
    for day in older:
        for name in ("a.csv", "b.csv"):
            object_store.write_bytes(f"landing/events/{day}/{name}", f"{day}/{name}".encode())
    with freeze_time(datetime(2024, 3, 20, 12, tzinfo=timezone.utc)):
        requests, cursor = tick(object_store, instance)
        assert requested_days(requests) == older[:2]  # 5 keys: two whole folders and a part
        object_store.write_bytes("landing/events/2024-03-20/today.csv", b"today")
        requests, cursor = tick(object_store, instance, cursor)
        assert requested_days(requests) == ["2024-03-03", "2024-03-04", "2024-03-20"]
        seen = ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-20"]
        ticks = 2
        while len(seen) < 11:
            requests, cursor = tick(object_store, instance, cursor)
            seen += requested_days(requests)
            ticks += 1
        assert sorted(seen) == [*older, "2024-03-20"] and ticks == 5
        # The sweep ends and starts again: known files are not requested again.
        for _ in range(6):
            requests, cursor = tick(object_store, instance, cursor)
            assert requests == []
        object_store.write_bytes("landing/events/2024-03-02/late.csv", b"late")
        late = []
        for _ in range(6):
            requests, cursor = tick(object_store, instance, cursor)
            late += [(r.partition_key, r.tags.get("landing/file")) for r in requests]
        assert late == [("2024-03-02", "landing/events/2024-03-02/late.csv")]


def test_the_cursor_of_the_sensor_that_listed_everything_carries_over(object_store, instance):
    """Upgrading from the cursor {since, at_since, waiting}: files it knew are not requested again."""
    object_store.write_bytes("landing/events/2024-03-01/a.csv", b"a")
    [known] = list(object_store.list_pages("landing/events"))[0]
    since = known.last_modified.isoformat()
    old = json.dumps({"since": since, "at_since": [f"{known.key}@{known.etag}"], "waiting": []})
    assert tick(object_store, instance, old)[0] == []
    object_store.write_bytes("landing/events/2024-03-02/b.csv", b"b")
    requests, _ = tick(object_store, instance, old)
    assert [r.tags["landing/file"] for r in requests] == ["landing/events/2024-03-02/b.csv"]


def test_the_nightly_schedule_loads_the_previous_day():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc)
    )
    request = raw_events_nightly(context)
    assert request.partition_key == "2024-02-29"
    assert raw_events_nightly.cron_schedule == "0 2 * * *"
    assert raw_events_nightly.default_status == dg.DefaultScheduleStatus.RUNNING
