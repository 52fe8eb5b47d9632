"""Environment handling: the variables every location reads, and its resources built from them.

Nothing is read here at import or at definitions load: ``EnvVar`` values resolve when a run, sensor
or schedule first uses a resource, so a code server starts without secrets in its image.
"""

import dagster as dg

from lake.io import LakeParquetIOManager
from lake.store import ObjectStore

# Variable -> what it is. deploy/.env.example documents the same list for operators.
LAKE_ENV = {
    "LAKE_S3_ENDPOINT_URL": "S3 API endpoint of the object store, e.g. http://minio:9000",
    "LAKE_BUCKET": "bucket holding landing files, the lake and reports",
    "AWS_ACCESS_KEY_ID": "object store access key",
    "AWS_SECRET_ACCESS_KEY": "object store secret key",
    "AWS_REGION": "region sent with S3 requests (MinIO accepts any)",
}


# How every location's runs execute their steps: one after another in the run's own process (each
# run already has its own container). Dagster's default starts a process per step, and each of
# those imports the location again: 4-6 s a step on 2 cores, most of a one-partition run. A run
# here is one partition range of one or two assets whose steps depend on each other, so nothing
# ran in parallel anyway. Run retries (dagster.yaml) still retry a run whose worker dies.
RUN_EXECUTOR = dg.in_process_executor


def object_store_from_env() -> ObjectStore:
    return ObjectStore(
        endpoint_url=dg.EnvVar("LAKE_S3_ENDPOINT_URL"),
        bucket=dg.EnvVar("LAKE_BUCKET"),
        access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
        secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
        region=dg.EnvVar("AWS_REGION"),
    )


def lake_resources(object_store: ObjectStore | None = None) -> dict:
    """The same resource keys in every location: object_store and io_manager (reporting adds
    duckdb, see reporting.duck).

    Tests pass an ObjectStore pointing at their own S3 server; production reads the environment.
    """
    store = object_store or object_store_from_env()
    return {
        "object_store": store,
        "io_manager": LakeParquetIOManager(object_store=store),
    }
