import time

import dagster as dg

from lake.keys import DAILY_SUMMARY, MONTHLY_SUMMARY, RAW_EVENTS
from lake.partitions import daily_partitions
from lake.testing import requested
from transforms.definitions import defs as load_defs
from transforms.defs.events import PROCESSED_EVENTS


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

    for day in ("2024-03-04", "2024-03-05"):
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_EVENTS, partition=day))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    # Event day 03-03 reads raw 03-04 as its late arrival day.
    days = ["2024-03-03", "2024-03-04", "2024-03-05"]
    # daily_summary in the same request, so in the same runs: processed_events' blocking checks
    # run there before it (it waited for a tick after them).
    assert requested(result) == {PROCESSED_EVENTS: days, DAILY_SUMMARY: days}

    run_range(instance, [PROCESSED_EVENTS, DAILY_SUMMARY], days)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {MONTHLY_SUMMARY: ["2024-03-01"]}

    # Handled: nothing more until upstream changes again.
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}


def test_a_failed_blocking_check_holds_back_downstream(instance):
    defs = load_defs()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    for day in ("2024-03-06", "2024-03-07"):
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_EVENTS, partition=day))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    days = ["2024-03-05", "2024-03-06", "2024-03-07"]
    assert requested(result) == {PROCESSED_EVENTS: days, DAILY_SUMMARY: days}

    # In that run processed_events' blocking checks fail, so daily_summary does not run after them;
    # nor does automation request it afterwards.
    for day in days:
        materialize(instance, PROCESSED_EVENTS, day, checks_pass=False)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}
    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_EVENTS, partition="2024-03-09"))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    # Another day lands: it runs, with its summary; the held-back days stay held back.
    later = ["2024-03-08", "2024-03-09"]
    assert requested(result) == {PROCESSED_EVENTS: later, DAILY_SUMMARY: later}


# Event days read arrival days D .. D+LATE_ARRIVAL_DAYS (lake.partitions.arrival_to_event_day).


def with_raw_checks() -> dg.Definitions:
    """The transforms assets with raw_events as the deployment's automation sensor sees it: the
    daemon evaluates over the whole workspace, so ingest's blocking check on raw_events counts."""

    @dg.asset(
        key=RAW_EVENTS,
        partitions_def=daily_partitions,
        check_specs=[dg.AssetCheckSpec("landing_files_valid", asset=RAW_EVENTS, blocking=True)],
    )
    def raw_events(): ...

    transforms = [a for a in load_defs().assets if isinstance(a, dg.AssetsDefinition)]
    return dg.Definitions(assets=[raw_events, *transforms])


def land(instance, day, valid=True):
    """What a raw_events run records: the partition and its landing_files_valid check."""
    instance.report_runless_asset_event(dg.AssetMaterialization(RAW_EVENTS, partition=day))
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=RAW_EVENTS, check_name="landing_files_valid", passed=valid
        )
    )


def test_an_event_day_runs_when_its_own_arrival_day_lands_and_again_when_the_next_one_does(instance):
    defs = with_raw_checks()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    # Raw D lands, D+1 not yet: D must not wait for it. D-1 reads raw D as its late day and is
    # updated too (here it has no raw of its own yet: it runs on raw D's late events alone).
    land(instance, "2024-03-05")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    first = ["2024-03-04", "2024-03-05"]
    assert requested(result) == {PROCESSED_EVENTS: first, DAILY_SUMMARY: first}
    run_range(instance, [PROCESSED_EVENTS, DAILY_SUMMARY], first)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {MONTHLY_SUMMARY: ["2024-03-01"]}

    # Raw D+1 lands, holding D's late events: D is updated again, and D+1 runs (daily_summary in
    # the same runs: its upstream will be updated by them).
    land(instance, "2024-03-06")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    both = ["2024-03-05", "2024-03-06"]
    assert requested(result) == {PROCESSED_EVENTS: both, DAILY_SUMMARY: both}


