"""The event contract: what landing files must contain and what raw_events holds."""

import polars as pl

# Columns every landing file must have, with the type raw_events stores them as. Timestamps are
# UTC instants from raw on; a landing file may write them as ISO-8601 text (with Z, with an
# offset, or naive = UTC) or as native datetimes. value may be null (transforms fill 0).
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "status": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "value": pl.Float64(),
}

# Columns a landing file may have: kept when present, null when absent.
OPTIONAL_EVENT_COLUMNS: dict[str, pl.DataType] = {
    "user_id": pl.Int64(),
}

EVENT_STATUSES = ("active", "inactive", "pending")

# What raw_events stores, in this order: the events, the landing file each row came from, and the
# partition column. ``date`` is the ARRIVAL day (the landing folder's date, the partition), not the
# UTC day of the event's timestamp; an event may arrive up to lake.partitions.LATE_ARRIVAL_DAYS late.
RAW_EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "user_id": pl.Int64(),
    "status": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "value": pl.Float64(),
    "source_file": pl.String(),
    "date": pl.Date(),
}
