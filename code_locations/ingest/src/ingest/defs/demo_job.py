from datetime import date

import dagster as dg
from pydantic import Field

from ingest.demo import write_demo_landing
from lake.store import ObjectStore


class DemoLandingConfig(dg.Config):
    start_date: str = Field(description="First date to generate, YYYY-MM-DD")
    end_date: str = Field(description="Last date to generate, YYYY-MM-DD")
    events_per_day: int = Field(default=400, ge=1, le=1_000_000, description="Weekday volume")


@dg.op(description="Write deterministic synthetic landing files for a date range")
def write_demo_landing_files(
    context: dg.OpExecutionContext, config: DemoLandingConfig, object_store: ObjectStore
) -> None:
    start, end = date.fromisoformat(config.start_date), date.fromisoformat(config.end_date)
    if start > end:
        raise ValueError(f"start_date {start} is after end_date {end}")
    object_store.ensure_bucket()
    keys = write_demo_landing(object_store, start, end, config.events_per_day)
    context.log.info(f"Wrote {len(keys)} landing files to s3://{object_store.bucket}/: {keys}")


@dg.job(description="Seed landing/events/ with synthetic data; the landing sensor picks it up")
def seed_demo_landing():
    write_demo_landing_files()
