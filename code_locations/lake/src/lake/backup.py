"""Every object of the platform's buckets as one tar stream, and back: ``python -m lake.backup``.

    python -m lake.backup export > objects.tar    # LAKE_BUCKET and DAGSTER_COMPUTE_LOGS_BUCKET
    python -m lake.backup import < objects.tar    # creates missing buckets, overwrites keys

Members are named ``<bucket>/<key>``, after a directory member ``<bucket>/`` that names each
bucket (so an empty bucket is in the archive too). Objects are read and written through the S3 API, so this
works against MinIO and AWS S3 alike; deploy/ops.py runs it in a one-off container of the stack.
Objects are exported oldest first and imported in that order. Import leaves objects that are not
in the archive where they are.
"""

import io
import os
import sys
import tarfile
from collections.abc import Iterable
from typing import BinaryIO

from lake.store import ObjectStore

BUCKET_VARIABLES = ("LAKE_BUCKET", "DAGSTER_COMPUTE_LOGS_BUCKET")


def export(stores: Iterable[ObjectStore], fileobj: BinaryIO) -> dict[str, tuple[int, int]]:
    """Write every object of each store's bucket to fileobj as a tar stream.

    Returns {bucket: (objects, bytes)}. The platform keeps running meanwhile: an object deleted
    between listing and reading (a landing file moved to quarantine) is left out.
    """
    counts = {}
    with tarfile.open(fileobj=fileobj, mode="w|") as tar:
        for store in stores:
            bucket = tarfile.TarInfo(f"{store.bucket}/")
            bucket.type, bucket.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(bucket)
            objects, size = 0, 0
            # Oldest first: import writes in this order, and restored objects get new modification
            # times, so their order is what is left of the original arrival order (raw_events
            # loads a day's files in that order).
            for obj in sorted(store.list(""), key=lambda o: (o.last_modified, o.key)):
                try:
                    data = store.read_bytes(obj.key)
                except FileNotFoundError:
                    print(f"{store.bucket}/{obj.key}: deleted while exporting, left out", file=sys.stderr)
                    continue
                member = tarfile.TarInfo(f"{store.bucket}/{obj.key}")
                member.size, member.mtime = len(data), obj.last_modified.timestamp()
                tar.addfile(member, io.BytesIO(data))
                objects, size = objects + 1, size + len(data)
            counts[store.bucket] = (objects, size)
    return counts


def import_(stores: Iterable[ObjectStore], fileobj: BinaryIO) -> dict[str, tuple[int, int]]:
    """Write every member of a tar stream from ``export`` back to its bucket, one PUT per object
    (below 100 MiB; s3fs splits larger ones), creating the buckets first.

    Returns {bucket: (objects, bytes)}. A member of a bucket none of the stores has is refused.
    """
    by_bucket = {store.bucket: store for store in stores}
    for store in by_bucket.values():
        store.ensure_bucket()
    counts = {bucket: (0, 0) for bucket in by_bucket}
    with tarfile.open(fileobj=fileobj, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            bucket, _, key = member.name.partition("/")
            if bucket not in by_bucket:
                raise ValueError(f"{member.name}: bucket {bucket!r} is not one of {sorted(by_bucket)}")
            data = tar.extractfile(member).read()
            by_bucket[bucket].write_bytes(key, data)
            objects, size = counts[bucket]
            counts[bucket] = (objects + 1, size + len(data))
    return counts


def main(argv: list[str]) -> int:
    if argv not in (["export"], ["import"]):
        print("usage: python -m lake.backup export|import  (tar on stdout|stdin)", file=sys.stderr)
        return 2
    missing = [name for name in ("LAKE_S3_ENDPOINT_URL", *BUCKET_VARIABLES) if not os.environ.get(name)]
    if missing:
        print(f"lake.backup: set {', '.join(missing)} (see deploy/.env.example)", file=sys.stderr)
        return 2
    stores = [ObjectStore.for_command_line(os.environ[name]) for name in BUCKET_VARIABLES]
    if argv == ["export"]:
        counts = export(stores, sys.stdout.buffer)
        verb = "exported"
    else:
        counts = import_(stores, sys.stdin.buffer)
        verb = "imported"
    # stdout carries the tar on export: the summary always goes to stderr.
    for bucket, (objects, size) in counts.items():
        print(f"{verb} {objects} objects ({size} bytes) of bucket {bucket}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
