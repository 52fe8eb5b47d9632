import json

import dagster as dg
import pytest

from ingest.defs.release import release_from_quarantine
from lake.env import lake_resources

KEY = "quarantine/events/2024-08-05/abc123/orders.csv"


def release(store, instance, **config):
    return release_from_quarantine.execute_in_process(
        run_config={"ops": {"release_quarantined_file": {"config": config}}},
        resources=lake_resources(store),
        instance=instance,
        raise_on_error=False,
    )


def quarantine(store, key=KEY, data=b"id,status\n1,active\n"):
    store.write_bytes(key, data)
    store.write_bytes(key + ".error.txt", b"orders.csv: wrong schema\n")
    return data


def test_a_release_moves_the_file_back_to_landing_and_records_who_and_why(object_store, instance):
    data = quarantine(object_store)
    result = release(object_store, instance, quarantine_key=KEY, reason="schema agreed with sender", released_by="ana")

    assert result.success
    assert object_store.read_bytes("landing/events/2024-08-05/orders.csv") == data
    assert not object_store.exists(KEY)
    assert object_store.exists(KEY + ".error.txt")  # the history stays
    [audit] = [o.key for o in object_store.list("quarantine/releases")]
    assert audit.endswith("-orders.csv.json")
    record = json.loads(object_store.read_bytes(audit))
    assert {k: record[k] for k in ("released_by", "reason", "from", "to", "etag")} == {
        "released_by": "ana",
        "reason": "schema agreed with sender",
        "from": KEY,
        "to": "landing/events/2024-08-05/orders.csv",
        "etag": "abc123",
    }
    assert "wrong schema" in record["error"]
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags["quarantine/released_by"] == "ana" and tags["quarantine/file"] == KEY
    assert any("Released" in r.user_message and "ana" in r.user_message for r in instance.all_logs(result.run_id))


def test_a_release_under_another_name(object_store, instance):
    quarantine(object_store)
    result = release(
        object_store, instance, quarantine_key=KEY, reason="r", released_by="ana", landing_name="orders-fixed.csv"
    )
    assert result.success
    assert object_store.exists("landing/events/2024-08-05/orders-fixed.csv")


@pytest.mark.parametrize(
    "key, problem",
    [
        ("landing/events/2024-08-05/orders.csv", "is not a quarantined file"),
        (KEY + ".error.txt", "is not a quarantined file"),
        ("quarantine/events/2024-08-05/nope/orders.csv", "does not exist"),
    ],
)
def test_a_key_that_is_not_in_quarantine_fails_clearly(key, problem, object_store, instance):
    quarantine(object_store)
    result = release(object_store, instance, quarantine_key=key, reason="r", released_by="ana")
    assert not result.success
    assert problem in str(result.failure_data_for_node("release_quarantined_file").error.message)
    assert object_store.exists(KEY)


def test_an_existing_target_is_never_overwritten(object_store, instance):
    quarantine(object_store)
    object_store.write_bytes("landing/events/2024-08-05/orders.csv", b"other")
    result = release(object_store, instance, quarantine_key=KEY, reason="r", released_by="ana")
    assert not result.success
    assert "already exists" in result.failure_data_for_node("release_quarantined_file").error.message
    assert object_store.read_bytes("landing/events/2024-08-05/orders.csv") == b"other"
    assert object_store.exists(KEY)


def test_reason_and_released_by_are_required_and_not_blank(object_store, instance):
    quarantine(object_store)
    with pytest.raises(dg.DagsterInvalidConfigError):
        release(object_store, instance, quarantine_key=KEY, released_by="ana")
    result = release(object_store, instance, quarantine_key=KEY, reason="  ", released_by="ana")
    assert not result.success
    assert object_store.exists(KEY)


def test_a_successful_release_requests_its_day_once_keyed_on_the_release_run(object_store, instance):
    from ingest.defs.release import reload_released_days

    quarantine(object_store)
    result = release(object_store, instance, quarantine_key=KEY, reason="fixed upstream", released_by="ana")
    assert result.success
    run = instance.get_run_by_id(result.run_id)  # with the tags the op added
    success = next(
        e for e in instance.all_logs(result.run_id) if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_SUCCESS"
    )
    context = dg.build_run_status_sensor_context(
        sensor_name=reload_released_days.name, dagster_instance=instance, dagster_run=run, dagster_event=success.dagster_event
    )
    request = reload_released_days(context)
    assert request.partition_key == "2024-08-05"
    assert request.run_key == result.run_id
    assert request.tags["landing/file"] == "landing/events/2024-08-05/orders.csv"
    assert request.tags["quarantine/released_by"] == "ana"
    assert [j.name for j in reload_released_days.jobs] == ["raw_events_job"]
