from lake.automation import automation_sensor

# A monthly report and the unpartitioned analytics database: no backfill policy to group by.
automation = automation_sensor("reporting", emit_backfills=False)
