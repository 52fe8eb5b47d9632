import dagster as dg

from lake.env import lake_resources


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=lake_resources())
