from lake.automation import automation_sensor

automation = automation_sensor("reporting")
