"""The baseline of P2: the daily chain as one plain polars process, no Dagster.

It does what raw_events -> processed_events -> daily_summary do for a range of days, on the same
endpoint: list and read each day's landing files, validate them with the same contract
(ingest.landing is plain polars), write raw per arrival day, then processed and the summary per
event day (from the arrival days that can hold it), one parquet object each, under its own
prefix. What it leaves out is what the platform adds: runs, containers, the
event log, checks recorded in Postgres.

    python bench/plain_polars.py --start 2024-09-01 --days 14 --prefix bench-plain
"""

import argparse
import io
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import s3fs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code_locations" / "ingest" / "src"))
sys.path.insert(0, str(ROOT / "code_locations" / "lake" / "src"))
from ingest.landing import LandingFileError, validate_landing_file  # noqa: E402
from lake.partitions import LATE_ARRIVAL_DAYS  # noqa: E402


def storage(endpoint: str) -> tuple[s3fs.S3FileSystem, dict]:
    key = os.environ.get("AWS_ACCESS_KEY_ID", "minioadmin")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "minioadmin")
    fs = s3fs.S3FileSystem(
        key=key, secret=secret, endpoint_url=endpoint, use_listings_cache=False,
        config_kwargs={"s3": {"addressing_style": "path"}},
    )
    options = {
        "aws_endpoint_url": endpoint, "aws_access_key_id": key, "aws_secret_access_key": secret,
        "aws_region": os.environ.get("AWS_REGION", "us-east-1"), "aws_allow_http": "true",
    }
    return fs, options


def raw_day(fs: s3fs.S3FileSystem, bucket: str, day: str) -> pl.DataFrame | None:
    """One arrival day: its landing files in arrival order, each validated whole."""
    found = fs.find(f"{bucket}/landing/events/{day}", detail=True)
    frames, claimed = [], {}
    for path, info in sorted(found.items(), key=lambda item: (item[1]["LastModified"], item[0])):
        key = path.removeprefix(f"{bucket}/")
        try:
            events = validate_landing_file(key, fs.cat_file(path), claimed_ids=claimed)
        except LandingFileError:
            continue
        claimed.update(dict.fromkeys(events.get_column("id").to_list(), key))
        frames.append(events.with_columns(source_file=pl.lit(key), date=pl.lit(day).str.to_date()))
    return pl.concat(frames) if frames else None


def process(arrivals: list[pl.DataFrame], day: str) -> pl.DataFrame:
    """Event day ``day`` from its arrival days (in order): the earliest arrival of an id wins."""
    return (
        pl.concat(arrivals)
        .filter(pl.col("id").is_first_distinct())
        .filter(pl.col("timestamp").dt.date() == date.fromisoformat(day))
        .filter(pl.col("status") == "active")
        .with_columns(pl.col("value").fill_null(0.0), date=pl.col("timestamp").dt.date())
        .select("id", "user_id", "status", "timestamp", "value", "date")
    )


def summarize(processed: pl.DataFrame, day: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [date.fromisoformat(day)],
            "total_value": [float(processed["value"].sum())],
            "event_count": [processed.height],
        },
        schema={"date": pl.Date, "total_value": pl.Float64, "event_count": pl.UInt32},
    )


def run(endpoint: str, bucket: str, prefix: str, first: date, count: int) -> None:
    fs, options = storage(endpoint)
    days = [(first + timedelta(days=i)).isoformat() for i in range(count + LATE_ARRIVAL_DAYS)]
    loaded = []
    for day in days:  # raw: every arrival day, including those that can hold the last day's late events
        raw = raw_day(fs, bucket, day)
        if raw is not None:
            raw.write_parquet(f"s3://{bucket}/{prefix}/raw/date={day}/data.parquet", storage_options=options)
            loaded.append(day)
    for i, day in enumerate(days[:count]):
        arrivals = [
            pl.read_parquet(f"s3://{bucket}/{prefix}/raw/date={d}/data.parquet", storage_options=options)
            for d in days[i : i + LATE_ARRIVAL_DAYS + 1]
            if d in loaded
        ]
        processed = process(arrivals, day)
        processed.write_parquet(
            f"s3://{bucket}/{prefix}/processed/date={day}/data.parquet", storage_options=options
        )
        summary = summarize(
            pl.read_parquet(
                f"s3://{bucket}/{prefix}/processed/date={day}/data.parquet", storage_options=options
            ),
            day,
        )
        summary.write_parquet(
            f"s3://{bucket}/{prefix}/daily_summary/date={day}/data.parquet", storage_options=options
        )


def read_summary(endpoint: str, bucket: str, prefix: str, day: str) -> pl.DataFrame:
    fs, _ = storage(endpoint)
    return pl.read_parquet(io.BytesIO(fs.cat_file(f"{bucket}/{prefix}/daily_summary/date={day}/data.parquet")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:9000")
    parser.add_argument("--bucket", default="lake")
    parser.add_argument("--prefix", default="bench-plain")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--days", type=int, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    run(args.endpoint, args.bucket, args.prefix, args.start, args.days)
    print(f"{args.days} days in {time.perf_counter() - started:.2f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
