"""Partitions, defined once for every location.

A daily asset and a monthly asset in different locations line up only if they share these exact
definitions; building them twice invites drift in start date or timezone.
"""

import dagster as dg

LAKE_START_DATE = "2024-01-01"

# end_offset=1 makes "today" a valid partition: landing files for the current day can be loaded
# as soon as they arrive instead of waiting for midnight.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=LAKE_START_DATE, timezone="UTC", end_offset=1
)
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=LAKE_START_DATE, timezone="UTC", end_offset=1
)

# Every daily partition of a month feeds that month's partition. The running month maps onto days
# that do not exist yet; without allow_nonexistent_upstream_partitions, automation and backfills of
# the current month fail with "depends on non-existent partitions".
daily_to_monthly = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)

# Backfills run up to 28 daily partitions per run (four weeks). One partition per run would start
# one run container per day: a 90-day backfill would pay ~90 container start-ups and Python imports,
# about 4 CPU-s each, which dominate the cost of a day's work. A single run for the whole range
# would hold every partition in one process's memory and make a failure redo everything. Measured
# at 100,000 events a day (bench/, P2), in-process: a 28-day run peaks at 0.80 GB (raw_events) and
# 0.95 GB (processed_events with daily_summary), about what 14 days took before the row checks
# stopped hashing (partition, id) pairs; the same runs over twice the events (56 days) peak at 1.39
# and 1.62 GB, still inside the 2 GB default run limit (.env: *_RUN_MEMORY). A year's backfill:
# 41 runs instead of 79 at 14 days, 329 s instead of 426-439 s, its run containers peaking at
# 0.88 GB. The lake IO manager writes each partition of a multi-partition run as its own object.
DAILY_BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=28)

# A landing folder's date is the day a file arrived; an event belongs to the UTC day of its
# timestamp. Events may arrive up to this many days late: an event of day D may sit in the folder
# of D .. D+LATE_ARRIVAL_DAYS, and nowhere else.
LATE_ARRIVAL_DAYS = 1

# The arrival partitions that can hold an event day's events: day D of an event-day asset reads the
# raw (arrival-day) partitions D .. D+LATE_ARRIVAL_DAYS. The later ones may not exist yet (today's
# D+1 is not a partition until midnight) or may never be loaded (no files arrived that day); D
# still materializes from what exists (the reading input sets allow_missing_partitions).
arrival_to_event_day = dg.TimeWindowPartitionMapping(
    start_offset=0, end_offset=LATE_ARRIVAL_DAYS, allow_nonexistent_upstream_partitions=True
)


def partition_column(partitions_def: dg.PartitionsDefinition | None) -> str:
    """The column, and hive path key, that holds a partition's key in lake data."""
    if partitions_def == daily_partitions:
        return "date"
    if partitions_def == monthly_partitions:
        return "month"
    raise ValueError(f"{partitions_def} is not a lake partitions definition; use lake.partitions.")
