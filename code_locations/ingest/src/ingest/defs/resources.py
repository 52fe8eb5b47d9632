import dagster as dg

from lake.env import RUN_EXECUTOR, lake_resources


@dg.definitions
def resources() -> dg.Definitions:
    """The location's resources and how its runs execute (lake.env.RUN_EXECUTOR)."""
    return dg.Definitions(resources=lake_resources(), executor=RUN_EXECUTOR)
