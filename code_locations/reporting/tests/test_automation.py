import dagster as dg

from lake.keys import DAILY_SUMMARY, MONTHLY_SUMMARY
from lake.testing import requested
from reporting.definitions import defs as load_defs
from reporting.defs.analytics_db import LOAD_TO_DUCKDB
from reporting.defs.kpi_report import MONTHLY_KPI_REPORT


def test_the_report_and_the_database_wait_for_the_monthly_rollup_of_new_days(instance):
    defs = load_defs()
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert requested(result) == {}

    # New days are summarized: transforms rolls them up next, so reporting waits for it and does
    # not publish new days beside last run's months.
    for day in ("2024-03-30", "2024-03-31", "2024-04-01"):
        instance.report_runless_asset_event(dg.AssetMaterialization(DAILY_SUMMARY, partition=day))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}

    for month in ("2024-03-01", "2024-04-01"):
        instance.report_runless_asset_event(dg.AssetMaterialization(MONTHLY_SUMMARY, partition=month))
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {MONTHLY_KPI_REPORT: ["2024-03-01", "2024-04-01"], LOAD_TO_DUCKDB: True}

    # Handled once: the days' own updates, seen before the rollup, do not run it again.
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert requested(result) == {}
