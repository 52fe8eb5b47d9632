"""Landing data for the benchmark: N days of M events, generated with numpy (a year of 100,000 a
day is 36.5M rows; a Python loop per row would take longer than the platform's backfill).

The files follow the seed's contract and look like what a producer drops: parquet with ISO-8601
"Z" timestamp strings, every event on its folder's UTC day.
"""

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import numpy as np
import polars as pl

STATUSES = np.array(["active", "inactive", "pending"])


def events(day: date, count: int) -> pl.DataFrame:
    rng = np.random.default_rng(day.toordinal())
    midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    seconds = np.sort(rng.integers(0, 86_400, count))
    values = np.round(rng.lognormal(3.0, 0.8, count), 2)
    return pl.DataFrame(
        {
            "id": [f"bench-{day:%Y%m%d}-{i:07d}" for i in range(count)],
            "user_id": rng.integers(1, 5_000, count),
            "status": STATUSES[rng.choice(3, count, p=[0.75, 0.15, 0.10])],
            "timestamp": pl.Series(seconds * 1_000_000 + int(midnight.timestamp()) * 1_000_000)
            .cast(pl.Datetime("us", "UTC"))
            .dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "value": pl.Series(values).set(pl.Series(rng.random(count) < 0.03), None),
        }
    )


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


def put_many(store, items: list[tuple[str, bytes]], workers: int = 8) -> None:
    """Write many small objects concurrently (one PUT each) through one client."""
    fs = store.filesystem()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda item: fs.pipe_file(store.path(item[0]), item[1]), items))


def land_days(store, first: date, count: int, events_per_day: int, name: str = "bench") -> list[str]:
    fs = store.filesystem()

    def one(day: date) -> str:
        key = f"landing/events/{day.isoformat()}/{name}-{day.isoformat()}.parquet"
        fs.pipe_file(store.path(key), parquet_bytes(events(day, events_per_day)))
        return key

    with ThreadPoolExecutor(4) as pool:
        keys = list(pool.map(one, days(first, count)))
    return keys
