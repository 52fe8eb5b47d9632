import dagster as dg

from reporting.duck import reporting_resources


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=reporting_resources())
