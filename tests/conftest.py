import importlib

import dagster as dg
import pytest

LOCATIONS = ("ingest", "transforms", "reporting")


def load_location(name: str) -> dg.Definitions:
    return importlib.import_module(f"{name}.definitions").defs()


@pytest.fixture(scope="session")
def location_defs() -> dict[str, dg.Definitions]:
    return {name: load_location(name) for name in LOCATIONS}
