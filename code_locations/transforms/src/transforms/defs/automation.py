import dagster as dg

from lake import keys
from lake.automation import automation_sensor

# The daily chain runs up to 28 days a run (its backfill policy), through backfills; the monthly
# rollup takes a run per month either way, requested directly.
ROLLUPS = dg.AssetSelection.assets(keys.MONTHLY_SUMMARY)
automation = automation_sensor("transforms", target=dg.AssetSelection.all() - ROLLUPS)
rollup_automation = automation_sensor(
    "transforms", target=ROLLUPS, name="rollup_automation", emit_backfills=False
)