def test_a_failed_blocking_check_on_an_arrival_day_holds_back_the_event_days_that_read_it(instance):
    defs = with_raw_checks()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    # Raw D fails its landing check (a quarantined file): no event day reading it runs.
    land(instance, "2024-04-10", valid=False)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}

    # The day is reloaded with its files fixed (a corrected or released file): the check passes
    # and D-1 and D flow through.
    land(instance, "2024-04-10", valid=True)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    both = ["2024-04-09", "2024-04-10"]
    assert requested(result) == {PROCESSED_EVENTS: both, DAILY_SUMMARY: both}


def test_an_arrival_day_reloaded_while_its_event_days_ran_runs_them_again(instance):
    """Automation requested D-1 and D; their run read raw D, and raw D was loaded again (a
    released file) before the next tick saw that run's request and materializations. That tick
    must not count the new raw D as handled: the event days run again and read it."""
    defs = with_raw_checks()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    land(instance, "2024-05-20")
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    both = ["2024-05-19", "2024-05-20"]
    assert requested(result) == {PROCESSED_EVENTS: both, DAILY_SUMMARY: both}

    for day in both:  # the requested run, from the old raw D
        materialize(instance, PROCESSED_EVENTS, day)
        materialize(instance, DAILY_SUMMARY, day)
    land(instance, "2024-05-20")  # the reload, finished after that run
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result)[PROCESSED_EVENTS] == both

    # daily_summary's own update in that run is seen in the same tick: it follows the re-run.
    for day in both:
        materialize(instance, PROCESSED_EVENTS, day)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result)[DAILY_SUMMARY] == both
    assert PROCESSED_EVENTS not in requested(result)  # handled once it read the reload


def run_range(instance, keys, days) -> None:
    """What one run of ``keys`` over the range of ``days`` records, as a backfill runs them
    (BackfillPolicy.multi_run): the transforms assets' own keys, dependencies and checks, their
    compute replaced, so the materializations and check results come from one real run."""
    stubs = []
    for real in (a for a in load_defs().assets if isinstance(a, dg.AssetsDefinition)):

        @dg.multi_asset(
            name=real.node_def.name, specs=list(real.specs), check_specs=list(real.check_specs),
            partitions_def=real.partitions_def, can_subset=True,
        )
        def stub(context: dg.AssetExecutionContext):
            for key in context.selected_asset_keys:
                yield dg.MaterializeResult(asset_key=key)
                for check in context.selected_asset_check_keys:
                    if check.asset_key == key:
                        yield dg.AssetCheckResult(asset_key=key, check_name=check.name, passed=True)

        stubs.append(stub)
    job = dg.Definitions(assets=stubs).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, asset_selection=keys,
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
    )
    assert result.success


def test_a_backfill_of_processed_and_daily_in_one_run_is_not_run_again_by_automation(instance):
    """Dagster recognises an upstream update from the asset's own run only for the latest
    partition; daily_summary ran again for every other day of a backfill run."""
    defs = load_defs()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    days = ["2024-06-03", "2024-06-04", "2024-06-05"]
    for day in days:
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_EVENTS, partition=day))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    run_range(instance, [PROCESSED_EVENTS, DAILY_SUMMARY], ["2024-06-02", *days])  # the backfill's run
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {MONTHLY_SUMMARY: ["2024-06-01"]}


def test_the_monthly_rollup_follows_a_backfill_as_soon_as_it_has_run_the_month_s_days(instance):
    """Not when the backfill daemon next books the runs (up to 30 s later): the backfill's own
    record still says the days are to do."""
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

    defs = load_defs()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    days = ["2024-03-04", "2024-03-05"]
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id="rollup",
        asset_graph=defs.resolve_asset_graph(),
        partition_names=days,
        asset_selection=[DAILY_SUMMARY],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}

    # One day run: the month waits for the other.
    instance.report_runless_asset_event(dg.AssetMaterialization(DAILY_SUMMARY, partition=days[0]))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}

    instance.report_runless_asset_event(dg.AssetMaterialization(DAILY_SUMMARY, partition=days[1]))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert instance.get_backfill("rollup").status == BulkActionStatus.REQUESTED
    assert requested(result) == {MONTHLY_SUMMARY: ["2024-03-01"]}
