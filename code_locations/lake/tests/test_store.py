import pytest

from lake.testing import Requests


def test_read_many_fetches_objects_together_by_key(object_store):
    keys = [f"marts/thing/date=2024-01-0{day}/data.parquet" for day in range(1, 6)]
    for key in keys:
        object_store.write_bytes(key, key.encode())
    requests = Requests(object_store)
    assert object_store.read_many(keys) == {key: key.encode() for key in keys}
    assert sorted(requests.names) == ["GetObject"] * 5 + ["HeadObject"] * 5
    assert requests.most_in_flight > 1
    assert object_store.read_many([]) == {}


def test_read_many_names_a_missing_key(object_store):
    object_store.write_bytes("a/here", b"x")
    with pytest.raises(FileNotFoundError, match="a/missing"):
        object_store.read_many(["a/here", "a/missing"])
