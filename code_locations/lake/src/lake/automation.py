"""How assets react to their upstream, shared by every location that automates.

Both conditions are eager() without its in_latest_time_window(): yesterday's partition, loaded by
the 02:00 schedule after midnight opened a new one, and re-loaded history must flow through too.
"""

import dagster as dg

# Any upstream update refreshes the asset once upstream is quiet. For monthly and unpartitioned
# assets: days still missing (the running month) do not hold them back.
ON_ANY_UPSTREAM_UPDATE = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("on_any_upstream_update")

# For the daily chain: a new or re-loaded upstream partition flows through without anyone clicking,
# but never onto a missing upstream partition and never past a failed blocking check.
ON_UPSTREAM_UPDATE = (
    ON_ANY_UPSTREAM_UPDATE
    & ~dg.AutomationCondition.any_deps_missing()
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("on_upstream_update")


def automation_sensor(location: str) -> dg.AutomationConditionSensorDefinition:
    """Evaluates a location's automation conditions; running from the first deploy, so upstream
    updates flow through without anyone switching anything on in the UI."""
    return dg.AutomationConditionSensorDefinition(
        f"{location}_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
