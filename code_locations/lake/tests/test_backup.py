"""lake.backup: every object of both buckets survives export and import byte for byte."""

import io
import sys
import tarfile
import time
import uuid

import pytest

from lake.backup import export, import_, main
from lake.store import ObjectStore
from lake.testing import ACCESS_KEY, SECRET_KEY

OBJECTS = {
    "landing/events/2024-05-01/orders.csv": b"id,status\n1,active\n",
    "lake/staging/processed_events/date=2024-05-01/data.parquet": bytes(range(256)) * 400,
    "quarantine/events/2024-05-02/abc123/bad.csv": b"",
    "top-level.txt": "gr\u00fc\u00dfe".encode(),
}
LOG = {"storage/abcdef/compute_logs/step.out": b"log line\n"}


def new_buckets(endpoint: str) -> list[ObjectStore]:
    """A lake bucket, a compute-log bucket and an empty one, each with a fresh name."""
    suffix = uuid.uuid4().hex[:8]
    return [
        ObjectStore(endpoint_url=endpoint, bucket=f"{name}-{suffix}", access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
        for name in ("lake", "logs", "empty")
    ]


def contents(store: ObjectStore) -> dict[str, bytes]:
    return {obj.key: store.read_bytes(obj.key) for obj in store.list("")}


def etags(store: ObjectStore) -> dict[str, str]:
    return {obj.key: obj.etag for obj in store.list("")}


@pytest.fixture
def source(s3_endpoint: str) -> list[ObjectStore]:
    stores = new_buckets(s3_endpoint)
    for store, objects in zip(stores, (OBJECTS, LOG, {})):
        store.ensure_bucket()
        for key, data in objects.items():
            store.write_bytes(key, data)
    return stores


def test_round_trip_restores_every_object_byte_identical_into_missing_buckets(source):
    archive = io.BytesIO()
    exported = export(source, archive)
    assert exported == {
        source[0].bucket: (4, sum(map(len, OBJECTS.values()))),
        source[1].bucket: (1, len(LOG["storage/abcdef/compute_logs/step.out"])),
        source[2].bucket: (0, 0),
    }
    names = tarfile.open(fileobj=io.BytesIO(archive.getvalue())).getnames()
    assert f"{source[0].bucket}/landing/events/2024-05-01/orders.csv" in names
    assert source[2].bucket in names  # the empty bucket, as a directory member

    etags_before = [etags(store) for store in source]
    for store in source:  # a fresh stack: no buckets at all; import creates them
        store.filesystem().rm(store.bucket, recursive=True)
        assert not store.filesystem().exists(store.bucket)
    archive.seek(0)
    assert import_(source, archive) == exported
    assert contents(source[0]) == OBJECTS
    assert contents(source[1]) == LOG
    assert contents(source[2]) == {}
    # Same bytes in one PUT, same etag: the landing sensor's run keys (key@etag) are unchanged.
    assert [etags(store) for store in source] == etags_before


def test_import_overwrites_existing_keys_and_keeps_others(source):
    archive = io.BytesIO()
    export(source, archive)
    lake = source[0]
    lake.write_bytes("top-level.txt", b"changed after the backup")
    lake.write_bytes("new-after-backup.txt", b"kept")
    archive.seek(0)
    import_(source, archive)
    assert contents(lake) == {**OBJECTS, "new-after-backup.txt": b"kept"}


def test_import_refuses_a_bucket_the_stack_does_not_have(source):
    archive = io.BytesIO()
    export(source[:1], archive)
    archive.seek(0)
    with pytest.raises(ValueError, match=source[0].bucket):
        import_(source[1:], archive)


def test_command_line_exports_and_imports_the_buckets_named_in_the_environment(source, monkeypatch, capsys):
    lake, logs, _ = source
    for name, value in {"LAKE_S3_ENDPOINT_URL": lake.endpoint_url, "LAKE_BUCKET": lake.bucket,
                        "DAGSTER_COMPUTE_LOGS_BUCKET": logs.bucket, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                        "AWS_SECRET_ACCESS_KEY": SECRET_KEY}.items():
        monkeypatch.setenv(name, value)
    stdout = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["export"]) == 0
    archive = stdout.buffer.getvalue()
    assert "exported 4 objects" in capsys.readouterr().err

    lake.write_bytes("top-level.txt", b"changed")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(archive)))
    assert main(["import"]) == 0
    assert contents(lake) == OBJECTS
    assert f"imported 1 objects (9 bytes) of bucket {logs.bucket}" in capsys.readouterr().err
    assert main(["export", "--all"]) == 2


def test_objects_are_exported_oldest_first(s3_endpoint):
    [store] = new_buckets(s3_endpoint)[:1]
    store.ensure_bucket()
    store.write_bytes("landing/events/2024-05-01/b.csv", b"arrived first")
    time.sleep(1.1)  # moto's timestamps have whole seconds
    store.write_bytes("landing/events/2024-05-01/a.csv", b"arrived second")
    archive = io.BytesIO()
    export([store], archive)
    names = tarfile.open(fileobj=io.BytesIO(archive.getvalue())).getnames()
    assert names == [store.bucket, f"{store.bucket}/landing/events/2024-05-01/b.csv",
                     f"{store.bucket}/landing/events/2024-05-01/a.csv"]
