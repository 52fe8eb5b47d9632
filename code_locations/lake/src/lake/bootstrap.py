"""Create the object store's buckets: ``python -m lake.bootstrap`` (idempotent).

Reads LAKE_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, and the bucket
names LAKE_BUCKET and DAGSTER_COMPUTE_LOGS_BUCKET.
"""

import os
import sys

from lake.store import ObjectStore


def main() -> int:
    required = ["LAKE_S3_ENDPOINT_URL", "LAKE_BUCKET", "DAGSTER_COMPUTE_LOGS_BUCKET"]
    missing = [name for name in required if not os.environ.get(name)]
    if missing:
        print(f"lake.bootstrap: set {', '.join(missing)} (see deploy/.env.example)", file=sys.stderr)
        return 2
    for bucket in (os.environ["LAKE_BUCKET"], os.environ["DAGSTER_COMPUTE_LOGS_BUCKET"]):
        ObjectStore.for_command_line(bucket).ensure_bucket()
        print(f"bucket {bucket} ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
