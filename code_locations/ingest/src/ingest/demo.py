"""Synthetic landing data so a new installation has something to show.

Deterministic per date: the same date always yields byte-identical files, so seeding twice neither
changes the lake nor wakes the landing sensor. Run it as a job (seed_demo_landing) or from a shell:

    python -m ingest.demo --days 21 --if-empty
    python -m ingest.demo --start 2024-03-01 --end 2024-03-14 --events-per-day 500
"""

import argparse
import io
import os
import random
import sys
from datetime import date, datetime, timedelta, timezone

import polars as pl

from ingest.landing import LANDING_PREFIX, landing_prefix
from lake.schema import EVENT_STATUSES
from lake.store import ObjectStore


# What demo landing files hold: the contract's columns plus the optional user_id, with timestamps as
# ISO-8601 text in UTC ("...Z"), as many real producers write them.
DEMO_LANDING_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "user_id": pl.Int64(),
    "status": pl.String(),
    "timestamp": pl.String(),
    "value": pl.Float64(),
}


def demo_events(day: date, events_per_day: int) -> pl.DataFrame:
    """One day of events, all timestamped on ``day`` (UTC), so they are valid in the landing folder
    of ``day``: mostly active, a few nulls in value, weekday-heavy volume."""
    rng = random.Random(day.toordinal())
    count = events_per_day if day.weekday() < 5 else events_per_day * 3 // 5
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    rows = []
    for i in range(count):
        at = start + timedelta(seconds=rng.randrange(86_400))
        rows.append(
            {
                "id": f"evt-{day:%Y%m%d}-{i:06d}",
                "user_id": rng.randrange(1, 5_000),
                "status": rng.choices(EVENT_STATUSES, weights=(75, 15, 10))[0],
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "value": None if rng.random() < 0.03 else round(rng.lognormvariate(3.0, 0.8), 2),
            }
        )
    return pl.DataFrame(rows, schema=DEMO_LANDING_SCHEMA).sort("timestamp")


def demo_key(day: date) -> str:
    return f"{landing_prefix(day.isoformat())}/demo-{day.isoformat()}.parquet"


def write_demo_landing(store: ObjectStore, start: date, end: date, events_per_day: int) -> list[str]:
    """Write one parquet landing file per date in [start, end]; returns the keys written."""
    keys = []
    day = start
    while day <= end:
        buffer = io.BytesIO()
        demo_events(day, events_per_day).write_parquet(buffer, compression="zstd")
        store.write_bytes(demo_key(day), buffer.getvalue())
        keys.append(demo_key(day))
        day += timedelta(days=1)
    return keys


def _store_from_environment() -> ObjectStore:
    missing = [v for v in ("LAKE_S3_ENDPOINT_URL", "LAKE_BUCKET") if not os.environ.get(v)]
    if missing:
        sys.exit(f"ingest.demo: set {', '.join(missing)} (see deploy/.env.example)")
    return ObjectStore.for_command_line(os.environ["LAKE_BUCKET"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--start", type=date.fromisoformat, help="first date, YYYY-MM-DD")
    parser.add_argument("--end", type=date.fromisoformat, help="last date, YYYY-MM-DD")
    parser.add_argument("--days", type=int, help="instead of --start/--end: the N days before today")
    parser.add_argument("--events-per-day", type=int, default=400)
    parser.add_argument(
        "--if-empty", action="store_true", help="do nothing when landing/events/ already has files"
    )
    args = parser.parse_args(argv)
    if args.days is not None and args.days <= 0:
        print("--days 0: not seeding demo data")
        return 0
    if args.days:
        today = datetime.now(timezone.utc).date()
        start, end = today - timedelta(days=args.days), today - timedelta(days=1)
    elif args.start and args.end:
        start, end = args.start, args.end
    else:
        parser.error("give --days N, or both --start and --end")
    if start > end:
        parser.error(f"--start {start} is after --end {end}")

    store = _store_from_environment()
    store.ensure_bucket()
    if args.if_empty and next(store.list(LANDING_PREFIX), None) is not None:
        print(f"s3://{store.bucket}/{LANDING_PREFIX}/ already has files; not seeding")
        return 0
    keys = write_demo_landing(store, start, end, args.events_per_day)
    print(f"wrote {len(keys)} demo landing files for {start}..{end} to s3://{store.bucket}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
