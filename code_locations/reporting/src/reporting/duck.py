"""DuckDB over the lake: the objects a query reads are fetched together into a scratch folder in
memory, and DuckDB reads them with its own parquet reader. No httpfs extension to download.

Through s3fs registered as a DuckDB filesystem, DuckDB fetched a table's objects one request at a
time: a year of daily_summary objects took 20 s on the stand-in S3 server, 5 s fetched together.

Only reporting queries with DuckDB, so only its image carries it.
"""

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from dagster_duckdb import DuckDBResource

from lake.env import lake_resources
from lake.store import ObjectStore


def reporting_resources(object_store: ObjectStore | None = None) -> dict:
    """The lake's resources plus an in-memory DuckDB: it reads local copies of the lake's objects
    and keeps nothing on local disk."""
    return {**lake_resources(object_store), "duckdb": DuckDBResource(database=":memory:")}


def partition_objects(store: ObjectStore, layer: str, asset: str) -> list[str]:
    """The keys of an asset's partition objects (<layer>/<asset>/<partition>/data.parquet), in
    key order: partition order."""
    return [
        o.key
        for o in store.list(f"{layer}/{asset}")
        if o.key.count("/") == 3 and o.key.endswith("/data.parquet")
    ]


def local_parquet(store: ObjectStore, keys: Sequence[str], folder: str) -> str:
    """read_parquet's list of files: the objects at ``keys`` fetched together and written under
    ``folder`` at their keys, in the same order. For the summaries reporting reads, a few KB each."""
    files = []
    for key, data in store.read_many(keys).items():
        path = Path(folder, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files.append("'" + str(path).replace("'", "''") + "'")
    return "[" + ", ".join(files) + "]"


@contextmanager
def scratch_dir() -> Iterator[str]:
    """A directory for files that exist only until they are published or read.

    On Linux it lives in /dev/shm, which is memory, so reporting writes nothing to a container's
    disk; elsewhere it falls back to the system temp directory.
    """
    root = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="lake-", dir=root) as path:
        yield path
