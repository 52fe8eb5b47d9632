"""How assets react to their upstream, shared by every location that automates.

Both conditions are eager() without its in_latest_time_window(): yesterday's partition, loaded by
the 02:00 schedule after midnight opened a new one, and re-loaded history must flow through too.
"""

import dagster as dg

from lake import keys

# An upstream partition is busy while a run of it is queued or running, or while a backfill that
# targets it has not run it yet. Dagster's in_progress() holds it for as long as the backfill's own
# record says so, which the backfill daemon updates at its next iteration: up to 5 s after the
# partition's run ended (the platform's daemon; Dagster's own pauses 30 s, which the first `up` once
# waited between the daily chain and the monthly rollup). A partition updated since it entered the
# backfill is done.
NOT_YET_RUN_BY_ITS_BACKFILL = dg.AutomationCondition.backfill_in_progress() & ~(
    dg.AutomationCondition.newly_updated().since(dg.AutomationCondition.backfill_in_progress().newly_true())
)
UPSTREAM_BUSY = dg.AutomationCondition.any_deps_match(
    dg.AutomationCondition.run_in_progress() | NOT_YET_RUN_BY_ITS_BACKFILL
).with_label("any_deps_busy")


def _deps_updated(ignore: dg.AssetSelection | None) -> dg.AutomationCondition:
    updated = dg.AutomationCondition.any_deps_updated()
    return updated.ignore(ignore) if ignore is not None else updated


# "handled": Dagster's since_last_handled() counts an upstream update as handled once the asset is
# requested or updated. Both show one tick late: the tick after a request sees it as newly
# requested, and a run's materialization is seen at the tick after it. An upstream update seen in
# that same tick (say raw D reloaded while the requested run was reading the old raw D) was then
# counted as handled, and the asset kept the old data until upstream changed again. So a tick in
# which an upstream was updated handles nothing: the asset runs once more and reads the update.
def refresh_on_upstream_update(ignore: dg.AssetSelection | None = None) -> dg.AutomationCondition:
    """An update of any upstream not in ``ignore`` refreshes the asset once every upstream is
    quiet (ignored ones included: none busy). For monthly and unpartitioned assets: days
    still missing (the running month) do not hold them back."""
    deps_updated = _deps_updated(ignore)
    handled = (
        (
            dg.AutomationCondition.newly_requested()
            | dg.AutomationCondition.newly_updated()
            | dg.AutomationCondition.initial_evaluation()
        )
        & ~deps_updated
    ).with_label("handled")
    return (
        deps_updated.since(handled)
        & ~UPSTREAM_BUSY
        & ~dg.AutomationCondition.in_progress()
    ).with_label("on_any_upstream_update")


ON_ANY_UPSTREAM_UPDATE = refresh_on_upstream_update()

# For what reads daily_summary and its monthly rollup (reporting): refreshed by the rollup's
# update, not by daily_summary's. Transforms' automation rolls every updated day up into its month,
# so a daily_summary update is always followed by a monthly_summary one. Triggered by both, the
# report and the analytics database ran as soon as the days were summarized, beside the rollup
# (the two locations' sensors tick independently, so neither saw the other in progress), published
# the new days beside last run's months, and ran again once the rollup landed.
ON_ROLLUP_UPDATE = refresh_on_upstream_update(ignore=dg.AssetSelection.assets(keys.DAILY_SUMMARY))

# An upstream's blocking checks passed, or the upstream is requested in this same tick: then it
# runs with us (same location, partitions and backfill policy), its blocking checks run in that run
# before we do, and a failed one stops us there. Dagster's all_deps_blocking_checks_passed() asks of
# the checks themselves, which are never requested (they ride along with their asset): a new day's
# summary waited for a second automation tick and backfill after its processed_events' run.
DEPS_CHECKS_PASSED_OR_RUN_WITH_US = dg.AutomationCondition.all_deps_match(
    dg.AutomationCondition.all_checks_match(dg.AutomationCondition.check_passed(), blocking_only=True)
    | dg.AutomationCondition.will_be_requested()
).with_label("all_deps_blocking_checks_passed_or_run_with_us")

# For the daily chain: a new or re-loaded upstream partition flows through without anyone clicking,
# in the same run as its upstream when both are due, but never onto a missing upstream partition
# and never past a failed blocking check.
# Handled as Dagster's since_last_handled() says, not as "handled" above: this upstream
# (processed_events) lives in the same location and usually runs in the same run (a backfill, or
# automation requesting both), so its update seen in the tick of our own update is ours. Under
# "handled" above it was not handled for every partition but the last of a multi-partition run
# (Dagster tells "the same run" only by the asset's latest materialization), and daily_summary ran
# again after every backfill.
ON_UPSTREAM_UPDATE = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.any_deps_missing()
    & DEPS_CHECKS_PASSED_OR_RUN_WITH_US
).with_label("on_upstream_update")


# For an event-day asset over arrival-day partitions (event day D reads raw D .. D+LATE_ARRIVAL_DAYS,
# lake.partitions.arrival_to_event_day): D runs when any of its arrival days is loaded or re-loaded,
# so late events of D arriving on D+1 update D again, and never past a failed blocking check on any
# of them. Not ~any_deps_missing(): the dependency conditions judge a partition by ALL the upstream
# partitions it maps to, so D would wait for D+1, which does not exist yet (today) or ever (a day
# without files). Dagster's built-in conditions cannot tell raw D from raw D+1 here (a Python
# condition could, but it must then be evaluated in the code server, which sees only its own
# location's asset graph and so not raw_events' blocking checks in ingest). So D runs from whichever
# arrival days exist: normally raw D lands first; if D+1 is loaded before D, D runs on the late
# events alone and again, complete, when raw D lands.
# A check's result belongs to the asset, not to a partition (the checks carry no partitions): a
# failed blocking check on raw_events holds back every event day until raw_events' next run passes.
ON_ARRIVAL_UPDATE = (
    ON_ANY_UPSTREAM_UPDATE & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("on_arrival_update")


def automation_sensor(
    location: str,
    target: dg.AssetSelection = dg.AssetSelection.all(),
    name: str = "automation",
    emit_backfills: bool = True,
) -> dg.AutomationConditionSensorDefinition:
    """Evaluates a location's automation conditions; running from the first deploy, so upstream
    updates flow through without anyone switching anything on in the UI.

    At least 10 s apart, not Dagster's 30: each step of the chain (raw -> transforms -> reporting)
    waits for a tick, and an idle tick costs the daemon under 0.1 s. The asset daemon looks every
    5 s, so ticks come 10 or 15 s apart (every 5 s cost the idle stack a quarter more CPU for
    2.5 s at a first `up`: docs/performance.md).

    ``emit_backfills``: a tick that requests several partitions of an asset makes one backfill of
    them, which waits for the backfill daemon's next iteration (every 5 s here, Dagster's own
    every 30 s: dataplatform_launcher.daemon) and groups partitions
    into runs by the assets' backfill policy. Targets without a backfill policy (monthly and
    unpartitioned assets) take a run per partition either way: False requests those runs directly."""
    return dg.AutomationConditionSensorDefinition(
        f"{location}_{name}",
        target=target,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=10,
        emit_backfills=emit_backfills,
    )
