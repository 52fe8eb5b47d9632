"""The object store rides out a storage outage by itself, and says so while it waits."""

import logging
import threading
import time

import pytest
from moto.server import ThreadedMotoServer

from lake.store import ObjectStore
from lake.testing import ACCESS_KEY, SECRET_KEY, free_port


@pytest.fixture
def own_server():
    """A server of this test's own, which the test stops and starts again (moto keeps the data
    in the process, so it survives the restart as MinIO's disk would)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield server, f"http://127.0.0.1:{port}"
    server.stop()


def store_at(endpoint: str, secret: str = SECRET_KEY) -> ObjectStore:
    return ObjectStore(endpoint_url=endpoint, bucket="outage", access_key_id=ACCESS_KEY, secret_access_key=secret)


def test_a_write_during_an_outage_waits_for_the_store_and_logs_endpoint_and_cause(own_server, caplog):
    server, endpoint = own_server
    store = store_at(endpoint)
    store.ensure_bucket()
    store.write_bytes("before.txt", b"before")
    server.stop()
    threading.Timer(20, server.start).start()  # longer than botocore's default retries last

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="lake.store"):
        store.write_bytes("during.txt", b"during")  # refused until the server is back

    assert time.monotonic() - started >= 19
    assert store.read_bytes("during.txt") == b"during"
    assert store.read_bytes("before.txt") == b"before"
    warnings = [r.getMessage() for r in caplog.records if r.name == "lake.store"]
    assert warnings, "no warning while the store was down"
    assert all(f"object store {endpoint} unavailable" in w for w in warnings)
    assert any("Could not connect to the endpoint URL" in w for w in warnings)


def test_answers_no_retry_can_change_fail_at_once_without_retry_warnings(own_server, caplog):
    _, endpoint = own_server
    store = store_at(endpoint)
    store.ensure_bucket()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="lake.store"):
        with pytest.raises(FileNotFoundError):
            store.read_bytes("missing.txt")  # 404
    assert time.monotonic() - started < 5
    assert not [r for r in caplog.records if r.name == "lake.store"]
