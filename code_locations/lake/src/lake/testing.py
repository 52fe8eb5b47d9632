"""Pytest fixtures for every location's tests: a real S3 API (moto's server) on loopback.

The code under test uses the same classes as production; only the endpoint differs. Loaded as a
pytest plugin by the repository's root conftest.py.
"""

import socket
import uuid
from collections.abc import Iterator

import dagster as dg
import pytest

from lake.store import ObjectStore

ACCESS_KEY, SECRET_KEY = "lake-test", "lake-test-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def object_store(s3_endpoint: str) -> ObjectStore:
    """A fresh, empty bucket for each test."""
    store = ObjectStore(
        endpoint_url=s3_endpoint,
        bucket=f"lake-{uuid.uuid4().hex[:12]}",
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )
    store.ensure_bucket()
    return store


@pytest.fixture
def lake_env(object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> ObjectStore:
    """Point the environment that production definitions read at the test bucket."""
    for name, value in {
        "LAKE_S3_ENDPOINT_URL": object_store.endpoint_url,
        "LAKE_BUCKET": object_store.bucket,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return object_store


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(overrides={"telemetry": {"enabled": False}}) as inst:
        yield inst


def requested(result: dg.EvaluateAutomationConditionsResult) -> dict:
    """What an automation evaluation requests: each asset's partitions, or True for an unpartitioned one."""
    return {
        r.key: sorted(r.true_subset.expensively_compute_partition_keys()) if r.true_subset.is_partitioned else True
        for r in result.results
        if r.true_subset.size
    }


class Requests:
    """The S3 requests the store's one client makes (every copy of the resource uses it:
    ObjectStore.filesystem), and the most of them in flight at once."""

    def __init__(self, object_store: ObjectStore):
        self.names, self.in_flight, self.most_in_flight = [], 0, 0
        events = object_store.filesystem().connect().meta.events
        events.register("before-call.s3", self._before)
        events.register("after-call.s3", self._after)

    def _before(self, model, **_):
        self.names.append(model.name)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _after(self, **_):
        self.in_flight -= 1
