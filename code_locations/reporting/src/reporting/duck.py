"""DuckDB over the lake, through s3fs: no httpfs extension to download.

Only reporting queries with DuckDB, so only its image carries it.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster_duckdb import DuckDBResource

from lake.env import lake_resources
from lake.store import ObjectStore


def reporting_resources(object_store: ObjectStore | None = None) -> dict:
    """The lake's resources plus an in-memory DuckDB: it reads the lake through s3fs and keeps
    nothing on local disk."""
    return {**lake_resources(object_store), "duckdb": DuckDBResource(database=":memory:")}


@contextmanager
def lake_connection(
    database: DuckDBResource, store: ObjectStore
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection that reads s3:// URLs in the lake bucket through s3fs."""
    with database.get_connection() as conn:
        conn.register_filesystem(store.filesystem())
        yield conn


def parquet_glob(store: ObjectStore, *parts: str) -> str:
    """``read_parquet`` argument for every partition object of an asset, e.g. marts/daily_summary."""
    return store.uri(*parts, "*", "data.parquet")


@contextmanager
def scratch_dir() -> Iterator[str]:
    """A directory for files that exist only until they are published to the object store.

    On Linux it lives in /dev/shm, which is memory, so reporting writes nothing to a container's
    disk; elsewhere it falls back to the system temp directory.
    """
    import os
    import tempfile

    root = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="lake-", dir=root) as path:
        yield path
