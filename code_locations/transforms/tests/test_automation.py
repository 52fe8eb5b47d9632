import dagster as dg

from lake.keys import DAILY_SUMMARY, MONTHLY_SUMMARY, RAW_EVENTS
from transforms.definitions import defs as load_defs
from transforms.defs.events import PROCESSED_EVENTS


def requested(result) -> dict:
    return {
        r.key: sorted(r.true_subset.expensively_compute_partition_keys())
        for r in result.results
        if r.true_subset.size
    }


def materialize(instance, key, partition, checks_pass=True):
    """Record what a run that materialized the partition records: the event and its checks."""
    instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    for check in ("schema_matches", "id_not_null", "id_unique_per_partition", "value_in_range", "row_count"):
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(asset_key=key, check_name=check, passed=checks_pass)
        )


def test_a_new_ingest_partition_flows_to_the_summaries_without_a_click(instance):
    defs = load_defs()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert requested(result) == {}

    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_EVENTS, partition="2024-03-05"))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {PROCESSED_EVENTS: ["2024-03-05"]}

    materialize(instance, PROCESSED_EVENTS, "2024-03-05")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {DAILY_SUMMARY: ["2024-03-05"]}

    materialize(instance, DAILY_SUMMARY, "2024-03-05")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {MONTHLY_SUMMARY: ["2024-03-01"]}

    # Handled: nothing more until upstream changes again.
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}


def test_a_failed_blocking_check_holds_back_downstream(instance):
    defs = load_defs()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_EVENTS, partition="2024-03-06"))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {PROCESSED_EVENTS: ["2024-03-06"]}

    materialize(instance, PROCESSED_EVENTS, "2024-03-06", checks_pass=False)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}
