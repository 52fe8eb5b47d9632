import dagster as dg

# Evaluates this location's automation conditions; running from the first deploy, so new upstream
# partitions flow through without anyone switching anything on in the UI.
automation = dg.AutomationConditionSensorDefinition(
    "transforms_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
