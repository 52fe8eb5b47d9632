"""The event contract: what landing files must contain and what raw_events holds."""

import polars as pl

# Columns a landing file must have, with the type raw_events stores them as.
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "user_id": pl.Int64(),
    "status": pl.String(),
    "timestamp": pl.String(),  # ISO-8601; transforms parse it
    "value": pl.Float64(),  # may be null; transforms fill 0
}

EVENT_STATUSES = ("active", "inactive", "pending")

# raw_events adds the partition column and the landing file each row came from.
RAW_EVENTS_SCHEMA: dict[str, pl.DataType] = {
    **EVENT_SCHEMA,
    "source_file": pl.String(),
    "date": pl.Date(),
}
