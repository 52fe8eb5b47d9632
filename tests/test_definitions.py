"""The three locations as the workspace sees them: they load, they fit together, keys stay put."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

LOCATIONS = ("ingest", "transforms", "reporting")

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_keys.json"


def materializable(defs: dg.Definitions) -> dict[dg.AssetKey, dg.AssetsDefinition]:
    graph = defs.resolve_asset_graph()
    return {node.key: node for node in graph.asset_nodes if node.is_materializable}


def test_every_location_loads_without_environment(location_defs, monkeypatch):
    for name in ("LAKE_S3_ENDPOINT_URL", "LAKE_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, defs in location_defs.items():
        graph = defs.resolve_asset_graph()
        assert materializable(defs), f"{name} defines no assets"
        expected = {"object_store", "io_manager"} | ({"duckdb"} if name == "reporting" else set())
        assert set(defs.resources) == expected, name
        assert graph.asset_check_keys, f"{name} has no asset checks"


def test_every_job_runs_its_steps_in_the_run_process(location_defs):
    """A process per step re-imports the location for every step; see lake.env.RUN_EXECUTOR."""
    for name, defs in location_defs.items():
        jobs = [defs.resolve_implicit_global_asset_job_def(), *(defs.resolve_job_def(j.name) for j in defs.jobs or [])]
        for job in jobs:
            assert job.executor_def.name == "in_process", f"{name}: {job.name} uses {job.executor_def.name}"


def test_every_dependency_is_defined_by_exactly_one_location(location_defs):
    owners: dict[dg.AssetKey, str] = {}
    for name, defs in location_defs.items():
        for key in materializable(defs):
            assert key not in owners, f"{key.to_user_string()} defined by {owners.get(key)} and {name}"
            owners[key] = name
    for name, defs in location_defs.items():
        graph = defs.resolve_asset_graph()
        for node in graph.asset_nodes:
            for parent in node.parent_keys:
                assert parent in owners, (
                    f"{name}: {node.key.to_user_string()} depends on {parent.to_user_string()},"
                    " which no location defines"
                )
            if not node.is_materializable:
                owner = location_defs[owners[node.key]].resolve_asset_graph().get(node.key)
                assert node.partitions_def == owner.partitions_def, (
                    f"{name} declares {node.key.to_user_string()} with other partitions than {owners[node.key]}"
                )


def test_a_dependency_on_an_undefined_key_is_caught(location_defs):
    ghost = dg.AssetKey(["raw", "ghost"])

    @dg.asset(deps=[ghost])
    def orphan() -> None: ...

    defs = dg.Definitions(assets=[orphan])
    known = {k for d in location_defs.values() for k in materializable(d)}
    missing = [p for n in defs.resolve_asset_graph().asset_nodes for p in n.parent_keys if p not in known]
    assert missing == [ghost]


def test_asset_keys_per_location_match_the_snapshot(location_defs):
    current = {
        name: sorted(key.to_user_string() for key in materializable(defs))
        for name, defs in location_defs.items()
    }
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "Asset keys changed. If intended, rerun with UPDATE_SNAPSHOTS=1 and commit the snapshot."
    )


@pytest.mark.parametrize("location", LOCATIONS)
def test_no_location_imports_another(location):
    others = set(LOCATIONS) - {location}
    for path in (ROOT / "code_locations" / location / "src").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            for name in names:
                assert name.split(".")[0] not in others, f"{path} imports {name}"


def test_the_shared_library_imports_no_location():
    for path in (ROOT / "code_locations" / "lake" / "src").rglob("*.py"):
        source = path.read_text()
        for location in LOCATIONS:
            assert f"import {location}" not in source and f"from {location}" not in source, path


def test_definitions_modules_stay_a_few_lines():
    for location in LOCATIONS:
        lines = (ROOT / "code_locations" / location / "src" / location / "definitions.py").read_text()
        assert len(lines.strip().splitlines()) <= 10


@pytest.mark.parametrize("location", ["ingest", "transforms"])
def test_a_location_without_duckdb_loads_and_never_imports_it(location):
    """Each image installs only what its location imports: DuckDB is reporting's alone."""
    probe = (
        f"import sys; import {location}.definitions as d; d.defs().get_repository_def();"
        " print(sorted(m for m in ('duckdb', 'dagster_duckdb', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_runs_that_load_landing_files_run_one_at_a_time():
    """raw_events' checks are not partitioned: two of its runs at once can leave stale checks that
    hold back automation (ingest/defs/automation.py). The instance, compose and Kubernetes alike,
    limits the job's tag to one run."""
    import yaml

    from ingest.defs.automation import ONE_AT_A_TIME, raw_events_job

    assert ONE_AT_A_TIME.items() <= raw_events_job.tags.items()
    [(key, value)] = ONE_AT_A_TIME.items()
    compose = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_coordinator"]["config"]["tag_concurrency_limits"]
    helm = yaml.safe_load((ROOT / "deploy/kubernetes/values.yaml").read_text())
    helm_limits = helm["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]["config"]["tag_concurrency_limits"]
    for limits in (compose, helm_limits):
        assert {"key": key, "value": value, "limit": 1} in limits


def test_automation_emits_backfills_only_where_a_backfill_policy_groups_partitions(location_defs):
    """Each automated asset has one automation sensor. A backfill waits for the backfill daemon's
    next iteration (up to 5 s here, 30 s in Dagster's own daemon) and pays that only to group
    partitions into runs by a backfill policy; assets without one take a run per partition either
    way (lake.automation)."""
    for name, defs in location_defs.items():
        graph = defs.resolve_asset_graph()
        automated = {n.key for n in graph.asset_nodes if n.is_materializable and n.automation_condition}
        sensors = [s for s in defs.sensors or [] if isinstance(s, dg.AutomationConditionSensorDefinition)]
        targeted: dict[dg.AssetKey, str] = {}
        for sensor in sensors:
            keys = sensor.asset_selection.resolve(graph) & automated
            assert keys, f"{name}: {sensor.name} targets no automated asset"
            for key in keys:
                assert key not in targeted, f"{key.to_user_string()}: {targeted[key]} and {sensor.name}"
                targeted[key] = sensor.name
            grouped = {graph.get(key).backfill_policy is not None for key in keys}
            assert grouped == {sensor.emit_backfills}, f"{name}: {sensor.name} mixes or mismatches {grouped}"
        assert set(targeted) == automated, name
