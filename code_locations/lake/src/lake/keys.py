"""Asset keys that cross code locations, and how a reading location declares them.

Locations depend on each other by asset key only. A key is declared here once and used both by
the location that materializes it and by the locations that read it. Each key carries its layer.
"""

import dagster as dg

from lake.partitions import daily_partitions, monthly_partitions

RAW_EVENTS = dg.AssetKey(["raw", "raw_events"])  # ingest -> transforms
DAILY_SUMMARY = dg.AssetKey(["marts", "daily_summary"])  # transforms -> reporting
MONTHLY_SUMMARY = dg.AssetKey(["marts", "monthly_summary"])  # transforms -> reporting


def upstream_spec(key: dg.AssetKey, owner: str) -> dg.AssetSpec:
    """How a location that only reads ``key`` declares it: partitioned like the real asset,
    loadable through the shared IO manager, and materialized only by its owning location."""
    partitions_def = monthly_partitions if key == MONTHLY_SUMMARY else daily_partitions
    return dg.AssetSpec(
        key,
        partitions_def=partitions_def,
        description=f"Materialized by the {owner} code location.",
    )
